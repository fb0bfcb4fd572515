import FlatVecCore

/// A store's log of committed changes, read by a server that follows it (``DurableStore/makeChangeFeed()``).
///
/// The follower keeps a cursor (an opaque, growing ``UInt64``), reads the changes past it, applies
/// them, then moves the cursor on. A change names what changed, never the new contents: the follower
/// reads the current rows back (``fetch(collection:ids:)``), so applying a change twice, or late,
/// is harmless, and the last read of a row always reflects its last commit.
public protocol ChangeFeed: Sendable {
    /// The cursor of the store's last full load (``DurableStore/loadCollections()``): every change
    /// below it is in what was loaded.
    func startingCursor() throws(FlatVecError) -> UInt64

    /// The changes committed past `cursor`, or ``ChangeRead/trimmed`` if some of them were deleted
    /// from the log before this follower read them.
    func read(after cursor: UInt64) throws(FlatVecError) -> ChangeRead

    /// Waits until the store signals new changes or `timeoutMillis` pass.
    func waitForChanges(timeoutMillis: Int32) throws(FlatVecError)

    /// The rows the store holds now for `ids` (absent ids are left out).
    func fetch(collection: String, ids: [Int64]) throws(FlatVecError) -> [StoredVector]

    /// The collection as the store holds it now, or nil if it has none of that name.
    func loadCollection(named name: String) throws(FlatVecError) -> NamedIndex?

    /// The attributes the store declares for a collection, or nil if it has none of that name.
    func attributes(of collection: String) throws(FlatVecError) -> [AttributeDefinition]?

    /// Every collection, and the cursor to follow from after them.
    func loadAll() throws(FlatVecError) -> (collections: [NamedIndex], cursor: UInt64)

    /// Deletes old changes from the log (by age and count).
    /// - Returns: How many were deleted.
    func trim() throws(FlatVecError) -> Int
}

/// What ``ChangeFeed/read(after:)`` found.
public enum ChangeRead: Sendable {
    /// The changes, and the cursor to read from next once they are applied.
    case changes(StoreChanges, next: UInt64)
    /// Changes past the cursor were trimmed from the log: the follower must reload everything.
    case trimmed
}

/// Committed changes other writers made, grouped the way a follower applies them.
public struct StoreChanges: Sendable, Equatable {
    /// Collections created, dropped, recreated or truncated: load them whole (or forget them).
    public var reload: Set<String> = []
    /// Collections whose attributes were added or dropped.
    public var attributes: Set<String> = []
    /// Ids whose rows were inserted, updated or deleted, by collection.
    public var rows: [String: Set<Int64>] = [:]
    /// The largest log position read per collection (the follower's own writes included).
    public var positions: [String: UInt64] = [:]
    /// Changes this server wrote itself (applied already when they were written), skipped.
    public var ownChanges = 0
    /// Changes other writers committed past the cursor that cannot be read yet (an older transaction
    /// is still running), by collection.
    public var unsettled: [String: Int] = [:]
    /// How old the oldest of those is, by collection, in milliseconds.
    public var unsettledAgeMillis: [String: UInt64] = [:]

    /// Creates an empty set of changes.
    public init() {}

    /// Whether there is nothing to apply.
    public var isEmpty: Bool { reload.isEmpty && attributes.isEmpty && rows.isEmpty }
}
