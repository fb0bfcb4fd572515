import FlatVecCore
import Synchronization

/// The collections being served, by name.
public final class CollectionRegistry: Sendable {
    private let collections = Mutex<[String: NamedIndex]>([:])

    /// Creates an empty registry.
    public init() {}

    /// The collection named `name`.
    /// - Throws: ``FlatVecError/Code/unknownCollection``.
    public func collection(named name: String) throws(FlatVecError) -> NamedIndex {
        guard let c = collections.withLock({ $0[name] }) else {
            throw FlatVecError(.unknownCollection, "no collection named '\(name)'")
        }
        return c
    }

    /// Adds a collection.
    /// - Throws: ``FlatVecError/Code/collectionExists``.
    public func insert(_ collection: NamedIndex) throws(FlatVecError) {
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
    public func remove(named name: String) throws(FlatVecError) -> NamedIndex {
        guard let removed = collections.withLock({ $0.removeValue(forKey: name) }) else {
            throw FlatVecError(.unknownCollection, "no collection named '\(name)'")
        }
        return removed
    }

    /// Swaps in rebuilt collections at once: with `all`, the registry becomes exactly `collections`;
    /// otherwise each given collection replaces the one of its name.
    public func replace(with collections: [NamedIndex], all: Bool) {
        self.collections.withLock { current in
            if all { current.removeAll() }
            for c in collections { current[c.name] = c }
        }
    }

    /// Every collection, by name.
    public var all: [NamedIndex] { collections.withLock { Array($0.values) }.sorted { $0.name < $1.name } }
}
