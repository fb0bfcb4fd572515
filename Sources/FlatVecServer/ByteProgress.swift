import NIOCore

/// Counts bytes received and bytes consumed as whole frames, so a connection can tell whether it is
/// stalled in the middle of a frame. Shared by two handlers of one channel, on its event loop only.
final class ByteProgress {
    var received = 0
    var consumed = 0

    var isInsideFrame: Bool { received > consumed }
}

/// The first inbound handler: counts raw bytes, passes them on.
final class ByteCountingHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let progress: ByteProgress

    init(progress: ByteProgress) { self.progress = progress }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        progress.received += unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension ByteCountingHandler: Sendable {}
