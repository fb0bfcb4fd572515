import FlatVecModel
import NIOCore

/// HELLO reply: the version chosen, the role granted and the server's limits.
public struct HelloResponse: Sendable, Hashable {
    /// The version both sides will speak.
    public var version: UInt16
    /// The role granted.
    public var role: Role
    /// Largest frame the server accepts from this connection now.
    public var maxFrameBytes: UInt32
    /// Largest `k`.
    public var maxK: UInt32
    /// Most vectors, ids or queries per request.
    public var maxBatch: UInt32
    /// The server's name and version, e.g. `flatvec 0.1.0`.
    public var server: String

    /// Creates a HELLO reply.
    public init(version: UInt16, role: Role, maxFrameBytes: UInt32, maxK: UInt32, maxBatch: UInt32, server: String) {
        self.version = version
        self.role = role
        self.maxFrameBytes = maxFrameBytes
        self.maxK = maxK
        self.maxBatch = maxBatch
        self.server = server
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> HelloResponse {
        let version = try buffer.readU16("version")
        let rawRole = try buffer.readU8("role")
        guard let role = Role(rawValue: rawRole) else { throw malformed("unknown role \(rawRole)") }
        let r = HelloResponse(
            version: version,
            role: role,
            maxFrameBytes: try buffer.readU32("max frame bytes"),
            maxK: try buffer.readU32("max k"),
            maxBatch: try buffer.readU32("max batch"),
            server: try buffer.readString("server", maxBytes: 256)
        )
        try buffer.expectFullyRead("HELLO reply")
        return r
    }

    /// Encodes the payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeU16(version)
        buffer.writeU8(role.rawValue)
        buffer.writeU32(maxFrameBytes)
        buffer.writeU32(maxK)
        buffer.writeU32(maxBatch)
        buffer.writeFlatVecString(server)
    }
}
