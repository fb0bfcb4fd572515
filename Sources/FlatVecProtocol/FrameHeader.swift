import FlatVecModel
import NIOCore

/// The fixed part of every frame after its length prefix.
///
/// ```
/// u32 length   bytes after this field (header + payload), 12 ... max frame size
/// u8  version  protocol version, 1
/// u8  opcode
/// u16 flags    bit 0: reply, bit 1: error reply
/// u64 request id, chosen by the client, echoed in the reply
/// ```
public struct FrameHeader: Sendable, Hashable {
    /// Bytes of the length prefix.
    public static let lengthFieldSize = 4
    /// Bytes of the header after the length prefix.
    public static let size = 12
    /// The protocol version this implementation speaks.
    public static let currentVersion: UInt8 = 1

    /// Flag bits.
    public struct Flags: OptionSet, Sendable, Hashable {
        /// The raw bits.
        public let rawValue: UInt16
        /// Creates flags from raw bits.
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// The frame is a reply.
        public static let reply = Flags(rawValue: 1 << 0)
        /// The reply is an error (payload: ``ErrorResponse``).
        public static let error = Flags(rawValue: 1 << 1)
    }

    /// Protocol version.
    public var version: UInt8
    /// Operation.
    public var opcode: Opcode
    /// Flags.
    public var flags: Flags
    /// Client-chosen id, echoed in the reply.
    public var requestID: UInt64

    /// Creates a header.
    public init(version: UInt8 = FrameHeader.currentVersion, opcode: Opcode, flags: Flags = [], requestID: UInt64) {
        self.version = version
        self.opcode = opcode
        self.flags = flags
        self.requestID = requestID
    }
}

/// One decoded frame: header and undecoded payload.
public struct Frame: Sendable, Hashable {
    /// The header.
    public var header: FrameHeader
    /// The payload bytes.
    public var payload: ByteBuffer

    /// Creates a frame.
    public init(header: FrameHeader, payload: ByteBuffer) {
        self.header = header
        self.payload = payload
    }
}
