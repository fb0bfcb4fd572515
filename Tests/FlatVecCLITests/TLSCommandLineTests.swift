import FlatVecClient
import FlatVecCore
import FlatVecTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// TLS from the command line, through the real binary: `--tls*` flags and `FLATVEC_TLS*` variables,
/// a SIGHUP that reloads renewed certificates, and the start-up warning for tokens sent in clear text.
@Suite(.serialized, .timeLimit(.minutes(3))) struct TLSCommandLineTests {
    @Test func sighupReloadsCertificatesAndClientsUseFlagsOrEnvironment() async throws {
        let first = try TestCertificates()
        let second = try TestCertificates()
        let live = try TestCertificates()
        defer {
            first.remove()
            second.remove()
            live.remove()
        }
        for (from, to) in [(first.serverCertificateFile, live.serverCertificateFile), (first.serverKeyFile, live.serverKeyFile)] {
            try? FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        let server = try ServerProcess([
            "--sample-data", "none", "--tls-cert-file", live.serverCertificateFile, "--tls-key-file", live.serverKeyFile,
        ])
        let address = "127.0.0.1:\(server.port)"
        var up = false
        for _ in 0..<100 where !up {
            up = try runFlatVec(["list", "--server", address, "--tls-ca-file", first.caFile]).status == 0
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(up, "\(server.log)")
        let environment = ProcessInfo.processInfo.environment.merging(["FLATVEC_TLS": "1", "FLATVEC_TLS_CA_FILE": first.caFile]) { $1 }
        #expect(try runFlatVec(["list", "--server", address], environment: environment).status == 0)
        let plain = try runFlatVec(["list", "--server", address])
        #expect(plain.status == 1)
        let untrusted = try runFlatVec(["list", "--server", address, "--tls-ca-file", second.caFile])
        #expect(untrusted.status == 1 && untrusted.stderr.contains("TLS handshake"), "\(untrusted.stderr)")

        // Renewed certificates (another CA): SIGHUP, and new connections use them.
        for (from, to) in [(second.serverCertificateFile, live.serverCertificateFile), (second.serverKeyFile, live.serverKeyFile)] {
            try FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        server.signal(SIGHUP)
        var reloaded = false
        for _ in 0..<50 where !reloaded {
            try await Task.sleep(for: .milliseconds(100))
            reloaded = server.log.contains("reloaded the TLS certificate")
        }
        #expect(reloaded, "\(server.log)")
        #expect(try runFlatVec(["list", "--server", address, "--tls-ca-file", second.caFile]).status == 0)
        #expect(try runFlatVec(["list", "--server", address, "--tls-ca-file", first.caFile]).status == 1)
    }

    @Test func tokensWithoutTLSOffLoopbackAreWarnedAbout() async throws {
        let directory = TestDirectory.path("flatvec-tls-warn")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "admin-secret\n".write(toFile: directory + "/admin", atomically: true, encoding: .utf8)
        let server = try ServerProcess(["--sample-data", "none", "--host", "0.0.0.0", "--admin-token-file", directory + "/admin"])
        var warned = false
        for _ in 0..<100 where !warned {
            try await Task.sleep(for: .milliseconds(100))
            warned = server.log.contains("with tokens but without TLS")
        }
        #expect(warned, "\(server.log)")
        #expect(server.log.components(separatedBy: "without TLS").count == 2, "warned once")
    }
}
