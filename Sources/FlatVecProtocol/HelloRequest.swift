import FlatVecCore
import NIOCore

/// HELLO request: the versions the client speaks and its token.
public struct HelloRequest: Sendable, Hashable {
    /// Oldest version the client speaks.
    public var minVersion: UInt16
    /// Newest version the client speaks.
    public var maxVersion: UInt16
    /// The token; empty for none.
    public var token: String
    /// A free-form client name for the server's log.
    public var clientName: String

    /// Creates a HELLO request.
    public init(minVersion: UInt16 = 1, maxVersion: UInt16 = 1, token: String = "", clientName: String = "") {
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.token = token
        self.clientName = clientName
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> HelloRequest {
        let r = HelloRequest(
            minVersion: try buffer.readU16("min version"),
            maxVersion: try buffer.readU16("max version"),
            token: try buffer.readString("token", maxBytes: 4096),
            clientName: try buffer.readString("client name", maxBytes: 256)
        )
        try buffer.expectFullyRead("HELLO")
        return r
    }

    /// Encodes the payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeU16(minVersion)
        buffer.writeU16(maxVersion)
        buffer.writeFlatVecString(token)
        buffer.writeFlatVecString(clientName)
    }
}
