import Dispatch
import Foundation
import Synchronization
import Testing
@testable import FlatVecCore

/// Searches that wait on one index share scans, each with its own options and exact hits.
@Suite struct SearchCoalescerTests {
    /// Holds the scans a test's `runScan` was asked to run, so the test decides when they run and
    /// every search submitted meanwhile is waiting: the merging is deterministic.
    final class HeldScans: Sendable {
        private let work = Mutex<[@Sendable () -> Void]>([])

        var runScan: @Sendable (@escaping @Sendable () -> Void) -> Void {
            { work in self.work.withLock { $0.append(work) } }
        }

        var count: Int { work.withLock { $0.count } }

        /// Runs the held scans (and any they hand on) until none is left.
        func runAll() {
            while let next = work.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { next() }
        }
    }

    /// Results of callback searches, by submission number.
    final class Outcomes: Sendable {
        let results = Mutex<[Int: Result<[[SearchHit]], FlatVecError>]>([:])
        let order = Mutex<[Int]>([])

        func completion(_ n: Int) -> @Sendable (Result<[[SearchHit]], FlatVecError>) -> Void {
            { result in
                self.results.withLock { $0[n] = result }
                self.order.withLock { $0.append(n) }
            }
        }

        func hits(_ n: Int) throws -> [[SearchHit]] {
            let result = try #require(results.withLock { $0[n] }, "search \(n) was never answered")
            return try result.get()
        }
    }

    /// A counter closures can share (an `Atomic` cannot be captured by an escaping closure).
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    static func expectEquivalent(_ got: [[SearchHit]], _ expected: [[SearchHit]], metric: Metric, _ context: String) {
        let same = ReferenceIndex.equivalent(got, expected, metric: metric)
        #expect(same, "\(context): got \(got.map { $0.map(\.id) }), expected \(expected.map { $0.map(\.id) })")
    }

    /// Searches submitted while a scan is held all go into the next scan, each answered exactly.
    @Test(arguments: [Metric.innerProduct, .cosine])
    func waitingSearchesShareOneScanAndEachGetsItsOwnExactHits(metric: Metric) throws {
        var random = SeededRandom(seed: metric == .cosine ? 5 : 4)
        let d = 24
        let index = try FlatIndex(dimension: d, metric: metric, configuration: .init(searchThreads: 2))
        var reference = ReferenceIndex(dimension: d, metric: metric)
        try SearchCorrectnessTests.populate(index, &reference, count: 3_000, labels: 20, random: &random)
        let held = HeldScans()
        let outcomes = Outcomes()
        var expected: [[[SearchHit]]] = []
        for n in 0..<64 {
            let nq = n % 9 == 0 ? 3 : 1
            let queries = (0..<nq).map { _ in random.quantizedVector(d) }
            let options = random.searchOptions(labels: 20)
            expected.append(queries.map { reference.search($0, options: options) })
            try index.submitSearch(batch: queries.flatMap { $0 }, options: options, runScan: held.runScan, completion: outcomes.completion(n))
        }
        #expect(held.count == 1, "only the first search starts a scan; the others wait for it")
        held.runAll()
        for n in 0..<64 {
            Self.expectEquivalent(try outcomes.hits(n), expected[n], metric: metric, "\(metric) search \(n)")
        }
        let counters = index.statistics.searching
        // The scan starts once the test lets it, and by then all 64 searches (80 queries) wait.
        #expect(counters.scans == 1)
        #expect(counters.searches == 64)
        #expect(counters.queries == 64 + 8 * 2)
        #expect(counters.largestScan == 80)
    }

    /// A 1,000-query request and 32 single queries take turns: every single query is answered by the
    /// first scan after it arrived, and the large request still finishes.
    @Test func largeRequestsTakeTurnsWithSingleQueries() throws {
        var random = SeededRandom(seed: 8)
        let d = 16
        let index = try FlatIndex(dimension: d, configuration: .init(searchThreads: 2, maximumQueriesPerScan: 256))
        var reference = ReferenceIndex(dimension: d)
        try SearchCorrectnessTests.populate(index, &reference, count: 2_000, random: &random)
        let held = HeldScans()
        let outcomes = Outcomes()
        let options = SearchOptions(k: 5)
        let large = (0..<1_000).map { _ in random.quantizedVector(d) }
        // Submitted while a single query's scan is held, so all 33 requests wait together.
        let first = random.quantizedVector(d)
        try index.submitSearch(batch: first, options: options, runScan: held.runScan, completion: outcomes.completion(-1))
        try index.submitSearch(batch: large.flatMap { $0 }, options: options, runScan: held.runScan, completion: outcomes.completion(0))
        var singles: [[Float]] = []
        for n in 1...32 {
            let q = random.quantizedVector(d)
            singles.append(q)
            try index.submitSearch(batch: q, options: options, runScan: held.runScan, completion: outcomes.completion(n))
        }
        held.runAll()
        let order = outcomes.order.withLock { $0 }
        #expect(order.count == 34)
        #expect(order.last == 0, "the large request finishes last: \(order)")
        // The first scan: the first query, 64 of the large request, the 32 singles, 159 more of the
        // large request. Then 4 scans for its remaining 776 queries (256, 256, 256, 8).
        #expect(Set(order.prefix(33)) == Set([-1] + Array(1...32)), "every single query is answered by the first scan: \(order)")
        #expect(index.statistics.searching.scans == 5)
        #expect(index.statistics.searching.largestScan == 256)
        SearchCorrectnessTests.expectSame(try outcomes.hits(0), large.map { reference.search($0, options: options) }, "large request")
        for n in 1...32 {
            SearchCorrectnessTests.expectSame(try outcomes.hits(n), [reference.search(singles[n - 1], options: options)], "single \(n)")
        }
    }

    /// A search whose caller has gone is dropped unscanned and answered with an error; the others
    /// waiting with it are not disturbed.
    @Test func searchesOfAGoneCallerAreDroppedAndTheOthersAnswered() throws {
        var random = SeededRandom(seed: 9)
        let d = 8
        let index = try FlatIndex(dimension: d)
        var reference = ReferenceIndex(dimension: d)
        try SearchCorrectnessTests.populate(index, &reference, count: 500, random: &random)
        let held = HeldScans()
        let outcomes = Outcomes()
        let gone = Counter()
        let options = SearchOptions(k: 3)
        let queries = (0..<4).map { _ in random.quantizedVector(d) }
        for (n, q) in queries.enumerated() {
            let cancellable = n == 1 || n == 2
            let cancelled: @Sendable () -> Bool = { cancellable && gone.value.load(ordering: .relaxed) > 0 }
            try index.submitSearch(batch: q, options: options, isCancelled: cancelled, runScan: held.runScan, completion: outcomes.completion(n))
        }
        gone.value.store(1, ordering: .relaxed)
        held.runAll()
        for n in [0, 3] {
            SearchCorrectnessTests.expectSame(try outcomes.hits(n), [reference.search(queries[n], options: options)], "search \(n)")
        }
        for n in [1, 2] {
            #expect(throws: FlatVecError.self) { try outcomes.hits(n) }
        }
        let counters = index.statistics.searching
        #expect(counters.dropped == 2)
        #expect(counters.queries == 2)
    }

    /// A search whose caller goes while it waits its turn (here: scans of one query, so it is next in
    /// line when the first is answered) is dropped, and the queue does not stall: a later search
    /// starts a scan at once.
    @Test func aGoneCallerNextInLineDoesNotStallTheQueue() throws {
        var random = SeededRandom(seed: 10)
        let index = try FlatIndex(dimension: 8, configuration: .init(maximumQueriesPerScan: 1))
        var reference = ReferenceIndex(dimension: 8)
        try SearchCorrectnessTests.populate(index, &reference, count: 300, random: &random)
        let held = HeldScans()
        let outcomes = Outcomes()
        let polls = Counter()
        let options = SearchOptions(k: 2)
        try index.submitSearch(batch: random.quantizedVector(8), options: options, runScan: held.runScan, completion: outcomes.completion(0))
        // Present when the first scan is chosen, gone by the time the first search is answered.
        try index.submitSearch(
            batch: random.quantizedVector(8), options: options, isCancelled: { polls.value.add(1, ordering: .relaxed).newValue > 1 },
            runScan: held.runScan, completion: outcomes.completion(1)
        )
        held.runAll()
        #expect(try outcomes.hits(0).count == 1)
        #expect(throws: FlatVecError.self) { try outcomes.hits(1) }
        let q = random.quantizedVector(8)
        try index.submitSearch(batch: q, options: options, runScan: held.runScan, completion: outcomes.completion(2))
        #expect(held.count == 1, "a search arriving at an idle queue starts a scan at once")
        held.runAll()
        SearchCorrectnessTests.expectSame(try outcomes.hits(2), [reference.search(q, options: options)], "search 2")
        #expect(index.statistics.searching.dropped == 1)
    }

    /// 64 threads search one index at once with mixed options and both metrics; every answer equals
    /// the brute-force reference, and the searches shared scans.
    @Test(arguments: [Metric.innerProduct, .cosine])
    func sixtyFourConcurrentCallersGetExactAnswers(metric: Metric) throws {
        var random = SeededRandom(seed: metric == .cosine ? 12 : 11)
        let d = 48
        var configuration = FlatIndex.Configuration(searchThreads: 2)
        configuration.rowsPerChunk = 512
        let index = try FlatIndex(dimension: d, metric: metric, configuration: configuration)
        var reference = ReferenceIndex(dimension: d, metric: metric)
        try SearchCorrectnessTests.populate(index, &reference, count: 6_000, labels: 30, random: &random)
        struct Case: Sendable {
            let queries: [Float]
            let options: SearchOptions
            let expected: [[SearchHit]]
        }
        var cases: [[Case]] = []
        for _ in 0..<64 {
            var perThread: [Case] = []
            for _ in 0..<4 {
                let nq = Int.random(in: 0..<6, using: &random) == 0 ? 7 : 1
                let queries = (0..<nq).map { _ in random.quantizedVector(d) }
                let options = random.searchOptions(labels: 30)
                perThread.append(Case(queries: queries.flatMap { $0 }, options: options, expected: queries.map { reference.search($0, options: options) }))
            }
            cases.append(perThread)
        }
        let all = cases
        let failures = Mutex<[String]>([])
        runOnThreads(64) { t in
            for (i, c) in all[t].enumerated() {
                do {
                    let got = try index.search(batch: c.queries, options: c.options)
                    if !ReferenceIndex.equivalent(got, c.expected, metric: metric, options: c.options) { failures.withLock { $0.append("thread \(t) search \(i)") } }
                } catch {
                    failures.withLock { $0.append("thread \(t) search \(i): \(error)") }
                }
            }
        }
        let found = failures.withLock { $0 }
        #expect(found.isEmpty, "\(found.count) wrong answers, first: \(found.prefix(3))")
        let counters = index.statistics.searching
        #expect(counters.searches == 256)
        #expect(counters.scans < counters.searches, "concurrent searches should have shared scans: \(counters)")
    }

    /// An index whose scans wait `holdLimit` at most for the callers of the scan before, with three
    /// searches already answered by one scan (so the next scan waits for three).
    static func indexAfterAScanOfThree(holdLimit: Duration, random: inout SeededRandom) throws -> (FlatIndex, ReferenceIndex) {
        let d = 8
        var configuration = FlatIndex.Configuration(searchThreads: 2)
        configuration.holdLimit = holdLimit
        let index = try FlatIndex(dimension: d, configuration: configuration)
        var reference = ReferenceIndex(dimension: d)
        try SearchCorrectnessTests.populate(index, &reference, count: 500, random: &random)
        let held = HeldScans()
        let outcomes = Outcomes()
        for n in 0..<3 {
            try index.submitSearch(batch: random.quantizedVector(d), options: SearchOptions(k: 3), runScan: held.runScan, completion: outcomes.completion(n))
        }
        held.runAll()
        #expect(index.statistics.searching.scans == 1)
        #expect(outcomes.results.withLock { $0.count } == 3)
        return (index, reference)
    }

    /// Waits (bounded) until `condition` holds; false if it never did.
    static func eventually(within seconds: Double = 20, _ condition: () -> Bool) -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.001)
        }
        return condition()
    }

    /// A lone caller never waits: the only search its last scan answered was its own.
    @Test func aLoneCallerIsNeverHeld() throws {
        var random = SeededRandom(seed: 21)
        let d = 8
        var configuration = FlatIndex.Configuration(searchThreads: 2)
        configuration.holdLimit = .milliseconds(200)
        let index = try FlatIndex(dimension: d, configuration: configuration)
        var reference = ReferenceIndex(dimension: d)
        try SearchCorrectnessTests.populate(index, &reference, count: 500, random: &random)
        for _ in 0..<20 {
            let q = random.quantizedVector(d)
            SearchCorrectnessTests.expectSame(try index.search(batch: q, options: SearchOptions(k: 4)), [reference.search(q, options: SearchOptions(k: 4))], "lone search")
        }
        let counters = index.statistics.searching
        #expect(counters.scans == 20)
        #expect(counters.holds == 0, "a lone caller was held: \(counters)")
    }

    /// After a scan answered three searches, the next scan waits until all three are back and then
    /// answers them together (no wait runs out), each exactly.
    @Test func theNextScanWaitsForTheCallersOfTheLastOne() throws {
        var random = SeededRandom(seed: 22)
        let (index, reference) = try Self.indexAfterAScanOfThree(holdLimit: .seconds(60), random: &random)
        let held = HeldScans()
        let outcomes = Outcomes()
        let queries = (0..<3).map { _ in random.quantizedVector(8) }
        let options = SearchOptions(k: 3)
        // The first caller back drives; its scan waits on another thread.
        try index.submitSearch(batch: queries[0], options: options, runScan: held.runScan, completion: outcomes.completion(0))
        #expect(held.count == 1)
        let driving = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            held.runAll()
            driving.signal()
        }
        #expect(Self.eventually { index.coalescer.isHolding }, "the scan did not wait for the other callers")
        for n in 1..<3 {
            try index.submitSearch(batch: queries[n], options: options, runScan: held.runScan, completion: outcomes.completion(n))
        }
        // Released by the third arrival, long before the 60 s limit.
        #expect(driving.wait(timeout: .now() + 30) == .success, "the waiting scan was not released by the callers' return")
        for n in 0..<3 {
            SearchCorrectnessTests.expectSame(try outcomes.hits(n), [reference.search(queries[n], options: options)], "search \(n)")
        }
        let counters = index.statistics.searching
        #expect(counters.scans == 2, "the three returning searches should share one scan: \(counters)")
        #expect(counters.largestScan == 3)
        #expect(counters.holds == 1)
        #expect(counters.holdsRunOut == 0)
    }

    /// When the callers do not come back the wait runs out, the lone search is answered, and the
    /// next scans start without waiting (open-loop traffic pays one short wait now and then).
    @Test func aWaitThatRunsOutTurnsWaitingOffForAWhile() throws {
        var random = SeededRandom(seed: 23)
        let (index, reference) = try Self.indexAfterAScanOfThree(holdLimit: .milliseconds(50), random: &random)
        let options = SearchOptions(k: 3)
        let lone = random.quantizedVector(8)
        SearchCorrectnessTests.expectSame(try index.search(batch: lone, options: options), [reference.search(lone, options: options)], "lone search")
        var counters = index.statistics.searching
        #expect(counters.holds == 1)
        #expect(counters.holdsRunOut == 1)
        // Three searches share a scan again; the lone search after them would wait for three, but
        // waiting is off for the next scans.
        let held = HeldScans()
        let outcomes = Outcomes()
        for n in 0..<3 {
            try index.submitSearch(batch: random.quantizedVector(8), options: options, runScan: held.runScan, completion: outcomes.completion(n))
        }
        held.runAll()
        let another = random.quantizedVector(8)
        SearchCorrectnessTests.expectSame(try index.search(batch: another, options: options), [reference.search(another, options: options)], "search after")
        counters = index.statistics.searching
        #expect(counters.scans == 4)
        #expect(counters.holds == 1, "a scan waited during the cooldown: \(counters)")
    }
}
