import FlatVecClient
import FlatVecCore
import FlatVecFormats
import Foundation
import FlatVecTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.timeLimit(.minutes(5))) struct AddCommandTests {
    @Test func aRefusedFirstBatchSaysNothingWasAdded() async throws {
        let directory = TestDirectory.path("flatvec-add")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "admin-token\n".write(toFile: directory + "/admin", atomically: true, encoding: .utf8)
        try "reader-token\n".write(toFile: directory + "/reader", atomically: true, encoding: .utf8)
        let port = CrashRecoveryTests.freePort()
        let server = try CrashRecoveryTests.startServer(
            storeArguments: ["--admin-token-file", directory + "/admin", "--reader-token-file", directory + "/reader"], port: port
        )
        defer {
            kill(server.processIdentifier, SIGTERM)
            server.waitUntilExit()
        }
        var admin: FlatVecClient?
        for _ in 0..<100 where admin == nil {
            admin = try? await FlatVecClient.connect(host: "127.0.0.1", port: port, token: "admin-token")
            if admin == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        try await admin!.createCollection("a", dimension: 4)
        try NPYFile.write(Matrix(rows: 20, columns: 4, values: (0..<80).map { Float($0) }), to: directory + "/v.npy")
        let run = try runFlatVec([
            "add", "--server", "127.0.0.1:\(port)", "--token-file", directory + "/reader", "--collection", "a", "--vectors", directory + "/v.npy",
        ])
        #expect(run.status == 1)
        #expect(run.stderr.contains("forbidden") && run.stderr.contains("nothing was added"), "\(run.stderr)")
        #expect(!run.stderr.contains("were added"), "\(run.stderr)")
        #expect(try await admin!.listCollections().first?.count == 0)
        await admin!.close()
    }
}

@Suite struct LayerTests {
    @Test func aProgramThatUsesOnlyTheClientLinksNoBLAS() throws {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [directory, directory.deletingLastPathComponent()].map { $0.appendingPathComponent("flatvec-client-example").path }
        let binary = try #require(candidates.first { FileManager.default.fileExists(atPath: $0) })
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        process.arguments = [binary]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let libraries = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(libraries.contains("libc.so"), "ldd printed nothing useful: \(libraries)")
        #expect(!libraries.contains("blas"), "the client pulls in BLAS:\n\(libraries)")
        #expect(!libraries.contains("libpq"), "the client pulls in libpq:\n\(libraries)")
    }
}
