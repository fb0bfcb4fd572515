import FlatVecCore
import FlatVecProtocol
import Synchronization

/// One named collection: its index and the lock that orders its writes.
public final class Collection: Sendable {
    /// The name.
    public let name: String
    /// The index.
    public let index: FlatIndex
    /// Serialises "write to the store, then apply to the index" so both see writes in one order, and
    /// holds what a write must know before it starts (whether the collection still exists, which ids
    /// an interrupted write left in doubt).
    let writeOrder = Mutex<WriteState>(WriteState())

    /// The state a write checks under ``writeOrder``.
    struct WriteState {
        /// Set by DROP (and by a REBUILD that replaced this collection) under the write order: a write
        /// that looked the collection up before must not reach the store after the drop.
        var retired = false
        /// Ids whose last write has an unknown outcome (a COMMIT whose connection died): the index is
        /// brought back in line with the store for them before the next write.
        var inDoubt: Set<Int64> = []
    }

    /// Rows of the store's copy that the index could not hold when it was loaded (another program
    /// wrote them: a zero vector under cosine, a norm that overflows, ...); they were skipped.
    public let skippedRows: Int

    /// Creates a collection around an index.
    /// - Parameters:
    ///   - name: The name.
    ///   - index: The index.
    ///   - skippedRows: Rows skipped while loading the index from a store.
    public init(name: String, index: FlatIndex, skippedRows: Int = 0) {
        self.name = name
        self.index = index
        self.skippedRows = skippedRows
    }
}

/// The server's collections by name.
public final class CollectionRegistry: Sendable {
    private let collections = Mutex<[String: Collection]>([:])

    /// Creates an empty registry.
    public init() {}

    /// The collection named `name`.
    /// - Throws: ``FlatVecError/Code/unknownCollection``.
    public func collection(named name: String) throws(FlatVecError) -> Collection {
        guard let c = collections.withLock({ $0[name] }) else {
            throw FlatVecError(.unknownCollection, "no collection named '\(name)'")
        }
        return c
    }

    /// Adds a collection.
    /// - Throws: ``FlatVecError/Code/collectionExists``.
    public func insert(_ collection: Collection) throws(FlatVecError) {
        let inserted = collections.withLock { all -> Bool in
            guard all[collection.name] == nil else { return false }
            all[collection.name] = collection
            return true
        }
        guard inserted else { throw FlatVecError(.collectionExists, "a collection named '\(collection.name)' exists already") }
    }

    /// Whether a collection has that name.
    public func contains(_ name: String) -> Bool { collections.withLock { $0[name] != nil } }

    /// Removes a collection.
    /// - Throws: ``FlatVecError/Code/unknownCollection``.
    @discardableResult
    public func remove(named name: String) throws(FlatVecError) -> Collection {
        guard let removed = collections.withLock({ $0.removeValue(forKey: name) }) else {
            throw FlatVecError(.unknownCollection, "no collection named '\(name)'")
        }
        return removed
    }

    /// Swaps in rebuilt collections at once: with `all`, the registry becomes exactly `collections`;
    /// otherwise each given collection replaces the one of its name.
    public func replace(with collections: [Collection], all: Bool) {
        self.collections.withLock { current in
            if all { current.removeAll() }
            for c in collections { current[c.name] = c }
        }
    }

    /// Every collection, by name.
    public var all: [Collection] { collections.withLock { Array($0.values) }.sorted { $0.name < $1.name } }
}
