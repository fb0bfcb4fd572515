import FlatVecClient
import FlatVecModel
import FlatVecTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `/healthz` and `/readyz` of the real binary: while a data directory of 200,000 vectors loads,
/// `/readyz` is 503 (the protocol port not open yet), then 200.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ProbeTests {
    /// `GET path` on 127.0.0.1:port; nil if nothing listens.
    static func get(_ path: String, port: Int) -> (status: Int, body: String)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n"), text.split(separator: " ").count > 1, let status = Int(text.split(separator: " ")[1]) else {
            return nil
        }
        return (status, String(text[end.upperBound...]))
    }

    @Test func readyzWaitsForTheCollectionsToLoad() async throws {
        let directory = TestDirectory.path("flatvec-probes")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let metricsPort = CrashRecoveryTests.freePort()
        let arguments = ["--data", directory, "--metrics-port", "\(metricsPort)"]
        var server: ServerProcess? = try ServerProcess(arguments)
        let client = try await server!.connect()
        // 2,000,000 rows of log for the restart to replay (about 190 MiB): long enough for the probes
        // to see it load. Many small rows, because replay's cost is mostly per row.
        try await client.createCollection("big", dimension: 16)
        for start in stride(from: 0, to: 2_000_000, by: 50_000) {
            let ids = (start..<(start + 50_000)).map { Int64($0) }
            let vectors = [Float](repeating: Float(start / 50_000 + 1) / 64, count: 50_000 * 16)
            _ = try await client.add(collection: "big", batch: VectorBatch(dimension: 16, ids: ids, labels: ids, vectors: vectors))
        }
        await client.close()
        #expect(Self.get("/readyz", port: metricsPort)?.status == 200)
        // Killed, so the restart replays the log (a clean stop compacts it: the restart would be
        // ready before the first probe).
        server!.kill9()
        server = nil

        // Restart and watch the probes from the first moment.
        let restarted = try ServerProcess(arguments)
        var seen: [String] = []
        var ready = false
        let deadline = ContinuousClock.now + .seconds(60)
        while !ready && ContinuousClock.now < deadline {
            if let (status, body) = Self.get("/readyz", port: metricsPort) {
                if seen.last != "\(status) \(body)" { seen.append("\(status) \(body)") }
                ready = status == 200
            }
            if !ready { try await Task.sleep(for: .milliseconds(2)) }
        }
        #expect(ready, "\(seen) \(restarted.log)")
        #expect(seen.first?.hasPrefix("503 not ready: loading collections: from local directory") == true, "\(seen)")
        #expect(Self.get("/healthz", port: metricsPort).map { $0 == (200, "ok\n") } == true)
        let after = try await restarted.connect()
        #expect(try await after.listCollections().first?.count == 2_000_000)
        await after.close()
    }
}
