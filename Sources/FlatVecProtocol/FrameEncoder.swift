import FlatVecModel
import NIOCore

/// Writes whole frames: a length placeholder, the header, the payload, then the length patched in.
public struct FrameEncoder: Sendable {
    /// Creates an encoder.
    public init() {}

    /// Appends a request frame to `buffer`.
    public func encode(_ request: Request, requestID: UInt64, into buffer: inout ByteBuffer) {
        write(FrameHeader(opcode: request.opcode, requestID: requestID), into: &buffer) { request.encode(into: &$0) }
    }

    /// Appends a reply frame to `buffer`.
    /// - Parameters:
    ///   - response: The reply.
    ///   - opcode: The opcode of the request it answers.
    ///   - requestID: The id of the request it answers.
    ///   - buffer: Where to write.
    public func encode(_ response: Response, opcode: Opcode, requestID: UInt64, into buffer: inout ByteBuffer) {
        let flags: FrameHeader.Flags = response.isError ? [.reply, .error] : [.reply]
        write(FrameHeader(opcode: opcode, flags: flags, requestID: requestID), into: &buffer) { response.encode(into: &$0) }
    }

    private func write(_ header: FrameHeader, into buffer: inout ByteBuffer, payload: (inout ByteBuffer) -> Void) {
        let lengthIndex = buffer.writerIndex
        buffer.writeU32(0)
        buffer.writeU8(header.version)
        buffer.writeU8(header.opcode.rawValue)
        buffer.writeU16(header.flags.rawValue)
        buffer.writeU64(header.requestID)
        payload(&buffer)
        let length = buffer.writerIndex - lengthIndex - FrameHeader.lengthFieldSize
        buffer.setInteger(UInt32(length), at: lengthIndex, endianness: .little)
    }
}
