/// The filters of the queries in one scan, evaluated chunk by chunk.
///
/// Queries with equal filters share one evaluation (a request's queries usually share one filter).
/// For each chunk, every distinct filter gets a mask (one verdict byte per row) and the list of its
/// matching rows; the scan then scores either only those rows (few match) or the whole chunk with
/// the mask applied when offering hits (many match).
struct ScanFilters: ~Copyable {
    /// The group of each query, -1 for an unfiltered one.
    let groupOfQuery: [Int]
    /// The queries of each group, in order.
    let queriesOfGroup: [[Int]]
    let filters: [Filter]
    private var programs: [FilterProgram?]
    private let masks: UnsafeMutablePointer<UInt8>
    private let matched: UnsafeMutablePointer<UInt32>
    private(set) var matchCounts: [Int]
    let stride: Int
    /// Whether some query has no filter.
    let hasUnfiltered: Bool

    init(collectors: borrowing [HitCollector], rowsPerChunk: Int) {
        var groups: [Filter: Int] = [:]
        var filters: [Filter] = []
        var groupOfQuery: [Int] = []
        groupOfQuery.reserveCapacity(collectors.count)
        var previous: (Filter, Int)?
        for i in collectors.indices {
            guard let filter = collectors[i].filter else {
                groupOfQuery.append(-1)
                continue
            }
            if let previous, previous.0 == filter {
                groupOfQuery.append(previous.1)
                continue
            }
            let group: Int
            if let existing = groups[filter] {
                group = existing
            } else {
                group = filters.count
                groups[filter] = group
                filters.append(filter)
            }
            groupOfQuery.append(group)
            previous = (filter, group)
        }
        self.groupOfQuery = groupOfQuery
        var members = Array(repeating: [Int](), count: filters.count)
        for (q, g) in groupOfQuery.enumerated() where g >= 0 { members[g].append(q) }
        queriesOfGroup = members
        self.filters = filters
        programs = Array(repeating: nil, count: filters.count)
        stride = rowsPerChunk
        masks = .allocate(capacity: max(1, filters.count * rowsPerChunk))
        matched = .allocate(capacity: max(1, filters.count * rowsPerChunk))
        matchCounts = Array(repeating: 0, count: filters.count)
        hasUnfiltered = groupOfQuery.contains(-1)
    }

    deinit {
        masks.deallocate()
        matched.deallocate()
    }

    var isEmpty: Bool { filters.isEmpty }

    /// Evaluates every filter on rows `0 ..< n` of chunk `index` of `rows` (under the reader lock).
    mutating func evaluate(chunk: VectorChunk, index: Int, rows n: Int, in rows: ChunkedRows) {
        for g in filters.indices {
            if programs[g]?.epoch != rows.attributeEpoch {
                programs[g] = FilterProgram(filters[g], rows: rows)
            }
            let mask = masks + g * stride
            _ = programs[g]!.evaluate(chunk: chunk, chunkIndex: index, rows: n, in: rows, into: mask)
            // The matching rows, eight mask bytes at a time: a word without a true byte (bit 1 is set
            // in the true byte only) is skipped, and a word with one is compacted without branches.
            let list = matched + g * stride
            var m = 0
            var r = 0
            while r + 8 <= n {
                if UnsafeRawPointer(mask + r).loadUnaligned(as: UInt64.self) & 0x0202_0202_0202_0202 != 0 {
                    for j in r..<(r + 8) {
                        list[m] = UInt32(j)
                        m &+= Int(mask[j] >> 1)
                    }
                }
                r += 8
            }
            for j in r..<n {
                list[m] = UInt32(j)
                m &+= Int(mask[j] >> 1)
            }
            matchCounts[g] = m
        }
    }

    /// The mask of query `q` for the chunk last evaluated, nil when it has no filter.
    @inline(__always)
    func mask(ofQuery q: Int) -> UnsafePointer<UInt8>? {
        let g = groupOfQuery[q]
        return g < 0 ? nil : UnsafePointer(masks + g * stride)
    }

    /// The rows of the chunk last evaluated that match the filter of group `g`.
    @inline(__always)
    func matches(ofGroup g: Int) -> (rows: UnsafePointer<UInt32>, count: Int) {
        (UnsafePointer(matched + g * stride), matchCounts[g])
    }

    /// Whether every query is filtered and no filter matches more than `limit` rows of the chunk
    /// last evaluated: then scoring only the matching rows beats scoring the chunk.
    func prefersGathering(limit: Int) -> Bool {
        !hasUnfiltered && matchCounts.allSatisfy { $0 <= limit }
    }
}
