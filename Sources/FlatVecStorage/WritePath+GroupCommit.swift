import FlatVecCore

#if canImport(Glibc)
import Glibc
#endif

extension WritePath {
    /// Batches above this many bytes of ids and vectors are staged (``addStaged(_:_:rejectAbove:_:)``)
    /// instead of joining a group.
    static let stagedAddBytes = 1 << 20

    /// Stores and applies a large ADD: the store writes its bytes ahead (``DurableStore/stageAdd(collection:batch:)``)
    /// outside the collection's write order, so the smaller writes of the collection go on meanwhile;
    /// only its commit waits in the write order. Duplicates, when refused, are checked there, against
    /// every write stored before the commit. It then goes into the index a slice at a time
    /// (``SlicedApply``), letting the ADDs queued meanwhile in between: searches see it part-way in
    /// while it is applied.
    func addStaged(
        _ collection: NamedIndex, _ validated: ValidatedBatch, rejectAbove: Float?, _ scope: WriteScope
    ) throws(FlatVecError) -> AddResult {
        var staged: StagedAdd?
        try durably("stage_add", { () throws(FlatVecError) in
            staged = try store.stageAdd(collection: collection.name, batch: validated.batch)
        }, ifOutcomeUnknown: {})
        let sliced = try scope.inWriteOrder(of: collection) { state throws(FlatVecError) -> SlicedApply in
            try checkLive(collection, state)
            try reconcile(collection, &state)
            if let threshold = rejectAbove {
                let matches = try collection.index.duplicates(of: validated, threshold: threshold, pending: [])
                guard matches.isEmpty else { throw .duplicateVectors(matches, threshold: threshold) }
            }
            try durably("add", { () throws(FlatVecError) in try store.commitAdd(staged!) },
                        ifOutcomeUnknown: { state.inDoubt.formUnion(validated.batch.ids) })
            let sliced = SlicedApply(validated)
            state.slicedApply = sliced
            return sliced
        }
        while true {
            Self.letQueuedAddsIn(collection)
            let result = scope.inWriteOrderBesideSlicedApply(of: collection) { state -> AddResult? in
                // Another write may have finished it.
                if state.slicedApply === sliced {
                    sliced.applyNext(to: collection.index)
                    if sliced.isDone { state.slicedApply = nil }
                }
                return sliced.isDone ? sliced.result : nil
            }
            if let result { return result }
        }
    }

    /// Waits (5 ms at most: a woken thread may wait that long for a core) until the ADDs queued for
    /// the collection's write order have taken it: a thread letting the lock go and taking it again
    /// at once would otherwise keep it.
    private static func letQueuedAddsIn(_ collection: NamedIndex) {
        let deadline = ContinuousClock.now + .milliseconds(5)
        while !collection.pendingAdds.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
            usleep(20)
        }
    }

    /// Stores and applies an ADD together with the ADDs of the same collection waiting meanwhile: one
    /// store write for all of them (one PostgreSQL transaction, one log sync), then each applied to the
    /// index in arrival order. All or none are stored; each caller gets its own counts, or the group's
    /// error (an outcome-unknown one puts every id of the group in doubt).
    ///
    /// An ADD that rejects duplicates is checked here, in arrival order, against the index and the
    /// ADDs of the group accepted before it; refused, it gets its error and the rest go on.
    func addInGroup(
        _ collection: NamedIndex, _ validated: ValidatedBatch, rejectAbove: Float? = nil, _ scope: WriteScope
    ) throws(FlatVecError) -> AddResult {
        let mine = NamedIndex.PendingAdd(validated, rejectAbove: rejectAbove)
        collection.pendingAdds.withLock { $0.append(mine) }
        return try scope.inWriteOrderBesideSlicedApply(of: collection) { state throws(FlatVecError) -> AddResult in
            // Another thread may have stored this ADD while this one waited for the write order.
            if let outcome = mine.outcome { return try outcome.get() }
            do throws(FlatVecError) {
                try checkLive(collection, state)
                try reconcile(collection, &state)
            } catch {
                // Under the write order, so no other thread can have taken it from the queue meanwhile.
                collection.pendingAdds.withLock { $0.removeAll { $0 === mine } }
                throw error
            }
            let queued = collection.pendingAdds.withLock { queue in
                defer { queue.removeAll() }
                return queue
            }
            // ADDs may pass a large one part-way into the index only where the order between them
            // cannot show: ids it does not hold, and no duplicate check (which must see all of it).
            if let sliced = state.slicedApply,
               queued.contains(where: { $0.rejectAbove != nil || $0.batch.batch.ids.contains(where: sliced.ids.contains) }) {
                state.finishSlicedApply(collection.index)
            }
            var group: [NamedIndex.PendingAdd] = []
            for add in queued {
                if let threshold = add.rejectAbove {
                    do throws(FlatVecError) {
                        let matches = try collection.index.duplicates(of: add.batch, threshold: threshold, pending: group.map(\.batch.batch))
                        guard matches.isEmpty else {
                            add.outcome = .failure(.duplicateVectors(matches, threshold: threshold))
                            continue
                        }
                    } catch {
                        add.outcome = .failure(error)
                        continue
                    }
                }
                group.append(add)
            }
            guard !group.isEmpty else { return try mine.outcome!.get() }
            do throws(FlatVecError) {
                let batch = group.count == 1 ? group[0].batch.batch : try Self.merged(group.map(\.batch.batch), dimension: collection.index.dimension)
                try durably("add", { () throws(FlatVecError) in try store.add(collection: collection.name, batch: batch) },
                            ifOutcomeUnknown: { state.inDoubt.formUnion(batch.ids) })
            } catch {
                for add in group { add.outcome = .failure(error) }
                throw error
            }
            for add in group { add.outcome = .success(collection.index.add(add.batch)) }
            return try mine.outcome!.get()
        }
    }

    /// Batches in arrival order as one, each id once with its last row (what applying them in order
    /// leaves in the index).
    static func merged(_ batches: [VectorBatch], dimension: Int) throws(FlatVecError) -> VectorBatch {
        var last: [Int64: (batch: Int, row: Int)] = [:]
        for (b, batch) in batches.enumerated() {
            for (r, id) in batch.ids.enumerated() { last[id] = (b, r) }
        }
        var ids: [Int64] = [], labels: [Int64] = [], vectors: [Float] = []
        var payloads: [[UInt8]?] = [], attributes: [[String: AttributeValue]] = []
        for (b, batch) in batches.enumerated() {
            for (r, id) in batch.ids.enumerated() where last[id]! == (b, r) {
                ids.append(id)
                labels.append(batch.labels[r])
                vectors.append(contentsOf: batch.vectors[(r * dimension)..<((r + 1) * dimension)])
                payloads.append(batch.payloads.isEmpty ? nil : batch.payloads[r])
                attributes.append(batch.attributes.isEmpty ? [:] : batch.attributes[r])
            }
        }
        // Every part was validated and ids are now unique, so this does not fail.
        return try VectorBatch(dimension: dimension, ids: ids, labels: labels, vectors: vectors, payloads: payloads, attributes: attributes)
    }
}
