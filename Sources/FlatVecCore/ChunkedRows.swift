/// The rows of an index in fixed-size chunks, with the id -> row map.
///
/// Row `r` lives in chunk `r / rowsPerChunk` at offset `r % rowsPerChunk`. Rows are dense: a
/// removal moves the last row into the hole. Not thread-safe: ``FlatIndex`` guards it.
struct ChunkedRows {
    let dimension: Int
    let rowsPerChunk: Int
    private(set) var chunks: [VectorChunk] = []
    private(set) var count = 0
    private(set) var idMap = IDMap()
    private(set) var payloadBytes = 0
    /// Supplies new chunks with their pages already faulted in.
    let reserve: ChunkReserve
    /// Bumped whenever a row moves to a new position; a search that sees it change dedupes ids.
    private(set) var moveEpoch: UInt64 = 0

    init(dimension: Int, rowsPerChunk: Int? = nil, codes: Bool = false) {
        self.dimension = dimension
        self.rowsPerChunk = rowsPerChunk ?? ChunkedRows.rowsPerChunk(dimension: dimension)
        precondition(self.rowsPerChunk % 16 == 0, "int8 codes come in blocks of 16 rows")
        reserve = ChunkReserve(capacity: self.rowsPerChunk, dimension: dimension, codes: codes)
    }

    /// About 4 MiB of vectors per chunk, a power of two between 64 and 8192 rows.
    static func rowsPerChunk(dimension: Int) -> Int {
        let target = (4 << 20) / (4 * max(dimension, 1))
        var rows = 64
        while rows * 2 <= target && rows < 8192 { rows *= 2 }
        return rows
    }

    /// Number of rows stored in chunk `index` now (0 if the chunk is gone or past the end).
    @inline(__always)
    func rows(inChunk index: Int) -> Int {
        let start = index * rowsPerChunk
        return max(0, min(rowsPerChunk, count - start))
    }

    /// Number of chunks that hold rows now.
    var occupiedChunkCount: Int { (count + rowsPerChunk - 1) / rowsPerChunk }

    @inline(__always)
    func location(of row: Int) -> (chunk: VectorChunk, offset: Int) {
        (chunks[row / rowsPerChunk], row % rowsPerChunk)
    }

    func row(of id: Int64) -> Int? { idMap.row(of: id) }

    var memoryBytes: Int {
        chunks.reduce(0) { $0 + $1.fixedBytes } + idMap.memoryBytes + payloadBytes
    }

    /// Bytes of int8 codes and their figures (included in ``memoryBytes``).
    var codeBytes: Int { chunks.reduce(0) { $0 + $1.codeBytes } }

    /// Upserts one prepared row: overwrites in place if the id exists, else appends.
    mutating func upsert(id: Int64, label: Int64, vector: UnsafePointer<Float>, payload: [UInt8]?) {
        if let row = idMap.row(of: id) {
            let (chunk, offset) = location(of: row)
            chunk.setVector(at: offset, from: vector)
            chunk.labels[offset] = label
            payloadBytes += (payload?.count ?? 0) - (chunk.payloads[offset]?.count ?? 0)
            chunk.payloads[offset] = payload
            return
        }
        let row = count
        let offset = row % rowsPerChunk
        if offset == 0 && row / rowsPerChunk == chunks.count {
            chunks.append(reserve.take())
        }
        let chunk = chunks[row / rowsPerChunk]
        chunk.setVector(at: offset, from: vector)
        chunk.ids[offset] = id
        chunk.labels[offset] = label
        if chunk.payloads.count == offset {
            chunk.payloads.append(payload)
        } else {
            chunk.payloads[offset] = payload
        }
        payloadBytes += payload?.count ?? 0
        idMap.set(id, row: row)
        count += 1
    }

    /// Removes the row of `id` (which must exist) by moving the last row into its place.
    mutating func remove(id: Int64) {
        guard let row = idMap.row(of: id) else { preconditionFailure("remove of an absent id") }
        let last = count - 1
        let (chunk, offset) = location(of: row)
        payloadBytes -= chunk.payloads[offset]?.count ?? 0
        if row != last {
            let (lastChunk, lastOffset) = location(of: last)
            chunk.copyVector(at: offset, from: lastChunk, offset: lastOffset)
            let movedID = lastChunk.ids[lastOffset]
            chunk.ids[offset] = movedID
            chunk.labels[offset] = lastChunk.labels[lastOffset]
            chunk.payloads[offset] = lastChunk.payloads[lastOffset]
            lastChunk.payloads[lastOffset] = nil
            idMap.set(movedID, row: row)
            moveEpoch &+= 1
        } else {
            chunk.payloads[offset] = nil
        }
        idMap.remove(id)
        count = last
        // Keep one spare chunk past the end so add/remove at a boundary does not thrash the allocator.
        while chunks.count > occupiedChunkCount + 1 {
            chunks.removeLast()
        }
        let tailChunk = count / rowsPerChunk
        if tailChunk < chunks.count {
            let keep = count % rowsPerChunk
            if chunks[tailChunk].payloads.count > keep {
                chunks[tailChunk].payloads.removeSubrange(keep...)
            }
        }
    }
}
