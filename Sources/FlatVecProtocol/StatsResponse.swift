import FlatVecModel
import NIOCore

/// STATS reply: uptime, BLAS, per-collection sizes, per-operation counters and latencies.
public struct StatsResponse: Sendable, Hashable {
    /// One collection's size.
    public struct CollectionStats: Sendable, Hashable {
        /// Name.
        public var name: String
        /// Components per vector.
        public var dimension: UInt32
        /// Metric.
        public var metric: Metric
        /// Vectors stored.
        public var count: UInt64
        /// Bytes of the process's own memory the collection holds (vectors, codes and ids not mapped
        /// from segment files, the id map, payloads, attributes).
        public var memoryBytes: UInt64
        /// Rows of the store's copy that the index could not hold when it was loaded, skipped.
        public var skippedRows: UInt64
        /// How searches read the vectors: `float32` or `int8` (never `auto`: the mode in effect).
        public var scan: ScanMode
        /// Bytes of int8 codes and their error figures, included in `memoryBytes` (0 under float32).
        public var codeBytes: UInt64
        /// Rows (times queries) whose score the int8 first pass bounded from their codes.
        public var rowsBounded: UInt64
        /// Of those, rows rescored in float32 (their bound could reach the k-th best), or scored in
        /// float32 because their chunk had too many candidates.
        public var rowsRescored: UInt64
        /// Whether the server follows its store's change log (`flatvec serve --postgres`).
        public var following: Bool
        /// The largest change-log position the server has applied for this collection (0 if none).
        public var logPosition: UInt64
        /// Changes other writers committed to this collection that the server has not applied yet.
        public var pendingChanges: UInt64
        /// How long the oldest of those has waited, in milliseconds (0 when none): the replication lag.
        public var lagMillis: UInt64
        /// Bytes of the rows mapped from the store's segment files (file-backed: resident only as far
        /// as searches read them, and given back to the page cache under pressure); nil unless asked
        /// (``Request/stats(storage:)``, revision 4).
        public var mappedBytes: UInt64?
        /// Bytes of the segment files holding the collection's rows; nil unless asked.
        public var diskBytes: UInt64?

        /// Creates the entry.
        public init(
            name: String, dimension: UInt32, metric: Metric, count: UInt64, memoryBytes: UInt64, skippedRows: UInt64 = 0,
            scan: ScanMode = .float32, codeBytes: UInt64 = 0, rowsBounded: UInt64 = 0, rowsRescored: UInt64 = 0,
            following: Bool = false, logPosition: UInt64 = 0, pendingChanges: UInt64 = 0, lagMillis: UInt64 = 0,
            mappedBytes: UInt64? = nil, diskBytes: UInt64? = nil
        ) {
            self.name = name
            self.dimension = dimension
            self.metric = metric
            self.count = count
            self.memoryBytes = memoryBytes
            self.skippedRows = skippedRows
            self.scan = scan
            self.codeBytes = codeBytes
            self.rowsBounded = rowsBounded
            self.rowsRescored = rowsRescored
            self.following = following
            self.logPosition = logPosition
            self.pendingChanges = pendingChanges
            self.lagMillis = lagMillis
            self.mappedBytes = mappedBytes
            self.diskBytes = diskBytes
        }
    }

    /// One operation's counters; latencies in microseconds, measured from request decoded to reply queued.
    public struct OperationStats: Sendable, Hashable {
        /// The operation.
        public var opcode: Opcode
        /// Requests served.
        public var requests: UInt64
        /// Requests answered with an error.
        public var errors: UInt64
        /// Median latency.
        public var p50Micros: UInt64
        /// 90th percentile.
        public var p90Micros: UInt64
        /// 99th percentile.
        public var p99Micros: UInt64
        /// Largest latency.
        public var maxMicros: UInt64

        /// Creates the entry.
        public init(opcode: Opcode, requests: UInt64, errors: UInt64, p50Micros: UInt64, p90Micros: UInt64, p99Micros: UInt64, maxMicros: UInt64) {
            self.opcode = opcode
            self.requests = requests
            self.errors = errors
            self.p50Micros = p50Micros
            self.p90Micros = p90Micros
            self.p99Micros = p99Micros
            self.maxMicros = maxMicros
        }
    }

    /// Milliseconds since the server started.
    public var uptimeMillis: UInt64
    /// The BLAS library, e.g. `OpenBLAS 0.3.21 ...`.
    public var blasLibrary: String
    /// The BLAS kernel, e.g. `Haswell`.
    public var blasKernel: String
    /// Open connections.
    public var openConnections: UInt32
    /// Connections accepted since start.
    public var totalConnections: UInt64
    /// Every collection.
    public var collections: [CollectionStats]
    /// Every operation that has been requested at least once.
    public var operations: [OperationStats]

    /// Creates the reply.
    public init(
        uptimeMillis: UInt64, blasLibrary: String, blasKernel: String, openConnections: UInt32,
        totalConnections: UInt64, collections: [CollectionStats], operations: [OperationStats]
    ) {
        self.uptimeMillis = uptimeMillis
        self.blasLibrary = blasLibrary
        self.blasKernel = blasKernel
        self.openConnections = openConnections
        self.totalConnections = totalConnections
        self.collections = collections
        self.operations = operations
    }

    static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> StatsResponse {
        let uptime = try buffer.readU64("uptime")
        let library = try buffer.readString("blas library", maxBytes: 4096)
        let kernel = try buffer.readString("blas kernel", maxBytes: 256)
        let open = try buffer.readU32("open connections")
        let total = try buffer.readU64("total connections")
        let collectionCount = try buffer.readCount("collection count", limit: 1 << 20, bytesEach: 83)
        var collections: [CollectionStats] = []
        for _ in 0..<collectionCount {
            let name = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
            let dimension = try buffer.readU32("dimension")
            let rawMetric = try buffer.readU8("metric")
            guard let metric = Metric(rawValue: rawMetric) else { throw malformed("unknown metric \(rawMetric)") }
            let count = try buffer.readU64("count")
            let memoryBytes = try buffer.readU64("memory bytes")
            let skippedRows = try buffer.readU64("skipped rows")
            let rawScan = try buffer.readU8("scan")
            guard let scan = ScanMode(rawValue: rawScan), scan != .auto else { throw malformed("unknown scan mode \(rawScan)") }
            collections.append(CollectionStats(
                name: name, dimension: dimension, metric: metric, count: count, memoryBytes: memoryBytes,
                skippedRows: skippedRows, scan: scan, codeBytes: try buffer.readU64("code bytes"),
                rowsBounded: try buffer.readU64("rows bounded"), rowsRescored: try buffer.readU64("rows rescored"),
                following: try Self.readFlag(&buffer), logPosition: try buffer.readU64("log position"),
                pendingChanges: try buffer.readU64("pending changes"), lagMillis: try buffer.readU64("lag")
            ))
        }
        let opCount = try buffer.readCount("operation count", limit: 256, bytesEach: 49)
        var operations: [OperationStats] = []
        for _ in 0..<opCount {
            operations.append(OperationStats(
                opcode: Opcode(rawValue: try buffer.readU8("opcode")),
                requests: try buffer.readU64("requests"), errors: try buffer.readU64("errors"),
                p50Micros: try buffer.readU64("p50"), p90Micros: try buffer.readU64("p90"),
                p99Micros: try buffer.readU64("p99"), maxMicros: try buffer.readU64("max")
            ))
        }
        // Revision 4, when asked: each collection's mapped and on-disk bytes.
        if buffer.readableBytes > 0 {
            for i in collections.indices {
                collections[i].mappedBytes = try buffer.readU64("mapped bytes")
                collections[i].diskBytes = try buffer.readU64("disk bytes")
            }
        }
        try buffer.expectFullyRead("STATS reply")
        return StatsResponse(
            uptimeMillis: uptime, blasLibrary: library, blasKernel: kernel, openConnections: open,
            totalConnections: total, collections: collections, operations: operations
        )
    }

    private static func readFlag(_ buffer: inout ByteBuffer) throws(FlatVecError) -> Bool {
        let raw = try buffer.readU8("following")
        guard raw <= 1 else { throw malformed("following must be 0 or 1, got \(raw)") }
        return raw == 1
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeU64(uptimeMillis)
        buffer.writeFlatVecString(blasLibrary)
        buffer.writeFlatVecString(blasKernel)
        buffer.writeU32(openConnections)
        buffer.writeU64(totalConnections)
        buffer.writeCount(collections.count)
        for c in collections {
            buffer.writeFlatVecString(c.name)
            buffer.writeU32(c.dimension)
            buffer.writeU8(c.metric.rawValue)
            buffer.writeU64(c.count)
            buffer.writeU64(c.memoryBytes)
            buffer.writeU64(c.skippedRows)
            buffer.writeU8(c.scan.rawValue)
            buffer.writeU64(c.codeBytes)
            buffer.writeU64(c.rowsBounded)
            buffer.writeU64(c.rowsRescored)
            buffer.writeU8(c.following ? 1 : 0)
            buffer.writeU64(c.logPosition)
            buffer.writeU64(c.pendingChanges)
            buffer.writeU64(c.lagMillis)
        }
        buffer.writeCount(operations.count)
        for o in operations {
            buffer.writeU8(o.opcode.rawValue)
            for v in [o.requests, o.errors, o.p50Micros, o.p90Micros, o.p99Micros, o.maxMicros] { buffer.writeU64(v) }
        }
        // Revision 4: the storage figures, when every collection has them (the request asked).
        if !collections.isEmpty, collections.allSatisfy({ $0.mappedBytes != nil && $0.diskBytes != nil }) {
            for c in collections {
                buffer.writeU64(c.mappedBytes!)
                buffer.writeU64(c.diskBytes!)
            }
        }
    }
}
