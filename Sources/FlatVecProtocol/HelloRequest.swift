import FlatVecModel
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

    /// Whether the token as sent could be a token at all (at most ``maximumTokenBytes``, UTF-8).
    /// A server that requires tokens treats a malformed one exactly like a wrong one.
    public var tokenIsWellFormed = true

    /// The longest token, in bytes.
    public static let maximumTokenBytes = 4096

    /// Decodes the payload. The token is not checked here (beyond the frame holding it): a token that
    /// is too long or not UTF-8 decodes with ``tokenIsWellFormed`` false, so that every failed
    /// authentication looks the same to the client.
    public static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> HelloRequest {
        let minVersion = try buffer.readU16("min version")
        let maxVersion = try buffer.readU16("max version")
        let tokenLength = try buffer.readU32("token length")
        guard let tokenBytes = buffer.readBytes(length: Int(tokenLength)) else { throw malformed("payload ends inside token") }
        let token = tokenBytes.count <= maximumTokenBytes ? String(validating: tokenBytes, as: UTF8.self) : nil
        var r = HelloRequest(
            minVersion: minVersion, maxVersion: maxVersion, token: token ?? "",
            clientName: try buffer.readString("client name", maxBytes: 256)
        )
        r.tokenIsWellFormed = token != nil
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
