import FlatVecModel
import NIOCore

/// BACKUP request: starts an online backup of the server's data directory, or reads (or ends) the
/// next piece of one (PROTOCOL.md 4.8).
public struct BackupRequest: Sendable, Hashable {
    /// 0 to start a backup; otherwise the cursor of the backup to go on with (or to end).
    public var cursor: UInt64
    /// The most file bytes in the reply, 1 to 64 MiB (the server also keeps a reply within its frame limit).
    public var maxBytes: UInt32
    /// Ends the backup of ``cursor`` instead of reading on.
    public var ending: Bool

    /// The largest `max_bytes`.
    public static let maximumBytes: UInt32 = 64 << 20

    /// Creates a request.
    public init(cursor: UInt64 = 0, maxBytes: UInt32 = 4 << 20, ending: Bool = false) {
        self.cursor = cursor
        self.maxBytes = maxBytes
        self.ending = ending
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> BackupRequest {
        let cursor = try buffer.readU64("cursor")
        let maxBytes = try buffer.readU32("max bytes")
        let flags = try buffer.readFlags("BACKUP flags", known: 0x01)
        try buffer.expectFullyRead("BACKUP")
        guard (1...maximumBytes).contains(maxBytes) else {
            throw FlatVecError(.limitExceeded, "max_bytes = \(maxBytes) is outside 1...\(maximumBytes)")
        }
        guard flags & 0x01 == 0 || cursor != 0 else {
            throw FlatVecError(.invalidArgument, "ending a backup (flags bit 0) needs its cursor, not 0")
        }
        return BackupRequest(cursor: cursor, maxBytes: maxBytes, ending: flags & 0x01 != 0)
    }

    /// Encodes the payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeU64(cursor)
        buffer.writeU32(maxBytes)
        buffer.writeU8(ending ? 0x01 : 0)
    }
}

/// BACKUP reply: a piece of one file of the backup.
public struct BackupResponse: Sendable, Hashable {
    /// The cursor of the next piece; 0 with the last one (the MANIFEST) or after an ending.
    public var cursor: UInt64
    /// The file's path inside the data directory (`snapshots/...`, `wal.G.stage`, `wal.G.log`, `MANIFEST` last).
    public var file: String
    /// The file's whole length in the backup.
    public var fileLength: UInt64
    /// Where these bytes go in the file.
    public var offset: UInt64
    /// The bytes.
    public var data: [UInt8]

    /// Creates the reply.
    public init(cursor: UInt64, file: String, fileLength: UInt64, offset: UInt64, data: [UInt8]) {
        self.cursor = cursor
        self.file = file
        self.fileLength = fileLength
        self.offset = offset
        self.data = data
    }

    static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> BackupResponse {
        let cursor = try buffer.readU64("cursor")
        let file = try buffer.readString("file", maxBytes: 4_096)
        let fileLength = try buffer.readU64("file length")
        let offset = try buffer.readU64("offset")
        let count = try buffer.readCount("data length", limit: UInt32.max, bytesEach: 1)
        let data = buffer.readBytes(length: count) ?? []
        try buffer.expectFullyRead("BACKUP reply")
        guard offset <= fileLength, UInt64(count) <= fileLength - offset else {
            throw malformed("BACKUP reply: \(count) bytes at offset \(offset) run past the file's \(fileLength)")
        }
        guard !file.isEmpty, !file.hasPrefix("/"), !file.split(separator: "/").contains(".."), !file.contains("\0") else {
            throw malformed("BACKUP reply: '\(file)' is not a path inside a data directory")
        }
        return BackupResponse(cursor: cursor, file: file, fileLength: fileLength, offset: offset, data: data)
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeU64(cursor)
        buffer.writeFlatVecString(file)
        buffer.writeU64(fileLength)
        buffer.writeU64(offset)
        buffer.writeCount(data.count)
        buffer.writeBytes(data)
    }
}
