import FlatVecModel
import NIOCore

/// Splits a byte stream into frames, checking each declared length before buffering its body.
///
/// The limit can change during a connection (it grows after authentication), so it is read from
/// ``FrameLimit`` on every frame. A declared length below the header size or above the limit throws
/// ``FlatVecError/Code/badFrame`` at once: the connection must be closed, as framing is lost.
public struct FrameDecoder: ByteToMessageDecoder {
    /// Decoded frames.
    public typealias InboundOut = Frame

    private let limit: FrameLimit

    /// Creates a decoder.
    /// - Parameter limit: The current largest frame length (after the length prefix) to accept.
    public init(limit: FrameLimit) {
        self.limit = limit
    }

    /// Decodes one frame if the buffer holds a whole one.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.decodeFrame(from: &buffer, maximumLength: limit.maximumLength) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    /// Decodes what is left when the stream ends; a partial frame is dropped.
    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// Takes one frame off the front of `buffer`, or returns nil if it is not all there yet.
    /// - Throws: ``FlatVecError/Code/badFrame`` when the declared length is out of bounds. The version is
    ///   not checked here: the frame is well delimited either way, so the handler answers it.
    public static func decodeFrame(from buffer: inout ByteBuffer, maximumLength: UInt32) throws(FlatVecError) -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self) else { return nil }
        guard length >= FrameHeader.size else {
            throw FlatVecError(.badFrame, "declared frame length \(length) is shorter than the \(FrameHeader.size)-byte header")
        }
        guard length <= maximumLength else {
            throw FlatVecError(.badFrame, "declared frame length \(length) exceeds the maximum \(maximumLength)")
        }
        guard buffer.readableBytes >= FrameHeader.lengthFieldSize + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: FrameHeader.lengthFieldSize)
        let version = buffer.readInteger(as: UInt8.self)!
        let opcode = buffer.readInteger(as: UInt8.self)!
        let flags = buffer.readInteger(endianness: .little, as: UInt16.self)!
        let requestID = buffer.readInteger(endianness: .little, as: UInt64.self)!
        let payload = buffer.readSlice(length: Int(length) - FrameHeader.size)!
        let header = FrameHeader(version: version, opcode: Opcode(rawValue: opcode), flags: .init(rawValue: flags), requestID: requestID)
        return Frame(header: header, payload: payload)
    }
}

/// The largest frame a connection accepts now; shared by its decoder and handler on one event loop.
public final class FrameLimit {
    /// The limit in bytes after the length prefix.
    public var maximumLength: UInt32

    /// Creates a limit.
    public init(_ maximumLength: UInt32) { self.maximumLength = maximumLength }
}
