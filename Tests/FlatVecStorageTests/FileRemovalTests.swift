@testable import FlatVecStorage
import Foundation
import Testing

@Suite struct FileRemovalTests {
    /// A file of `bytes` bytes, each its offset's low byte.
    private static func makeFile(_ path: String, bytes: Int) throws {
        try Data((0..<bytes).map { UInt8(truncatingIfNeeded: $0) }).write(to: URL(fileURLWithPath: path))
    }

    @Test func aFileOfManyStepsIsGone() throws {
        let directory = LocalDirectoryStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for bytes in [0, 100, FileRemoval.stepBytes, 2 * FileRemoval.stepBytes + 12_345] {
            let path = directory + "/wal.\(bytes).log"
            try Self.makeFile(path, bytes: bytes)
            #expect(FileRemoval.remove(path))
            #expect(!FileManager.default.fileExists(atPath: path), "a file of \(bytes) bytes")
        }
    }

    @Test func aMissingFileCountsAsGone() {
        let directory = LocalDirectoryStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(FileRemoval.remove(directory + "/wal.9.log"))
    }

    /// A hard link elsewhere (a user's own backup made with `cp -l`) keeps every byte: only the name goes.
    @Test func anotherHardLinkKeepsItsBytes() throws {
        let directory = LocalDirectoryStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/wal.3.log", other = directory + "/kept.log"
        let bytes = 3 * FileRemoval.stepBytes + 7
        try Self.makeFile(path, bytes: bytes)
        try FileManager.default.linkItem(atPath: path, toPath: other)
        #expect(FileRemoval.remove(path))
        #expect(!FileManager.default.fileExists(atPath: path))
        let kept = try Data(contentsOf: URL(fileURLWithPath: other))
        #expect(kept.count == bytes)
        #expect(kept.last == UInt8(truncatingIfNeeded: bytes - 1))
    }
}
