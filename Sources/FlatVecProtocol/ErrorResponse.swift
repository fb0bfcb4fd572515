import FlatVecModel
import NIOCore

/// The payload of an error reply: a stable code and a message.
public struct ErrorResponse: Sendable, Hashable {
    /// The code's wire number (see ``FlatVecError/Code``); unknown numbers are kept as they are.
    public var code: UInt16
    /// A message naming the culprit.
    public var message: String

    /// Creates an error reply.
    public init(code: UInt16, message: String) {
        self.code = code
        self.message = message
    }

    /// Creates an error reply from an error.
    public init(_ error: FlatVecError) {
        self.code = error.code.rawValue
        self.message = error.message
    }

    /// The error as a ``FlatVecError`` (unknown codes become `internal`).
    public var error: FlatVecError {
        FlatVecError(FlatVecError.Code(rawValue: code) ?? .internalError, message)
    }

    static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> ErrorResponse {
        let r = ErrorResponse(code: try buffer.readU16("error code"), message: try buffer.readString("error message", maxBytes: 1 << 16))
        try buffer.expectFullyRead("error reply")
        return r
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeU16(code)
        buffer.writeFlatVecString(message)
    }
}
