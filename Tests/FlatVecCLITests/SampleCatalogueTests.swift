import FlatVecClient
import Foundation
import FlatVecTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.timeLimit(.minutes(5))) struct SampleCatalogueTests {
    @Test func serveFindsTheSampleFromAnyWorkingDirectory() async throws {
        let elsewhere = TestDirectory.path("flatvec-elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let port = CrashRecoveryTests.freePort()
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let process = Process()
        process.executableURL = [binary.appendingPathComponent("flatvec"), binary.deletingLastPathComponent().appendingPathComponent("flatvec")]
            .first { FileManager.default.fileExists(atPath: $0.path) }
        process.arguments = ["serve", "--port", "\(port)", "--log-level", "error"]
        process.currentDirectoryURL = URL(fileURLWithPath: elsewhere)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let client = try await CrashRecoveryTests.connect(port: port)
        let collections = try await client.listCollections()
        #expect(collections.map(\.name) == ["products"])
        #expect(collections.first?.count == 3_000)
        await client.close()
    }
}
