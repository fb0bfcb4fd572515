import Synchronization

/// The first damage found in an index's stored vectors, kept for the life of the index.
///
/// A segment's vectors are checked a group of rows at a time when first read (``VectorChecks``).
/// A group that fails its check is recorded here, and from then on the index answers no search and
/// writes no segment: what it would serve or store could come from damaged bytes. The damage is in
/// a file, so it lasts until the file is restored: a restart finds it again when the rows are read.
final class VectorDamage: Sendable {
    private let found = Atomic<Bool>(false)
    private let first = Mutex<FlatVecError?>(nil)

    /// Records damage (the first record is kept).
    func record(_ error: FlatVecError) {
        first.withLock { first in
            if first == nil { first = error }
        }
        found.store(true, ordering: .releasing)
    }

    /// The damage found so far, if any (one atomic load when there is none).
    @inline(__always)
    var error: FlatVecError? {
        guard found.load(ordering: .acquiring) else { return nil }
        return first.withLock { $0 }
    }

    /// Throws the damage found so far, if any.
    @inline(__always)
    func check() throws(FlatVecError) {
        if let error { throw error }
    }
}
