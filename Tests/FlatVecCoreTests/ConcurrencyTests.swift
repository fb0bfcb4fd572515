import CFlatVecKernels
import Dispatch
import Synchronization
import Testing
@testable import FlatVecCore

@Suite struct ConcurrencyTests {
    /// Log entry of a writer: an upsert (with its vector) or a removal.
    struct Operation: Sendable {
        var id: Int64
        var vector: [Float]?
    }

    /// Removers empty the churn rows while an adder appends and replaces, and readers search.
    /// Anchors are never removed, but each removal moves the last row into the hole, and the last row is
    /// often an anchor: every search must still find every anchor as its own top hit, exactly once.
    /// Afterwards the index must equal a reference replaying the operations each writer completed.
    /// With every scan (float32, and int8 on each kernel this CPU runs). Under int8 the anchor's score
    /// is always exactly its float32 single-query score (a stale code would show); under float32 a
    /// query merged into a larger scan may be scored by a batch kernel, a last bit apart.
    @Test(arguments: ScanChoice.all)
    func concurrentAddRemoveSearchKeepsEveryAnchorVisible(choice: ScanChoice) throws {
        let d = 32
        let anchors = 64
        let churn = 20_000
        // Hundreds of chunks: searches take and drop the lock often.
        let configuration = choice.configuration(searchThreads: 2, rowsPerChunk: 64)
        // Anchors are `kind = "anchor"`, the first rows of churn `kind = "churn"`; rows added later
        // have no kind. Filtered searches (gathering 64 rows, or masking almost all) must find the
        // anchors as the unfiltered ones do while removals move rows and their attribute values.
        let index = try FlatIndex(
            dimension: d, configuration: configuration, attributes: [try AttributeDefinition(name: "kind", type: .keyword)]
        )
        let anchorsOnly = try Filter(parsing: #"kind = "anchor""#)
        let anythingKnown = try Filter(parsing: #"kind != "nothing""#)
        var random = SeededRandom(seed: 7)
        // Anchor i is 100 * u_i for a random unit vector u_i: query u_i scores it 100, any other anchor
        // far less, and churn vectors (components in [-1, 1], norm below 6) less than 6.
        let anchorVectors = (0..<anchors).map { _ in ReferenceIndex.normalised(random.uniformVector(d)).map { $0 * 100 } }
        var ids: [Int64] = []
        var vectors: [Float] = []
        var reference = ReferenceIndex(dimension: d)
        var anchorSlots = Set((0..<anchors).map { _ in Int.random(in: 0..<(churn + anchors), using: &random) })
        while anchorSlots.count < anchors { anchorSlots.insert(Int.random(in: 0..<(churn + anchors), using: &random)) }
        var nextAnchor = 0
        var nextChurn: Int64 = 1_000_000
        for slot in 0..<(churn + anchors) {
            let id: Int64
            let v: [Float]
            if anchorSlots.contains(slot) {
                (id, v) = (Int64(nextAnchor), anchorVectors[nextAnchor])
                nextAnchor += 1
            } else {
                (id, v) = (nextChurn, random.uniformVector(d))
                nextChurn += 1
            }
            ids.append(id)
            vectors += v
            reference.upsert(id: id, label: 0, vector: v, attributes: ["kind": .keyword(id < Int64(anchors) ? "anchor" : "churn")])
        }
        try index.add(VectorBatch(
            dimension: d, ids: ids, labels: Array(repeating: 0, count: ids.count), vectors: vectors,
            attributes: ids.map { ["kind": .keyword($0 < Int64(anchors) ? "anchor" : "churn")] }
        ))
        let churnIDs = ids.filter { $0 >= 1_000_000 }

        let removers = 2
        let logs = Mutex<[[Operation]]>(Array(repeating: [], count: removers + 1))
        let failures = Mutex<[String]>([])
        let searches = Atomic<Int>(0)
        let writersDone = Atomic<Int>(0)
        let allAnchorQueries = anchorVectors.flatMap { $0.map { $0 / 100 } }
        // Each anchor's float32 score against its own query, by the single-query kernel.
        let anchorScores: [Float] = (0..<anchors).map { a in
            var score: Float = 0
            fv_dot_rows(anchorVectors[a], 1, d, anchorVectors[a].map { $0 / 100 }, &score)
            return score
        }
        runOnThreads(removers + 1 + 3) { worker in
            var random = SeededRandom(seed: UInt64(100 + worker))
            var log: [Operation] = []
            if worker < removers {
                var owned = churnIDs.enumerated().filter { $0.offset % removers == worker }.map(\.element)
                owned.shuffle(using: &random)
                for id in owned {
                    try! index.remove(ids: [id])
                    log.append(Operation(id: id, vector: nil))
                }
            } else if worker == removers {
                var added: [Int64] = []
                for step in 0..<2_000 {
                    let v = random.uniformVector(d)
                    if step % 2 == 0 || added.isEmpty {
                        let id = Int64(5_000_000 + step)
                        try! index.add(id: id, vector: v)
                        added.append(id)
                        log.append(Operation(id: id, vector: v))
                    } else {
                        let id = added.randomElement(using: &random)!
                        try! index.add(id: id, vector: v)
                        log.append(Operation(id: id, vector: v))
                    }
                }
            } else {
                var rounds = 0
                while writersDone.load(ordering: .sequentiallyConsistent) < removers + 1 || rounds < 5 {
                    rounds += 1
                    let which: [Int]
                    let queries: [Float]
                    if worker == removers + 1 {
                        which = [Int.random(in: 0..<anchors, using: &random)]
                        queries = anchorVectors[which[0]].map { $0 / 100 }
                    } else if worker == removers + 2 {
                        // 64 queries, or 32 (plain int8 batches of 16 to 63 list their candidates and
                        // rescore them after the scan, unless a writer ran meanwhile).
                        let count = rounds % 2 == 0 ? anchors : 32
                        which = Array(0..<count)
                        queries = Array(allAnchorQueries[0..<(count * d)])
                    } else {
                        // 192 queries: the path where threads split the queries, not the chunks.
                        which = Array(0..<anchors) + Array(0..<anchors) + Array(0..<anchors)
                        queries = allAnchorQueries + allAnchorQueries + allAnchorQueries
                    }
                    // The first two searchers take turns: no filter, a filter few rows match, one most match.
                    let filter: Filter? = worker == removers + 3 ? nil : [nil, anchorsOnly, anythingKnown][rounds % 3]
                    let results = try! index.search(batch: queries, options: SearchOptions(k: 3, filter: filter))
                    for (q, hits) in results.enumerated() {
                        if filter == anchorsOnly, !hits.allSatisfy({ $0.id < Int64(anchors) }) {
                            failures.withLock { $0.append("a filtered search for anchors returned \(hits.map(\.id))") }
                        }
                        if hits.first?.id != Int64(which[q]) {
                            failures.withLock { $0.append("anchor \(which[q]) missed: got \(hits.map(\.id))") }
                        } else if choice.scan == .int8, hits[0].score != anchorScores[which[q]] {
                            failures.withLock { $0.append("anchor \(which[q]) scored \(hits[0].score), not \(anchorScores[which[q]])") }
                        }
                        if Set(hits.map(\.id)).count != hits.count {
                            failures.withLock { $0.append("duplicate ids in \(hits.map(\.id))") }
                        }
                    }
                    searches.add(1, ordering: .relaxed)
                }
                return
            }
            logs.withLock { $0[worker] = log }
            writersDone.add(1, ordering: .sequentiallyConsistent)
        }
        let found = failures.withLock { $0 }
        #expect(found.isEmpty, "\(found.count) failures, first: \(found.prefix(3))")
        #expect(searches.load(ordering: .relaxed) > 10)
        for log in logs.withLock({ $0 }) {
            for op in log {
                if let v = op.vector { reference.upsert(id: op.id, label: 0, vector: v) } else { reference.remove(id: op.id) }
            }
        }
        #expect(index.count == anchors + 1_000)
        #expect(index.allRows() == reference.allRows())
    }

    @Test func addsNeverReallocateFullChunks() throws {
        let index = try FlatIndex(dimension: 512)
        let perChunk = index.statistics.rowsPerChunk
        var random = SeededRandom(seed: 3)
        func batch(_ ids: Range<Int64>) throws -> VectorBatch {
            let vectors = ids.flatMap { _ in random.quantizedVector(512) }
            return try VectorBatch(dimension: 512, ids: Array(ids), labels: Array(repeating: 0, count: ids.count), vectors: vectors)
        }
        // The first chunk grows with the first rows (a small collection holds little memory)...
        try index.add(batch(1..<2))
        #expect(index.lock.withReaderLock { index.rows.chunks[0].capacity } == 16)
        try index.add(batch(2..<40))
        #expect(index.lock.withReaderLock { index.rows.chunks[0].capacity } == 64)
        try index.add(batch(40..<Int64(perChunk + 1)))
        // ...and once full, no chunk moves again.
        let first = index.lock.withReaderLock { index.rows.chunks[0].vectors }
        try index.add(batch(Int64(perChunk + 1)..<Int64(perChunk * 3 + 2)))
        let after = index.lock.withReaderLock { index.rows.chunks[0].vectors }
        #expect(first == after, "a full chunk must not be reallocated by later adds")
        #expect(index.statistics.chunkCount == 4)
        #expect(index.count == perChunk * 3 + 1)
    }
}
