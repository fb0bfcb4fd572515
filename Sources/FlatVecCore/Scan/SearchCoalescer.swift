import Dispatch
import Synchronization

/// Merges the searches waiting on one ``FlatIndex`` into shared scans.
///
/// A scan reads every stored vector once whatever the number of queries, and scoring 32 queries
/// together costs little more than scoring one (the memory traffic is the same, the arithmetic runs
/// at the machine's matrix-multiply rate). So when many callers search one index at the same
/// moment (checkout lanes, each asking for one frame's embedding), answering them one scan each
/// wastes most of the machine. The coalescer keeps one scan running per index; searches that arrive
/// meanwhile wait in a queue and go together into the next scan.
///
/// - No fixed delay: a search that finds no scan running starts one at once, so a lone caller sees
///   no added latency.
/// - Cohorts stay together: the callers a scan has just answered usually come straight back
///   (checkout lanes send the next frame as soon as they have an answer). A scan that starts the
///   moment the first of them is back leaves the others to wait for it to end, and the callers split
///   into cohorts that take turns: every search then waits for two scans, and the stragglers for
///   more. So the next scan waits, briefly, until as many searches are queued as the last scan
///   answered plus those already waiting then: at most 1/4 of that scan's duration and
///   ``maximumHold`` (through the server, 32 lanes come back within a small fraction of a scan:
///   Benchmarks/README.md "Many checkout lanes at once"). A wait that runs out with fewer than 3/4 of them back turns the waiting off for the
///   next ``holdCooldown`` scans, so callers that do not come back soon (open-loop traffic, a client
///   that left or that works between its searches) cost at most one short wait per nine scans. A
///   lone caller is never held: the only search its scan answered is its own, and it is back when
///   the next scan starts.
/// - Each search keeps its own options (k, filters, minScore, grouping, what to return) and gets
///   exactly the hits it would get alone: the scan gives every query its own hit collector.
/// - Arrival order, bounded scans: a scan takes at most ``FlatIndex/Configuration/maximumQueriesPerScan``
///   queries. Every waiting search gets up to ``turnQuota`` queries of each scan before any gets more,
///   so a 1,000-query request goes in blocks that take turns with single queries: neither starves.
/// - Searches whose caller has gone (``isCancelled`` returns true) are dropped before they are scanned.
/// - The thread that drives a scan is one of the callers: a blocking caller drives on its own
///   thread; a callback caller (``FlatIndex/submitSearch(batch:options:isCancelled:runScan:completion:)``)
///   names where scans run. When the driver's own search is answered it hands the role to the
///   oldest waiting search, so nobody waits for scans that are not theirs.
///
/// ``FlatIndex`` owns one; every `search` goes through it, so embedded users who call one index from
/// many threads get the merging as the server does.
final class SearchCoalescer: Sendable {
    /// Queries a waiting search may put into one scan before the others have had theirs.
    static var turnQuota: Int { 64 }

    /// The longest a scan waits for the callers of the previous one to come back.
    static var maximumHold: Duration { .milliseconds(2) }

    /// Scans started without waiting after a wait ran out.
    static var holdCooldown: Int { 8 }

    /// Where the answer of one search goes.
    enum Waiter: Sendable {
        /// A thread blocked in ``FlatIndex/search(batch:options:)``.
        case thread(DispatchSemaphore)
        /// A callback caller: scans it must drive run through `runScan`.
        case callback(
            runScan: @Sendable (@escaping @Sendable () -> Void) -> Void,
            completion: @Sendable (Result<[[SearchHit]], FlatVecError>) -> Void
        )
    }

    /// What a blocked thread finds when it wakes.
    enum Wake {
        case drive
        case finished
    }

    /// One search: its prepared queries and the hits found so far.
    final class Ticket: @unchecked Sendable {
        // @unchecked: the `var`s are read and written only under the coalescer's mutex (results are
        // handed to the caller after it is released, when no scan refers to the ticket any more).
        let queries: [Float]
        let count: Int
        /// One options value for all queries, or one per query.
        let options: [SearchOptions]
        let isCancelled: @Sendable () -> Bool
        let waiter: Waiter
        /// Queries handed to scans so far.
        var scheduled = 0
        /// Queries answered so far.
        var answered = 0
        var results: [[SearchHit]]
        var cancelled = false
        /// Damage a scan of the search met (see ``VectorDamage``): the search fails with it.
        var failure: FlatVecError?
        var wake: Wake?

        init(queries: [Float], count: Int, options: [SearchOptions], isCancelled: @escaping @Sendable () -> Bool, waiter: Waiter) {
            self.queries = queries
            self.count = count
            self.options = options
            self.isCancelled = isCancelled
            self.waiter = waiter
            results = Array(repeating: [], count: count)
        }

        /// The options of query `i`.
        @inline(__always)
        func options(of i: Int) -> SearchOptions { options.count == 1 ? options[0] : options[i] }

        var isFinished: Bool { cancelled || answered == count }

        var outcome: Result<[[SearchHit]], FlatVecError> {
            if cancelled { return .failure(FlatVecError(.unavailable, "search cancelled: its caller has gone")) }
            if let failure { return .failure(failure) }
            return .success(results)
        }
    }

    /// Queries `start ..< start + length` of `ticket` go into this scan (after the segments before it).
    struct Segment {
        let ticket: Ticket
        let start: Int
        let length: Int
    }

    private struct State {
        var queue: [Ticket] = []
        var driving = false
        var counters = SearchCounters()
        /// Searches the next scan waits for: those the last scan answered plus those waiting when it ended.
        var expected = 0
        /// How long the last scan took.
        var lastScan: Duration = .zero
        /// Scans still to start without waiting (after a wait ran out).
        var cooldown = 0
        /// The driver waiting for `target` searches to be queued.
        var holder: (semaphore: DispatchSemaphore, target: Int)?

        /// Searches with queries not yet handed to a scan.
        var waiting: Int { queue.reduce(0) { $0 + ($1.scheduled < $1.count ? 1 : 0) } }
    }

    /// How searches were merged so far.
    var counters: SearchCounters { state.withLock { $0.counters } }

    /// Whether a driver is waiting for the callers of the last scan (for tests).
    var isHolding: Bool { state.withLock { $0.holder != nil } }

    private let state = Mutex(State())
    private let maximumQueriesPerScan: Int
    private let holdLimit: Duration?

    /// Creates a coalescer (it holds no index: the callers pass theirs, so a queued search keeps the
    /// index it searches alive and the index does not keep itself alive).
    /// - Parameter holdLimit: How long a scan waits for the callers of the one before; nil for the
    ///   default (a quarter of the last scan, at most ``maximumHold``).
    init(maximumQueriesPerScan: Int, holdLimit: Duration? = nil) {
        self.maximumQueriesPerScan = max(1, maximumQueriesPerScan)
        self.holdLimit = holdLimit
    }

    /// Answers `ticket` on the calling thread, driving scans if its turn comes.
    func searchBlocking(_ ticket: Ticket, semaphore: DispatchSemaphore, on index: FlatIndex) -> Result<[[SearchHit]], FlatVecError> {
        if !enqueue(ticket) {
            semaphore.wait()
            let wake = state.withLock { _ in ticket.wake }
            if case .finished = wake { return ticket.outcome }
        }
        drive(for: ticket, on: index)
        return ticket.outcome
    }

    /// Queues `ticket`; if no scan is running, schedules one through its `runScan`.
    func submit(_ ticket: Ticket, on index: FlatIndex) {
        guard enqueue(ticket), case .callback(let runScan, _) = ticket.waiter else { return }
        runScan { self.drive(for: ticket, on: index) }
    }

    /// Appends `ticket`; returns true if the caller must drive (no scan was running).
    private func enqueue(_ ticket: Ticket) -> Bool {
        state.withLock { state in
            state.queue.append(ticket)
            if let holder = state.holder, state.waiting >= holder.target {
                state.holder = nil
                holder.semaphore.signal()
            }
            guard !state.driving else { return false }
            state.driving = true
            return true
        }
    }

    /// Runs scans until `ticket` is answered, then hands the driving role on.
    private func drive(for ticket: Ticket, on index: FlatIndex) {
        while true {
            holdForReturningCallers()
            let (segments, dropped) = state.withLock { state in takeScan(&state) }
            notify(dropped)
            if !segments.isEmpty {
                let started = ContinuousClock.now
                let hits = index.scanCoalesced(segments)
                // Checked after the scan: a scan that read damaged vectors recorded them before it ended.
                let damage = index.vectorDamage.error
                let took = ContinuousClock.now - started
                var finished: [Ticket] = []
                var offset = 0
                state.withLock { state in
                    for segment in segments {
                        let t = segment.ticket
                        if let damage { t.failure = damage }
                        for i in 0..<segment.length { t.results[segment.start + i] = hits[offset + i] }
                        offset += segment.length
                        t.answered += segment.length
                        if t.isFinished {
                            state.counters.searches += 1
                            if t !== ticket { finished.append(t) }
                        }
                    }
                    state.counters.scans += 1
                    state.counters.queries += offset
                    state.counters.largestScan = max(state.counters.largestScan, offset)
                    state.queue.removeAll { $0.isFinished }
                    state.expected = finished.count + (ticket.isFinished ? 1 : 0) + state.waiting
                    state.lastScan = took
                    if state.cooldown > 0 { state.cooldown -= 1 }
                }
                notify(finished)
            }
            let (done, next, dropped2) = state.withLock { state -> (Bool, Ticket?, [Ticket]) in
                guard ticket.isFinished else { return (false, nil, []) }
                var dropped: [Ticket] = []
                dropCancelled(&state, into: &dropped)
                guard let next = state.queue.first else {
                    state.driving = false
                    return (true, nil, dropped)
                }
                next.wake = .drive
                return (true, next, dropped)
            }
            notify(dropped2)
            guard done else { continue }
            // A blocked thread reads its own outcome; a callback driver answers its own search here
            // (unless it was dropped, which answered it already).
            if case .callback(_, let completion) = ticket.waiter, !ticket.cancelled {
                completion(ticket.outcome)
            }
            if let next {
                switch next.waiter {
                case .thread(let semaphore): semaphore.signal()
                case .callback(let runScan, _): runScan { self.drive(for: next, on: index) }
                }
            }
            return
        }
    }

    /// Waits until the searches the last scan answered are queued again (see the type's notes),
    /// at most 1/4 of that scan's duration and ``maximumHold``.
    private func holdForReturningCallers() {
        let hold = state.withLock { state -> (DispatchSemaphore, Duration, Int)? in
            let expected = state.expected
            state.expected = 0
            guard state.cooldown == 0, expected > state.waiting else { return nil }
            let semaphore = DispatchSemaphore(value: 0)
            state.holder = (semaphore, expected)
            return (semaphore, holdLimit ?? min(Self.maximumHold, state.lastScan / 4), expected)
        }
        guard let (semaphore, limit, target) = hold else { return }
        let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
        let outcome = semaphore.wait(timeout: .now() + .nanoseconds(Int(nanoseconds)))
        state.withLock { state in
            state.holder = nil
            state.counters.holds += 1
            if outcome == .timedOut {
                state.counters.holdsRunOut += 1
                if state.waiting * 4 < target * 3 { state.cooldown = Self.holdCooldown }
            }
        }
    }

    /// Picks the next scan's queries: arrival order, each search up to ``turnQuota`` first, then
    /// whatever room is left, again in arrival order.
    private func takeScan(_ state: inout State) -> ([Segment], [Ticket]) {
        var dropped: [Ticket] = []
        dropCancelled(&state, into: &dropped)
        var segments: [Segment] = []
        var room = maximumQueriesPerScan
        for quota in [Self.turnQuota, Int.max] {
            for ticket in state.queue where room > 0 && ticket.scheduled < ticket.count {
                let length = min(ticket.count - ticket.scheduled, quota, room)
                segments.append(Segment(ticket: ticket, start: ticket.scheduled, length: length))
                ticket.scheduled += length
                room -= length
            }
        }
        return (segments, dropped)
    }

    /// Removes the searches whose caller has gone.
    private func dropCancelled(_ state: inout State, into dropped: inout [Ticket]) {
        state.queue.removeAll { ticket in
            // No scan is in flight here (only the driver calls this, between scans).
            guard ticket.isCancelled() else { return false }
            ticket.cancelled = true
            state.counters.searches += 1
            state.counters.dropped += 1
            dropped.append(ticket)
            return true
        }
    }

    /// Answers finished searches (outside the mutex).
    private func notify(_ tickets: [Ticket]) {
        guard !tickets.isEmpty else { return }
        for ticket in tickets {
            switch ticket.waiter {
            case .thread(let semaphore):
                state.withLock { _ in ticket.wake = .finished }
                semaphore.signal()
            case .callback(_, let completion):
                completion(ticket.outcome)
            }
        }
    }
}
