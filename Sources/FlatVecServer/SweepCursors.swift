import FlatVecCore
import Synchronization

/// The near-duplicate sweeps that clients read page by page (DUPLICATES), by cursor.
///
/// A cursor is a random 64-bit number, so one client cannot guess another's. A sweep not read for
/// ``idleLimit`` is dropped when a new one starts; at most ``maximumOpen`` are open at once.
final class SweepCursors: Sendable {
    /// Sweeps open at once, over every connection.
    static let maximumOpen = 64
    /// A sweep not read for this long may be dropped.
    static let idleLimit = Duration.seconds(600)

    struct Entry: Sendable {
        let sweep: DuplicateSweep
        let collection: String
        /// The index swept: a page fails once the collection holds another one (dropped, rebuilt).
        let index: FlatIndex
        var lastUsed: ContinuousClock.Instant
        var reading = false
    }

    private let entries = Mutex<[UInt64: Entry]>([:])
    private let clock = ContinuousClock()

    /// Registers a new sweep and returns its cursor.
    /// - Throws: `limit_exceeded` when ``maximumOpen`` sweeps are open and none is idle.
    func open(_ sweep: DuplicateSweep, collection: String, index: FlatIndex) throws(FlatVecError) -> UInt64 {
        let now = clock.now
        return try entries.withLock { (entries) throws(FlatVecError) -> UInt64 in
            if entries.count >= Self.maximumOpen {
                for (cursor, entry) in entries where !entry.reading && now - entry.lastUsed > Self.idleLimit {
                    entries[cursor] = nil
                }
            }
            guard entries.count < Self.maximumOpen else {
                throw FlatVecError(.limitExceeded, "\(Self.maximumOpen) duplicate sweeps are open: end one (or let one idle for 10 minutes) first")
            }
            var cursor: UInt64
            repeat { cursor = UInt64.random(in: 1...UInt64.max) } while entries[cursor] != nil
            entries[cursor] = Entry(sweep: sweep, collection: collection, index: index, lastUsed: now, reading: true)
            return cursor
        }
    }

    /// Takes the sweep of `cursor` for reading one page.
    /// - Throws: `invalid_argument` for a cursor not open (ended, dropped when idle, never given), of
    ///   another collection, or whose page another request is reading.
    func take(_ cursor: UInt64, collection: String) throws(FlatVecError) -> Entry {
        try entries.withLock { (entries) throws(FlatVecError) -> Entry in
            guard var entry = entries[cursor] else {
                throw FlatVecError(.invalidArgument, "no open duplicate sweep has cursor \(cursor): it ended, idled out, or was never started")
            }
            guard entry.collection == collection else {
                throw FlatVecError(.invalidArgument, "cursor \(cursor) sweeps collection '\(entry.collection)', not '\(collection)'")
            }
            guard !entry.reading else {
                throw FlatVecError(.invalidArgument, "a page of the sweep with cursor \(cursor) is being read by another request")
            }
            entry.reading = true
            entries[cursor] = entry
            return entry
        }
    }

    /// Gives the sweep of `cursor` back after a page (or drops it when `finished`).
    func give(back cursor: UInt64, finished: Bool) {
        let now = clock.now
        entries.withLock { entries in
            guard !finished else {
                entries[cursor] = nil
                return
            }
            entries[cursor]?.reading = false
            entries[cursor]?.lastUsed = now
        }
    }

    /// Ends the sweep of `cursor`.
    /// - Returns: The entry, if it was open.
    func end(_ cursor: UInt64) -> Entry? {
        entries.withLock { $0.removeValue(forKey: cursor) }
    }

    /// Sweeps open now.
    var count: Int { entries.withLock { $0.count } }
}
