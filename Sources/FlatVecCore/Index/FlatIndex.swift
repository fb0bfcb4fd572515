#if canImport(Dispatch)
import CFlatVecKernels
import Dispatch
#endif
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An exact flat inner-product (or cosine) index with live upsert and removal.
///
/// Vectors live in fixed-size chunks that double as BLAS blocks: adding never copies stored
/// vectors, removal moves the last row into the hole (O(d)), and any number of searches run in
/// parallel with adds and removes. Searches take the reader lock one chunk at a time, so a writer
/// waits for at most one chunk's worth of work (or, after an int8 batch of 16 or more plain queries,
/// for the rescoring of its few listed candidates), and readers wait only for the append itself.
///
/// ```swift
/// let index = try FlatIndex(dimension: 512)
/// try index.add(VectorBatch(dimension: 512, ids: [1], labels: [7], vectors: embedding))
/// let hits = try index.search(query, options: SearchOptions(k: 5))
/// ```
public final class FlatIndex: @unchecked Sendable {
    // @unchecked: all mutable state (`rows`) is guarded by `lock`.

    /// Largest dimension accepted (pgvector's limit).
    public static var maximumDimension: Int { FlatVecLimits.maximumDimension }
    /// Largest payload, in bytes.
    public static var maximumPayloadBytes: Int { FlatVecLimits.maximumPayloadBytes }

    /// Tuning knobs of an index.
    public struct Configuration: Sendable, Equatable {
        /// Threads one search may use; defaults to the number of active cores. The calling thread is
        /// one of them; the others come from a pool of helper threads shared by every index of the
        /// process (named `flatvec-scan`, started when first needed, never more than the largest
        /// `searchThreads` minus one).
        public var searchThreads: Int
        /// Most queries one scan scores; searches waiting meanwhile are merged into scans of up to
        /// this many queries, and larger requests are scanned in turns (see ``FlatIndex/submitSearch(batch:options:isCancelled:runScan:completion:)``).
        public var maximumQueriesPerScan: Int
        /// Whether searches read int8 codes first (see ``ScanMode``); `auto` by default.
        public var scan: ScanMode
        /// Scan modes of named collections, overriding `scan` for them (`flatvec serve --scan-collection`).
        public var scanByCollection: [String: ScanMode] = [:]
        /// For benchmarks that measure the filter plans: the fraction of a chunk's rows at or below
        /// which the rows a filter matches are gathered and scored alone (0: never, 1: always); nil
        /// for the measured default (see ``FlatIndex``'s search documentation and Benchmarks/README.md).
        public var _gatherFraction: Double?
        /// Rows per chunk, for tests that need many chunks from few rows; nil picks about 4 MiB.
        var rowsPerChunk: Int?
        /// Which int8 scan variant runs (from the CPU); tests pick others to run every variant.
        var int8Variant = fv_i8_best_variant()
        /// Which kernel scores how many queries (from the CPU); tests pick others to run every path.
        var kernelPlan = KernelPlan.current
        /// How long a scan waits for the callers of the one before to come back; nil for the default
        /// (a quarter of the last scan, at most ``SearchCoalescer/maximumHold``). Tests fix it.
        var holdLimit: Duration?

        /// Creates a configuration.
        /// - Parameters:
        ///   - searchThreads: Threads one search may use; at least 1.
        ///   - maximumQueriesPerScan: Most queries one scan scores; at least 1.
        ///   - scan: float32, int8, or int8 where the CPU has a fast kernel for it (the default).
        public init(
            searchThreads: Int = FlatIndex.defaultSearchThreads,
            maximumQueriesPerScan: Int = 256,
            scan: ScanMode = .auto
        ) {
            self.searchThreads = max(1, searchThreads)
            self.maximumQueriesPerScan = max(1, maximumQueriesPerScan)
            self.scan = scan
        }

        /// The configuration of the collection `name`: its entry of `scanByCollection`, if any, as `scan`.
        public func forCollection(_ name: String) -> Configuration {
            var configuration = self
            if let mode = scanByCollection[name] { configuration.scan = mode }
            return configuration
        }

        /// The mode searches use on this CPU: `auto` resolved to `int8` or `float32`.
        public var effectiveScan: ScanMode {
            switch scan {
            case .auto: Int32(int8Variant) == Int32(FV_I8_PORTABLE) ? .float32 : .int8
            case .float32, .int8: scan
            }
        }
    }

    /// The number of active processors.
    public static var defaultSearchThreads: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }

    /// Components per vector.
    public let dimension: Int
    /// How scores are computed.
    public let metric: Metric
    /// The configuration the index was created with.
    public let configuration: Configuration

    let lock = ReadWriteLock()
    var rows: ChunkedRows
    /// Merges searches that wait on this index into shared scans.
    let coalescer: SearchCoalescer
    /// What the int8 first pass rescored.
    let rescoreCounters = RescoreCounters()
    /// Damage found in the vectors of a mapped segment: once recorded, searches and compactions of
    /// the index fail with it (see ``VectorDamage``).
    let vectorDamage = VectorDamage()
    /// Whether ``moveMappedCodesIntoMemory(until:)`` is running.
    let movingCodes = Atomic<Bool>(false)
    /// Tests only: called between a listing scan's pass and its rescoring, with no lock held.
    nonisolated(unsafe) var afterListingPass: (@Sendable () -> Void)?
    // nonisolated(unsafe): set by a test before it searches, read by the search afterwards.

    /// Creates an empty index.
    /// - Parameters:
    ///   - dimension: Components per vector, 1 to ``maximumDimension``.
    ///   - metric: Inner product (default) or cosine.
    ///   - configuration: Tuning knobs.
    ///   - attributes: The attributes every vector may carry (more can be added later).
    /// - Throws: ``FlatVecError/Code/invalidArgument`` for a dimension out of range or a bad attribute list.
    public init(
        dimension: Int,
        metric: Metric = .innerProduct,
        configuration: Configuration = Configuration(),
        attributes: [AttributeDefinition] = []
    ) throws(FlatVecError) {
        guard (1...Self.maximumDimension).contains(dimension) else {
            throw FlatVecError(.invalidArgument, "dimension \(dimension) is outside 1...\(Self.maximumDimension)")
        }
        try AttributeDefinition.checkSchema(attributes)
        BLASRuntime.prepareForSearch()
        self.dimension = dimension
        self.metric = metric
        self.configuration = configuration
        self.rows = ChunkedRows(
            dimension: dimension, rowsPerChunk: configuration.rowsPerChunk, codes: configuration.effectiveScan == .int8
        )
        self.coalescer = SearchCoalescer(maximumQueriesPerScan: configuration.maximumQueriesPerScan, holdLimit: configuration.holdLimit)
        for definition in attributes { rows.addAttribute(definition) }
    }

    /// Number of vectors stored.
    public var count: Int { lock.withReaderLock { rows.count } }

    /// Whether `id` is stored.
    public func contains(id: Int64) -> Bool { lock.withReaderLock { rows.row(of: id) != nil } }

    /// Memory and layout figures.
    public var statistics: IndexStatistics {
        lock.withReaderLock {
            IndexStatistics(
                count: rows.count,
                dimension: dimension,
                metric: metric,
                chunkCount: rows.chunks.count,
                rowsPerChunk: rows.rowsPerChunk,
                memoryBytes: rows.memoryBytes,
                mappedBytes: rows.mappedBytes,
                diskBytes: rows.segmentBytes,
                payloadBytes: rows.payloadBytes,
                codeBytes: rows.codeBytes,
                scan: configuration.effectiveScan,
                searching: coalescer.counters,
                rescoring: rescoreCounters.snapshot
            )
        }
    }

    /// Upserts a batch: ids already present are replaced, others appended. All or nothing.
    ///
    /// Validation and normalisation happen before the writer lock is taken; the lock is held only
    /// for copying the prepared rows in.
    /// - Parameter batch: The vectors.
    /// - Returns: How many ids were new and how many replaced a stored vector.
    /// - Throws: ``FlatVecError`` with `dimensionMismatch`, `invalidVector`, `duplicateID`,
    ///   `limitExceeded` or `invalidArgument`, naming the culprit; the index is unchanged.
    @discardableResult
    public func add(_ batch: VectorBatch) throws(FlatVecError) -> AddResult {
        add(try validate(batch))
    }

    /// Checks a batch against this index and prepares it (normalised under cosine), without adding it.
    ///
    /// A server uses this to make a write durable first and apply it after: the `add` that takes a ``ValidatedBatch``
    /// cannot fail on a validated batch.
    /// - Parameter batch: The vectors.
    /// - Returns: The batch as it will be stored.
    /// - Throws: As adding the batch would.
    public func validate(_ batch: VectorBatch) throws(FlatVecError) -> ValidatedBatch {
        let vectors = try prepare(batch)
        let attributes = try checkAttributes(of: batch)
        let prepared = try VectorBatch(
            dimension: dimension, ids: batch.ids, labels: batch.labels, vectors: vectors, payloads: batch.payloads,
            attributes: attributes
        )
        return ValidatedBatch(batch: prepared, dimension: dimension, metric: metric)
    }

    /// Adds vectors exactly as given, without normalising them: for rebuilding an index from a durable
    /// copy of what an index of the same metric stored (so the bytes match the original exactly).
    /// Components must be finite; under cosine every vector must already have unit length (within 1e-3).
    /// - Parameter batch: The stored rows.
    /// - Throws: As ``add(_:)-(VectorBatch)``, and ``FlatVecError/Code/corruptData`` for a vector that is
    ///   not unit length under cosine.
    public func restore(_ batch: VectorBatch) throws(FlatVecError) {
        guard batch.dimension == dimension else {
            throw FlatVecError(.dimensionMismatch, "stored vectors have dimension \(batch.dimension), the index has dimension \(dimension)")
        }
        let checked = try VectorBatch(
            dimension: dimension, ids: batch.ids, labels: batch.labels, vectors: batch.vectors, payloads: batch.payloads,
            attributes: try checkAttributes(of: batch)
        )
        // Validate as the inner-product metric would (finite, no duplicates, payload rules), never rewriting.
        let probe = try FlatIndex(dimension: dimension, metric: .innerProduct, configuration: configuration)
        _ = try probe.prepare(checked)
        if metric == .cosine {
            for i in 0..<batch.count {
                let norm = batch.vectors[(i * dimension)..<((i + 1) * dimension)].reduce(0.0) { $0 + Double($1) * Double($1) }
                guard abs(norm - 1) < 1e-3 else {
                    throw FlatVecError(.corruptData, "stored vector of id \(batch.ids[i]) has squared norm \(norm), not 1, under cosine")
                }
            }
        }
        add(ValidatedBatch(batch: checked, dimension: dimension, metric: metric))
    }

    /// Adds a batch validated by ``validate(_:)``; cannot fail.
    /// - Parameter validated: A batch validated by an index of the same dimension and metric.
    /// - Returns: How many ids were new and how many replaced a stored vector.
    @discardableResult
    public func add(_ validated: ValidatedBatch) -> AddResult {
        add(validated, rows: 0..<validated.batch.count)
    }

    /// Adds rows `range` of a batch validated by ``validate(_:)``; cannot fail. Adding a batch's
    /// ranges one after another in order leaves what adding it whole does (its ids are distinct),
    /// and holds the writer lock for one range at a time.
    /// - Parameters:
    ///   - validated: A batch validated by an index of the same dimension and metric.
    ///   - range: The rows of the batch to add.
    /// - Returns: How many of those rows were new ids and how many replaced a stored vector.
    @discardableResult
    public func add(_ validated: ValidatedBatch, rows range: Range<Int>) -> AddResult {
        precondition(validated.dimension == dimension && validated.metric == metric, "batch validated for another index")
        let batch = validated.batch
        precondition(range.lowerBound >= 0 && range.upperBound <= batch.count, "rows beyond the batch")
        guard !range.isEmpty else { return AddResult(inserted: 0, replaced: 0) }
        return batch.vectors.withUnsafeBufferPointer { vectors in
            lock.withWriterLock {
                let before = rows.count
                rows.reserve(rows: before + range.count)
                for i in range {
                    rows.upsert(
                        id: batch.ids[i],
                        label: batch.labels[i],
                        vector: vectors.baseAddress! + i * dimension,
                        payload: batch.payloads.isEmpty ? nil : batch.payloads[i],
                        attributes: batch.attributes.isEmpty ? nil : batch.attributes[i]
                    )
                }
                let inserted = rows.count - before
                return AddResult(inserted: inserted, replaced: range.count - inserted)
            }
        }
    }

    /// Removes vectors by id. All or nothing: if any id is unknown, nothing is removed.
    /// - Parameter ids: The ids to remove, each once.
    /// - Throws: ``FlatVecError/Code/unknownID`` naming the unknown ids,
    ///   ``FlatVecError/Code/duplicateID`` if an id is listed twice.
    public func remove(ids: [Int64]) throws(FlatVecError) {
        try checkNoDuplicates(ids)
        let unknown: [Int64] = lock.withWriterLock {
            let unknown = ids.filter { rows.row(of: $0) == nil }
            if unknown.isEmpty {
                for id in ids { rows.remove(id: id) }
            }
            return unknown
        }
        if !unknown.isEmpty {
            throw FlatVecError(.unknownID, "unknown \(Self.describe(ids: unknown)); nothing was removed")
        }
    }

    /// Checks that ``remove(ids:)`` would succeed now, without removing anything.
    /// - Parameter ids: The ids.
    /// - Throws: As ``remove(ids:)``.
    public func checkRemovable(ids: [Int64]) throws(FlatVecError) {
        try checkNoDuplicates(ids)
        let unknown = lock.withReaderLock { ids.filter { rows.row(of: $0) == nil } }
        if !unknown.isEmpty {
            throw FlatVecError(.unknownID, "unknown \(Self.describe(ids: unknown)); nothing was removed")
        }
    }

    private func checkNoDuplicates(_ ids: [Int64]) throws(FlatVecError) {
        guard ids.count > 1 else { return }
        var seen = Set<Int64>(minimumCapacity: ids.count)
        for id in ids where !seen.insert(id).inserted {
            throw FlatVecError(.duplicateID, "id \(id) appears twice in one remove request")
        }
    }

    /// Returns the stored vectors of `ids`, in the order asked.
    /// - Parameter ids: The ids.
    /// - Throws: ``FlatVecError/Code/unknownID`` naming the unknown ids; `corruptData` naming a
    ///   segment whose vectors do not match their checksum.
    public func get(ids: [Int64]) throws(FlatVecError) -> [StoredVector] {
        var unknown: [Int64] = []
        let found: [StoredVector] = lock.withReaderLock {
            var found: [StoredVector] = []
            found.reserveCapacity(ids.count)
            for id in ids {
                guard let row = rows.row(of: id) else {
                    unknown.append(id)
                    continue
                }
                let (chunk, offset) = rows.location(of: row)
                chunk.vectorChecks?.check(row: offset)
                found.append(
                    StoredVector(
                        id: id,
                        label: chunk.labels[offset],
                        vector: Array(UnsafeBufferPointer(start: chunk.vector(at: offset), count: dimension)),
                        payload: chunk.payloads[offset],
                        attributes: rows.attributes(chunk: chunk, offset: offset)
                    )
                )
            }
            return found
        }
        if !unknown.isEmpty { throw FlatVecError(.unknownID, "unknown \(Self.describe(ids: unknown))") }
        try vectorDamage.check()
        return found
    }

    /// Calls `body` with every stored row under the reader lock, in row order.
    /// Writers wait until it returns, so keep `body` short of I/O waits.
    /// - Parameter body: Receives id, label, vector, payload and attribute values (nulls omitted) of each row.
    /// - Throws: What `body` throws; `corruptData` naming a segment whose vectors do not match their
    ///   checksum (each chunk's are checked before its rows are handed over).
    public func forEachRow(
        _ body: (
            _ id: Int64, _ label: Int64, _ vector: UnsafeBufferPointer<Float>, _ payload: [UInt8]?,
            _ attributes: [String: AttributeValue]
        ) throws(FlatVecError) -> Void
    ) throws(FlatVecError) {
        try lock.withReaderLock { () throws(FlatVecError) in
            let hasAttributes = !rows.schema.isEmpty
            for row in 0..<rows.count {
                let (chunk, offset) = rows.location(of: row)
                if offset == 0 {
                    chunk.prepareVectors(0..<rows.rows(inChunk: row / rows.rowsPerChunk))
                    try vectorDamage.check()
                }
                try body(
                    chunk.ids[offset],
                    chunk.labels[offset],
                    UnsafeBufferPointer(start: chunk.vector(at: offset), count: dimension),
                    chunk.payloads[offset],
                    hasAttributes ? rows.attributes(chunk: chunk, offset: offset) : [:]
                )
            }
        }
    }

    static func describe(ids: [Int64]) -> String {
        let shown = ids.prefix(10).map(String.init).joined(separator: ", ")
        let noun = ids.count == 1 ? "id" : "ids"
        return ids.count > 10 ? "\(noun) \(shown) and \(ids.count - 10) more" : "\(noun) \(shown)"
    }
}

/// A batch checked and prepared by ``FlatIndex/validate(_:)``.
public struct ValidatedBatch: Sendable, Hashable {
    /// The batch as it will be stored (vectors normalised under cosine).
    public let batch: VectorBatch
    let dimension: Int
    let metric: Metric
}

/// What an add did.
public struct AddResult: Sendable, Hashable {
    /// Ids that were not stored before.
    public var inserted: Int
    /// Ids whose stored vector was replaced.
    public var replaced: Int
}

/// Size and layout of an index at one moment.
public struct IndexStatistics: Sendable, Hashable {
    /// Vectors stored.
    public var count: Int
    /// Components per vector.
    public var dimension: Int
    /// The metric.
    public var metric: Metric
    /// Chunks allocated.
    public var chunkCount: Int
    /// Rows per chunk.
    public var rowsPerChunk: Int
    /// Bytes of the process's own memory the index holds: vectors, codes, ids and labels not mapped
    /// from segment files, attribute values, payloads and the id map.
    public var memoryBytes: Int
    /// Bytes of vectors, codes, ids and labels mapped from segment files (file-backed: resident only
    /// as far as searches read them).
    public var mappedBytes: Int = 0
    /// Bytes of the segment files that hold the index's chunks as they are now (0 in memory or PostgreSQL).
    public var diskBytes: Int = 0
    /// Bytes of payloads.
    public var payloadBytes: Int
    /// Bytes of int8 codes and their error figures (included in `memoryBytes` or `mappedBytes`; 0 under float32).
    public var codeBytes: Int
    /// How searches read the vectors: `int8` or `float32` (never `auto`).
    public var scan: ScanMode
    /// How searches were merged into scans since the index was created.
    public var searching: SearchCounters
    /// What the int8 first pass rescored in float32 since the index was created.
    public var rescoring: RescoringCounters
}

/// What the int8 first pass of one index scanned and rescored.
public struct RescoringCounters: Sendable, Hashable {
    /// Rows whose bounds were computed from their codes (one per row and query).
    public var rowsBounded: Int = 0
    /// Rows scored in float32 after the first pass: one by one (their bounds could reach the k-th
    /// best), or with their whole chunk (see `chunksInFloat32`).
    public var rowsRescored: Int = 0
    /// Chunk scans that fell back to scoring every row in float32 (too many candidates: duplicates, large k).
    public var chunksInFloat32: Int = 0

    /// Creates zero counters.
    public init() {}
}

/// How the searches of one index were merged into scans.
public struct SearchCounters: Sendable, Hashable {
    /// Searches (requests) answered or dropped.
    public var searches: Int = 0
    /// Scans run; fewer than `searches` when concurrent searches shared scans.
    public var scans: Int = 0
    /// Queries scored, over all scans.
    public var queries: Int = 0
    /// Searches dropped unscanned because their caller had gone.
    public var dropped: Int = 0
    /// The most queries one scan held.
    public var largestScan: Int = 0
    /// Scans that waited for the callers of the scan before to come back.
    public var holds: Int = 0
    /// Of those, waits that ran out before they all had.
    public var holdsRunOut: Int = 0

    /// Creates zero counters.
    public init() {}
}
