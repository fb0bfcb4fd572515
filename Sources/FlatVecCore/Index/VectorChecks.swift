import CFlatVecKernels
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The checksums of a mapped segment's vectors, checked a group of rows at a time when first read.
///
/// Start-up checks the bytes every search reads (ids, labels, codes and their figures, the tail) and
/// leaves the vectors, four fifths of a segment at d = 512, to their first reader: a search rescores
/// a few rows per chunk, so a restart reads the codes and not the whole catalogue. Every reader of a
/// mapped chunk's vectors calls ``check(_:)`` (or ``check(row:)``, ``check(rows:count:)``) first; a
/// group that does not match its checksum is recorded in the index's ``VectorDamage`` and never
/// counted as checked, so the index stops answering (see ``VectorDamage``).
final class VectorChecks: @unchecked Sendable {
    // @unchecked: the vectors are a read-only view of a file mapping that never changes (a chunk
    // copies itself before any row it holds is written), the checksums are immutable, and the
    // progress is kept in atomics: two readers may check the same group at once, and both find
    // the same answer.

    /// The segment file, for messages.
    let segment: String
    /// Rows of a group: a power of two.
    let groupRows: Int
    /// Rows the segment holds (the last group may be shorter).
    let rows: Int
    private let vectors: UnsafePointer<Float>
    private let dimension: Int
    private let groupShift: Int
    private let checksums: [UInt32]
    /// One bit per group, set once the group matched its checksum.
    private let checked: UnsafeMutablePointer<Atomic<UInt64>>
    private let words: Int
    /// Groups not yet found sound.
    private let unchecked: Atomic<Int>
    /// Where a damaged group is recorded: the index's.
    let damage: VectorDamage

    /// - Parameters:
    ///   - checksums: One CRC-32C per group of `groupRows` rows' vectors, `ceil(rows / groupRows)` of them.
    init(segment: String, vectors: UnsafePointer<Float>, dimension: Int, rows: Int, groupRows: Int, checksums: [UInt32], damage: VectorDamage) {
        precondition(groupRows > 0 && groupRows & (groupRows - 1) == 0 && checksums.count == Self.groups(rows: rows, groupRows: groupRows))
        self.segment = segment
        self.vectors = vectors
        self.dimension = dimension
        self.rows = rows
        self.groupRows = groupRows
        groupShift = groupRows.trailingZeroBitCount
        self.checksums = checksums
        self.damage = damage
        words = (checksums.count + 63) / 64
        checked = .allocate(capacity: max(words, 1))
        for w in 0..<max(words, 1) { (checked + w).initialize(to: Atomic(0)) }
        unchecked = Atomic(checksums.count)
    }

    deinit {
        checked.deinitialize(count: max(words, 1))
        checked.deallocate()
    }

    /// Groups of `groupRows` rows in `rows` rows.
    static func groups(rows: Int, groupRows: Int) -> Int { (rows + groupRows - 1) / groupRows }

    /// The rows of group `g`.
    static func rows(ofGroup g: Int, rows: Int, groupRows: Int) -> Range<Int> { (g * groupRows)..<min((g + 1) * groupRows, rows) }

    /// Asks the system to read the pages of `rows`' vectors now, in one request (the mapping of a
    /// segment with codes reads a page per fault otherwise).
    static func readAhead(_ vectors: UnsafeRawPointer, rows: Range<Int>, dimension: Int) {
        #if os(Linux)
        let page = UInt(ChunkLayout.pageBytes)
        let first = UInt(bitPattern: vectors + rows.lowerBound * dimension * 4) & ~(page - 1)
        let end = UInt(bitPattern: vectors + rows.upperBound * dimension * 4)
        if end > first { _ = madvise(UnsafeMutableRawPointer(bitPattern: first), Int(end - first), MADV_WILLNEED) }
        #endif
    }

    /// The CRC-32C of group `g`'s vectors.
    static func checksum(ofGroup g: Int, _ vectors: UnsafeRawPointer, dimension: Int, rows: Int, groupRows: Int) -> UInt32 {
        let range = Self.rows(ofGroup: g, rows: rows, groupRows: groupRows)
        return fv_crc32c(0, vectors + range.lowerBound * dimension * 4, range.count * dimension * 4)
    }

    /// The CRC-32C of each group's vectors.
    static func checksums(of vectors: UnsafeRawPointer, dimension: Int, rows: Int, groupRows: Int) -> [UInt32] {
        (0..<groups(rows: rows, groupRows: groupRows)).map { checksum(ofGroup: $0, vectors, dimension: dimension, rows: rows, groupRows: groupRows) }
    }

    /// The error naming damaged vectors.
    static func damaged(segment: String, rows: Range<Int>) -> FlatVecError {
        FlatVecError(.corruptData, "segment \(segment): the vectors of rows \(rows.lowerBound)..<\(rows.upperBound) do not match their checksum")
    }

    /// The first group of `rows` rows' vectors at `vectors` that does not match `checksums`, as rows.
    static func firstMismatch(_ vectors: UnsafeRawPointer, dimension: Int, rows: Int, groupRows: Int, checksums: [UInt32]) -> Range<Int>? {
        let g = checksums.indices.first { checksum(ofGroup: $0, vectors, dimension: dimension, rows: rows, groupRows: groupRows) != checksums[$0] }
        return g.map { Self.rows(ofGroup: $0, rows: rows, groupRows: groupRows) }
    }

    /// Groups found sound so far.
    var checkedGroups: Int { checksums.count - unchecked.load(ordering: .relaxed) }

    /// Whether every group has been found sound (one atomic load).
    @inline(__always)
    var isComplete: Bool { unchecked.load(ordering: .relaxed) == 0 }

    /// Checks the groups holding rows `range` (rows past the segment's are not its own: a chunk may
    /// append rows after them). - Returns: false if any is damaged (recorded).
    @inline(__always)
    @discardableResult
    func check(_ range: Range<Int>) -> Bool {
        guard !isComplete else { return true }
        let upper = min(range.upperBound, rows)
        guard range.lowerBound < upper else { return true }
        var sound = true
        for g in (range.lowerBound >> groupShift)...((upper - 1) >> groupShift) where !checkGroup(g) { sound = false }
        return sound
    }

    /// Checks the group holding row `row`.
    @inline(__always)
    @discardableResult
    func check(row: Int) -> Bool {
        guard !isComplete, row < rows else { return true }
        return checkGroup(row >> groupShift)
    }

    /// Checks the groups holding the `count` rows listed.
    @inline(__always)
    @discardableResult
    func check(rows list: UnsafePointer<UInt32>, count: Int) -> Bool {
        guard !isComplete else { return true }
        var sound = true
        for i in 0..<count where Int(list[i]) < rows && !checkGroup(Int(list[i]) >> groupShift) { sound = false }
        return sound
    }

    private func checkGroup(_ g: Int) -> Bool {
        let bit = UInt64(1) << UInt64(g & 63)
        if checked[g >> 6].load(ordering: .relaxed) & bit != 0 { return true }
        Self.readAhead(vectors, rows: Self.rows(ofGroup: g, rows: rows, groupRows: groupRows), dimension: dimension)
        guard Self.checksum(ofGroup: g, vectors, dimension: dimension, rows: rows, groupRows: groupRows) == checksums[g] else {
            damage.record(Self.damaged(segment: segment, rows: Self.rows(ofGroup: g, rows: rows, groupRows: groupRows)))
            return false
        }
        if checked[g >> 6].bitwiseOr(bit, ordering: .relaxed).oldValue & bit == 0 {
            unchecked.subtract(1, ordering: .relaxed)
        }
        return true
    }
}
