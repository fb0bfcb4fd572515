import FlatVecProtocol
import NIOCore

/// How the server listens, whom it lets in and how it protects itself.
public struct ServerConfiguration: Sendable {
    /// Address to bind; loopback by default.
    public var host: String
    /// Port to bind; 0 picks a free one.
    public var port: Int
    /// Frame and batch limits.
    public var limits: ProtocolLimits
    /// The tokens that grant roles at HELLO, shared by every copy of this configuration so that a
    /// reload (``AccessTokens/replace(admin:reader:)``) reaches every new HELLO; none means no
    /// authentication (every connection is admin).
    public var accessTokens: AccessTokens
    /// The (first) admin token; setting it makes new token sets holding just it.
    public var adminToken: String? {
        get { accessTokens.admin.first }
        set { accessTokens = AccessTokens(admin: newValue.map { [$0] } ?? [], reader: accessTokens.reader) }
    }
    /// The (first) reader token; setting it makes new token sets holding just it.
    public var readerToken: String? {
        get { accessTokens.reader.first }
        set { accessTokens = AccessTokens(admin: accessTokens.admin, reader: newValue.map { [$0] } ?? []) }
    }
    /// A connection that stops sending in the middle of a frame for this long (while the server is
    /// reading it) is closed; it is also the grace period before ``minimumFrameBytesPerSecond`` applies.
    public var frameTimeout: TimeAmount
    /// After ``frameTimeout`` inside one frame, the frame must average at least this many bytes per
    /// second of reading time, or the connection is closed.
    public var minimumFrameBytesPerSecond: Int
    /// With tokens, a connection without a role this long after connecting gets `unauthenticated` and
    /// is closed.
    public var authenticationTimeout: TimeAmount
    /// Connections open at once; one more gets `limit_exceeded` and is closed.
    public var maxConnections: Int
    /// After the server closes its side of a connection it reads (and discards) what the peer still
    /// sends for up to this long, so its last replies are not lost to a TCP reset.
    public var lingerTimeout: TimeAmount
    /// A connection with nothing in flight and no request for this long is closed (nil: never).
    public var idleTimeout: TimeAmount?
    /// A connection whose replies stay unread (output over the high-water mark) this long is closed.
    public var writeTimeout: TimeAmount
    /// Requests decoded but not yet answered per connection before the server stops reading from it.
    public var maxPipelinedRequests: Int
    /// Output bytes buffered per connection before the server stops processing its requests.
    public var writeBufferHighWaterMark: Int
    /// Consecutive SEARCHes of one connection that may run at once (and share scans). It also bounds
    /// the replies a client that stops reading can still make the server compute and buffer.
    public var maxConcurrentSearches: Int
    /// Threads that run searches and writes (never the event loops).
    public var workerThreads: Int
    /// Threads that run writes (ADD, REMOVE, UPDATE, CREATE, DROP, attribute changes, REBUILD). They
    /// mostly wait for the durable store; concurrent ADDs of a collection share one store commit.
    public var writeThreads: Int = 16
    /// TLS for the protocol port (nil: plain TCP). The framing inside TLS is the same.
    public var tls: TLSFiles?

    /// Creates a configuration.
    public init(
        host: String = "127.0.0.1",
        port: Int = 7070,
        limits: ProtocolLimits = ProtocolLimits(),
        adminToken: String? = nil,
        readerToken: String? = nil,
        frameTimeout: TimeAmount = .seconds(10),
        minimumFrameBytesPerSecond: Int = 64 << 10,
        authenticationTimeout: TimeAmount = .seconds(10),
        maxConnections: Int = 1024,
        lingerTimeout: TimeAmount = .seconds(5),
        idleTimeout: TimeAmount? = .seconds(600),
        writeTimeout: TimeAmount = .seconds(30),
        maxPipelinedRequests: Int = 128,
        writeBufferHighWaterMark: Int = 8 << 20,
        maxConcurrentSearches: Int = 16,
        workerThreads: Int = System.coreCount
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.accessTokens = AccessTokens(admin: adminToken.map { [$0] } ?? [], reader: readerToken.map { [$0] } ?? [])
        self.frameTimeout = frameTimeout
        self.minimumFrameBytesPerSecond = minimumFrameBytesPerSecond
        self.authenticationTimeout = authenticationTimeout
        self.maxConnections = maxConnections
        self.lingerTimeout = lingerTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.maxPipelinedRequests = maxPipelinedRequests
        self.writeBufferHighWaterMark = writeBufferHighWaterMark
        self.maxConcurrentSearches = max(1, maxConcurrentSearches)
        self.workerThreads = max(1, workerThreads)
    }

    /// Whether connections must authenticate with HELLO.
    public var requiresAuthentication: Bool { accessTokens.isRequired }
}
