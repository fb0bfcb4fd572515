/// The rows of an index at one instant, for writing them out while the index goes on serving and
/// changing (``FlatIndex/segmentView()``).
///
/// It holds the index's chunks themselves, not copies: while a view lives, a writer copies a chunk
/// before changing it (``ChunkedRows/writableChunk(_:)``), so what the view holds never changes.
/// Taking one costs a reference per chunk; a chunk is copied only if a writer touches it meanwhile.
public struct SegmentView: @unchecked Sendable {
    // @unchecked: the chunks are immutable while the view holds them (see above), and the rest are values.
    /// Components per vector.
    public let dimension: Int
    /// The index's metric.
    public let metric: Metric
    /// Rows at the instant.
    public let count: Int
    /// Bytes of payloads at the instant.
    public let payloadBytes: Int
    let rowsPerChunk: Int
    let codes: Bool
    let chunks: [VectorChunk]
    /// The segment file holding each chunk at the instant, if one does (read under the lock: a
    /// writer appending to a chunk afterwards clears the chunk's own mark).
    let segments: [SegmentFile?]
    let schema: [AttributeDefinition]
    let dictionaries: [String: KeywordDictionary]
    /// The index's record of damaged vectors: a view of a damaged index is never written (a chunk
    /// copied from damaged bytes would get checksums of its own).
    let damage: VectorDamage

    /// Chunks that hold rows.
    var occupiedChunks: Int { (count + rowsPerChunk - 1) / rowsPerChunk }

    /// Rows of chunk `index`.
    func rows(inChunk index: Int) -> Int { max(0, min(rowsPerChunk, count - index * rowsPerChunk)) }

    /// The segment files that already hold a chunk of the view (written by an earlier compaction, or mapped at start-up).
    public var keptSegments: [SegmentFile] { segments.compactMap { $0 } }
}
