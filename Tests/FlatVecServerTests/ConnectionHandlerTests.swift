import FlatVecProtocol
@testable import FlatVecServer
import FlatVecStorage
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

/// The handler in an EmbeddedChannel: it carries out the state machine's actions on a real pipeline.
@Suite struct ConnectionHandlerTests {
    static func channel(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> (EmbeddedChannel, NIOThreadPool) {
        var configuration = ServerConfiguration(port: 0)
        configure(&configuration)
        var logger = Logger(label: "handler-test")
        logger.logLevel = .critical
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let executor = RequestExecutor(registry: CollectionRegistry(), store: MemoryOnlyStore(), statistics: ServerStatistics())
        let shared = ConnectionHandler.Shared(configuration: configuration, executor: executor, threadPool: pool, writePool: pool, logger: logger)
        let limit = FrameLimit(ConnectionRules(configuration: configuration).frameLimit)
        let progress = ByteProgress()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteCountingHandler(progress: progress))
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(limit: limit)))
        try channel.pipeline.syncOperations.addHandler(ConnectionHandler(shared: shared, frameLimit: limit, progress: progress))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, pool)
    }

    static func bytes(_ request: Request, id: UInt64) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        FrameEncoder().encode(request, requestID: id, into: &buffer)
        return buffer
    }

    static func reply(_ channel: EmbeddedChannel) throws -> (FrameHeader, Response)? {
        guard var buffer = try channel.readOutbound(as: ByteBuffer.self),
              let frame = try FrameDecoder.decodeFrame(from: &buffer, maximumLength: .max) else { return nil }
        var payload = frame.payload
        return (frame.header, try Response.decode(opcode: frame.header.opcode, isError: frame.header.flags.contains(.error), payload: &payload))
    }

    @Test func pingIsAnsweredOnTheEventLoop() throws {
        let (channel, pool) = try Self.channel()
        defer { try? pool.syncShutdownGracefully() }
        try channel.writeInbound(Self.bytes(.ping([1, 2, 3]), id: 42))
        let reply = try #require(try Self.reply(channel))
        #expect(reply.0.requestID == 42 && reply.1 == .pong([1, 2, 3]))
        #expect(channel.isActive)
        _ = try? channel.finish()
    }

    @Test func aWrongTokenIsAnsweredAndTheConnectionClosed() throws {
        let (channel, pool) = try Self.channel { $0.adminToken = "secret" }
        defer { try? pool.syncShutdownGracefully() }
        try channel.writeInbound(Self.bytes(.hello(HelloRequest(token: "guess")), id: 1))
        #expect(try Self.reply(channel)?.1.errorCode == FlatVecError.Code.unauthenticated.rawValue)
        #expect(!channel.isActive)
    }

    @Test func anOversizedFrameGetsBadFrameThenTheClose() throws {
        let (channel, pool) = try Self.channel()
        defer { try? pool.syncShutdownGracefully() }
        var huge = ByteBufferAllocator().buffer(capacity: 16)
        huge.writeInteger(UInt32.max, endianness: .little)
        huge.writeBytes([1, 2, 0, 0])
        _ = try? channel.writeInbound(huge)  // the decoder throws too; the handler has answered
        let reply = try #require(try Self.reply(channel))
        #expect(reply.0.requestID == 0 && reply.1.errorCode == FlatVecError.Code.badFrame.rawValue)
        #expect(!channel.isActive)
    }

    @Test func quiescingAnIdleConnectionClosesIt() throws {
        let (channel, pool) = try Self.channel()
        defer { try? pool.syncShutdownGracefully() }
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!channel.isActive)
    }
}
