import FlatVecClient
import FlatVecModel
import FlatVecTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Token rotation on SIGHUP, through the real binary: several tokens per file overlap, a removed
/// token is refused after the reload while connections opened with it keep their role, and a file
/// that cannot be used is refused with a log line, the tokens in force staying.
@Suite(.serialized, .timeLimit(.minutes(3))) struct TokenRotationTests {
    static func connect(_ port: Int, token: String) async throws(FlatVecError) -> FlatVecClient {
        try await FlatVecClient.connect(host: "127.0.0.1", port: port, token: token)
    }

    static func refused(_ port: Int, token: String) async -> Bool {
        do {
            let client = try await connect(port, token: token)
            await client.close()
            return false
        } catch {
            return error.code == .unauthenticated
        }
    }

    /// Sends SIGHUP and waits for the server to log `line` one more time than before.
    static func reload(_ server: ServerProcess, until line: String) async throws {
        let before = server.log.components(separatedBy: line).count
        server.signal(SIGHUP)
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(100))
            if server.log.components(separatedBy: line).count > before { return }
        }
        Issue.record("no '\(line)' in the log after SIGHUP: \(server.log)")
    }

    @Test func sighupRotatesTokensAndKeepsOpenConnections() async throws {
        let directory = TestDirectory.path("flatvec-tokens")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let admin = directory + "/admin", reader = directory + "/reader"
        try "admin-old\n\nadmin-second  \n".write(toFile: admin, atomically: true, encoding: .utf8)
        try "reader-old\n".write(toFile: reader, atomically: true, encoding: .utf8)
        let server = try ServerProcess(["--sample-data", "none", "--admin-token-file", admin, "--reader-token-file", reader])
        var up = false
        for _ in 0..<100 where !up {
            up = (try? await Self.connect(server.port, token: "admin-old")) != nil
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(up, "\(server.log)")
        // Both tokens of the admin file work; a connection opened with the old one stays open.
        let second = try await Self.connect(server.port, token: "admin-second")
        let opened = try await Self.connect(server.port, token: "admin-old")
        try await opened.createCollection("kept", dimension: 2)
        let readerOld = try await Self.connect(server.port, token: "reader-old")

        // Rotate: the new tokens are in, the old ones out.
        try "admin-new\n".write(toFile: admin, atomically: true, encoding: .utf8)
        try "reader-new\n".write(toFile: reader, atomically: true, encoding: .utf8)
        try await Self.reload(server, until: "reloaded the token files")
        #expect(server.log.contains("1 admin and 1 reader tokens in force"), "\(server.log)")
        #expect(await Self.refused(server.port, token: "admin-old"))
        #expect(await Self.refused(server.port, token: "reader-old"))
        let fresh = try await Self.connect(server.port, token: "admin-new")
        try await fresh.createCollection("fresh", dimension: 2)
        let freshReader = try await Self.connect(server.port, token: "reader-new")
        #expect(try await freshReader.listCollections().count == 2)
        // Connections authenticated before keep their roles.
        try await opened.createCollection("still-admin", dimension: 2)
        #expect(try await readerOld.listCollections().count == 3)
        do {
            try await readerOld.createCollection("no", dimension: 2)
            Issue.record("a reader created a collection")
        } catch {
            #expect(error.code == .forbidden)
        }

        // A file that cannot be used (empty, or a token in both files) is refused; the tokens stay.
        try "\n".write(toFile: admin, atomically: true, encoding: .utf8)
        try await Self.reload(server, until: "SIGHUP: kept the tokens in force")
        #expect(server.log.contains("holds no token"), "\(server.log)")
        try "reader-new\n".write(toFile: admin, atomically: true, encoding: .utf8)
        try await Self.reload(server, until: "SIGHUP: kept the tokens in force")
        #expect(server.log.contains("both an admin and a reader token"), "\(server.log)")
        let stillNew = try await Self.connect(server.port, token: "admin-new")
        try await stillNew.dropCollection("fresh")
        for client in [second, opened, readerOld, fresh, freshReader, stillNew] { await client.close() }
    }
}
