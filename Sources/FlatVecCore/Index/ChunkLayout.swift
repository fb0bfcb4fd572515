import CFlatVecKernels

/// Where each fixed-size section of a chunk lives inside its one block of memory (the same bytes a
/// segment file holds after its header page, so a segment is mapped as it is; see proto-spec/SNAPSHOT.md).
///
/// Sections, each starting on a 64-byte boundary: float32 vectors (`capacity x dimension`), ids
/// (i64), labels (i64), then with codes: the int8 codes in blocks of 16 rows, `FV_I8_META_DOUBLES`
/// columns of `capacity` doubles (each row's scale and error figures), and last the same codes row
/// by row (`fv_i8_padded_dim(dimension)` bytes a row; built only once a filtered scan gathers rows
/// of the chunk, so until then its pages are never touched, and never stored in a segment). The
/// block is a whole number of 4 KiB pages.
struct ChunkLayout: Equatable, Sendable {
    let capacity: Int
    let dimension: Int
    let codes: Bool
    let ids: Int
    let labels: Int
    let blockedCodes: Int
    let rowCodes: Int
    let codeMeta: Int
    /// Bytes of the whole block, a multiple of ``pageBytes``.
    let bytes: Int

    static let pageBytes = 4096

    init(capacity: Int, dimension: Int, codes: Bool) {
        self.capacity = capacity
        self.dimension = dimension
        self.codes = codes
        func line(_ n: Int) -> Int { (n + 63) & ~63 }
        ids = line(capacity * dimension * 4)
        labels = ids + line(capacity * 8)
        let afterLabels = labels + line(capacity * 8)
        if codes {
            blockedCodes = afterLabels
            codeMeta = blockedCodes + line(fv_i8_code_bytes(capacity, dimension))
            rowCodes = codeMeta + line(Int(FV_I8_META_DOUBLES) * capacity * 8)
            let end = rowCodes + line(capacity * fv_i8_padded_dim(dimension))
            bytes = (end + Self.pageBytes - 1) / Self.pageBytes * Self.pageBytes
        } else {
            blockedCodes = afterLabels
            rowCodes = afterLabels
            codeMeta = afterLabels
            bytes = (afterLabels + Self.pageBytes - 1) / Self.pageBytes * Self.pageBytes
        }
    }

    /// Bytes of the blocked int8 codes and their figures (0 without codes).
    var blockedCodeBytes: Int { codes ? codeMeta + Int(FV_I8_META_DOUBLES) * capacity * 8 - blockedCodes : 0 }

    /// Bytes of the codes row by row (0 without codes).
    var rowCodeBytes: Int { codes ? capacity * fv_i8_padded_dim(dimension) : 0 }
}
