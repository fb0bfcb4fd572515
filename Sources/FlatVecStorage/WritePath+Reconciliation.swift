import FlatVecCore

extension WritePath {
    /// Reconciles every write whose outcome was unknown with the store, if it can be reached. The
    /// engine's maintenance calls this every second, so the index catches up without waiting for the
    /// next write.
    /// - Returns: Whether nothing is left in doubt.
    @discardableResult
    public func reconcileWritesInDoubt() -> Bool {
        (try? locks.writing { scope throws(FlatVecError) -> Bool in
            try checkOpen()
            try scope.namespace { namespace, inDoubt throws(FlatVecError) in try reconcileNamespace(&inDoubt, namespace) }
            var clear = true
            for collection in registry.all {
                // A large ADD part-way into the index is left to its slices unless something is in
                // doubt (``reconcile(_:_:)``): finishing it here held every ADD of the collection for
                // all of its slices.
                let done = scope.inWriteOrderBesideSlicedApply(of: collection) { state -> Bool in
                    guard !state.retired else { return true }
                    return (try? reconcile(collection, &state)) != nil
                }
                clear = clear && done
            }
            return clear
        }) ?? false
    }

    /// Brings the index in line with the store for the attributes and ids in doubt (the store is the
    /// authority: its attributes are declared, a row it holds is upserted, an id it lacks is removed).
    /// Runs under the collection's write order. When anything is in doubt, a large ADD part-way into
    /// the index is all put in first; otherwise it is left to its slices.
    func reconcile(_ collection: NamedIndex, _ state: inout NamedIndex.WriteState) throws(FlatVecError) {
        guard state.attributesInDoubt || !state.inDoubt.isEmpty else { return }
        state.finishSlicedApply(collection.index)
        if state.attributesInDoubt {
            if store.canReadBack {
                let stored: [AttributeDefinition]?
                do {
                    stored = try store.attributes(of: collection.name)
                } catch {
                    throw FlatVecError(
                        .unavailable,
                        "the durable store failed, nothing was changed: an earlier attribute change's outcome is still unknown (\(error.message))"
                    )
                }
                if let stored { try matchAttributes(collection, to: stored) }
                logger?.notice("reconciled an attribute change of unknown outcome with the store", metadata: [
                    "collection": "\(collection.name)", "attributes": "\(stored?.map(\.name) ?? [])",
                ])
            }
            state.attributesInDoubt = false
        }
        guard !state.inDoubt.isEmpty else { return }
        let ids = Array(state.inDoubt)
        guard store.canReadBack else {
            // Nothing to read back (a local log whose sync failed): the client was told the outcome is
            // unknown, and the next start-up replays whatever reached the disk.
            state.inDoubt = []
            return
        }
        let rows: [StoredVector]
        do {
            rows = try store.fetch(collection: collection.name, ids: ids)
        } catch {
            throw FlatVecError(
                .unavailable,
                "the durable store failed, nothing was changed: an earlier write's outcome is still unknown (\(error.message))"
            )
        }
        let held = bringInLine(collection, ids: ids, rows: rows)
        state.inDoubt = []
        logger?.notice("reconciled writes of unknown outcome with the store", metadata: [
            "collection": "\(collection.name)", "ids": "\(ids.count)", "present": "\(held)", "absent": "\(ids.count - held)",
        ])
    }

    /// Declares and drops attributes until the index has `stored` (the store's). Runs under the write
    /// order.
    func matchAttributes(_ collection: NamedIndex, to stored: [AttributeDefinition]) throws(FlatVecError) {
        let index = collection.index
        for definition in index.attributes where !stored.contains(definition) {
            try index.dropAttribute(named: definition.name)
        }
        let current = index.attributes
        for definition in stored where !current.contains(definition) {
            try index.addAttribute(definition)
        }
    }

    /// Makes the index hold exactly `rows` for `ids` (the store's rows for them): present rows are
    /// upserted, ids without a row removed. A row the index cannot hold (written by another program)
    /// is skipped with a warning, as the loader does. Runs under the write order.
    /// - Returns: How many of the rows the index now holds.
    @discardableResult
    func bringInLine(_ collection: NamedIndex, ids: [Int64], rows: [StoredVector]) -> Int {
        let index = collection.index
        var held = 0
        func restore(_ part: ArraySlice<StoredVector>) throws(FlatVecError) {
            try index.restore(VectorBatch(
                dimension: index.dimension, ids: part.map(\.id), labels: part.map(\.label), vectors: part.flatMap(\.vector),
                payloads: part.map(\.payload), attributes: part.map(\.attributes)
            ))
        }
        do throws(FlatVecError) {
            try restore(rows[...])
            held = rows.count
        } catch {
            for i in rows.indices {
                do throws(FlatVecError) {
                    try restore(rows[i...i])
                    held += 1
                } catch {
                    logger?.warning("skipped a row the index cannot hold", metadata: [
                        "collection": "\(collection.name)", "id": "\(rows[i].id)", "error": "\(error)",
                    ])
                }
            }
        }
        let present = Set(rows.map(\.id))
        let gone = ids.filter { !present.contains($0) && index.contains(id: $0) }
        if !gone.isEmpty { try? index.remove(ids: gone) }
        return held
    }

    /// Brings the registry in line with the store for collections whose CREATE or DROP had an
    /// unknown outcome. Runs under the namespace lock.
    func reconcileNamespace(_ inDoubt: inout Set<String>, _ namespace: NamespaceScope) throws(FlatVecError) {
        guard !inDoubt.isEmpty else { return }
        guard store.canReadBack else {
            inDoubt = []
            return
        }
        for name in inDoubt.sorted() {
            let stored: NamedIndex?
            do {
                stored = try store.loadCollection(named: name)
            } catch {
                throw FlatVecError(
                    .unavailable,
                    "the durable store failed, nothing was changed: an earlier CREATE or DROP's outcome is still unknown (\(error.message))"
                )
            }
            if let stored, !registry.contains(name) {
                try? registry.insert(stored)
            } else if stored == nil, let current = try? registry.remove(named: name) {
                namespace.inWriteOrder(of: current) { $0.retired = true }
            }
            inDoubt.remove(name)
            logger?.notice("reconciled a CREATE or DROP of unknown outcome", metadata: ["collection": "\(name)", "exists": "\(stored != nil)"])
        }
    }
}
