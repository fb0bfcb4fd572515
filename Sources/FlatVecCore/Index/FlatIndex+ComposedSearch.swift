extension FlatIndex {
    /// Searches with query groups (one ranking per group of query vectors, by the aggregate of their
    /// scores) and with several hits per label (``SearchOptions/groupSize``), exactly: the ranking a
    /// brute force over every vector of each group gives, ties by ascending id.
    ///
    /// ```swift
    /// // Eight frames of one item at a checkout: the five best products over all of them.
    /// let hits = try index.search(.vectors(frames), options: [SearchOptions(k: 5, groupByLabel: true)],
    ///                             groups: QueryGroups(sizes: [8], aggregate: .max))
    /// ```
    ///
    /// How: `max` merges the searches of the group's vectors (an id, or a label, is among the best by
    /// its best score only if it is among the best of the vector that gives it), all in one scan; with
    /// ``SearchOptions/groupSize`` a second scan finds the best hits of each of the k labels. `mean`
    /// takes the best K of each vector (K = k first), scores the candidates the other vectors missed
    /// (one scan restricted to them), and stops once the k-th mean beats the mean of the vectors'
    /// K-th scores, which bounds every id or label not seen; otherwise it takes K four times larger.
    /// - Parameters:
    ///   - queries: The query vectors or stored ids.
    ///   - options: One for all queries, or one per query (the queries of a group must have the same).
    ///   - groups: The query groups, or nil for one query per ranking.
    /// - Returns: One list of hits per group (per query without groups); with a group size, the hits
    ///   of each label follow each other, labels best first.
    /// - Throws: As ``search(_:options:)-(SearchQueries,_)``; ``FlatVecError/Code/invalidArgument`` for
    ///   groups that do not fit the queries, queries of one group with different options, or a group
    ///   size with the `mean` aggregate.
    public func search(_ queries: SearchQueries, options: [SearchOptions], groups: QueryGroups?) throws(FlatVecError) -> [[SearchHit]] {
        let input = try prepareSearch(queries, options: options)
        guard let composition = try composition(of: input, queries: queries, groups: groups) else { return try search(input) }
        return try composedSearch(input, composition)
    }

    /// ``search(_:options:groups:)`` answering through a callback (see
    /// ``submitSearch(_:options:isCancelled:runScan:completion:)``): without groups or group sizes the
    /// search joins the index's queue; with them, its passes run on a `runScan` thread, each joining
    /// the queue in turn.
    /// - Parameters:
    ///   - queries: The query vectors or stored ids.
    ///   - options: One for all queries, or one per query.
    ///   - groups: The query groups, or nil.
    ///   - isCancelled: Polled before the search is scanned.
    ///   - runScan: Runs the given work on a thread that may block.
    ///   - completion: Called once with one list of hits per group.
    /// - Throws: As ``search(_:options:groups:)``, before anything runs.
    public func submitSearch(
        _ queries: SearchQueries,
        options: [SearchOptions],
        groups: QueryGroups?,
        isCancelled: @escaping @Sendable () -> Bool = { false },
        runScan: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        completion: @escaping @Sendable (Result<[[SearchHit]], FlatVecError>) -> Void
    ) throws(FlatVecError) {
        let input = try prepareSearch(queries, options: options)
        guard let composition = try composition(of: input, queries: queries, groups: groups) else {
            guard input.count > 0 else { return completion(.success([])) }
            let ticket = SearchCoalescer.Ticket(
                queries: input.queries, count: input.count, options: input.options, isCancelled: isCancelled,
                waiter: .callback(runScan: runScan, completion: completion)
            )
            coalescer.submit(ticket, on: self)
            return
        }
        runScan {
            guard !isCancelled() else { return completion(.failure(FlatVecError(.unavailable, "the search was cancelled"))) }
            completion(Result { () throws(FlatVecError) in try self.composedSearch(input, composition) })
        }
    }

    /// What a composed search does: each group's range of queries and its options.
    struct Composition: Sendable {
        var ranges: [Range<Int>]
        var options: [SearchOptions]
        var aggregate: QueryGroups.Aggregate
    }

    /// The composition of a search, or nil when it is a plain one (no groups, no group size).
    func composition(of input: PreparedSearch, queries: SearchQueries, groups: QueryGroups?) throws(FlatVecError) -> Composition? {
        guard groups != nil || input.options.contains(where: { $0.groupSize > 1 }) else { return nil }
        let ranges: [Range<Int>]
        if let groups {
            try groups.check(queries: input.count)
            ranges = groups.ranges
        } else {
            ranges = (0..<input.count).map { $0..<($0 + 1) }
        }
        let aggregate = groups?.aggregate ?? .max
        var options: [SearchOptions] = []
        options.reserveCapacity(ranges.count)
        for (g, range) in ranges.enumerated() {
            var spec = input.options.count == 1 ? input.options[0] : input.options[range.lowerBound]
            for q in range.dropFirst() where input.options.count > 1 {
                var other = input.options[q]
                other.excludingID = spec.excludingID
                guard other == spec else {
                    throw FlatVecError(.invalidArgument, "the queries of query group \(g) have different filters: a group is searched with one")
                }
            }
            if range.count > 1, case .storedIDs(let ids, true) = queries {
                // More like these: no vector of the group returns any of the group's ids.
                spec.excludingID = nil
                let deny = Filter.not(.oneOf(.id, ids[range].map { .int64($0) }))
                spec.filter = try (spec.filter.map { .and([$0, deny]) } ?? deny).checked(against: lock.withReaderLock { rows.schema })
            }
            if aggregate == .mean && spec.groupSize > 1 && range.count > 1 {
                throw FlatVecError(.invalidArgument, "group_size applies to the max aggregate: under mean a label's score is not any one hit's")
            }
            options.append(spec)
        }
        return Composition(ranges: ranges, options: options, aggregate: aggregate)
    }

    /// Runs a composed search (blocking: each pass joins the index's queue).
    func composedSearch(_ input: PreparedSearch, _ c: Composition) throws(FlatVecError) -> [[SearchHit]] {
        var results = Array(repeating: [SearchHit](), count: c.ranges.count)
        let meanGroups = c.ranges.indices.filter { c.aggregate == .mean && c.ranges[$0].count > 1 }
        let maxGroups = c.ranges.indices.filter { !(c.aggregate == .mean && c.ranges[$0].count > 1) }
        if !maxGroups.isEmpty {
            let found = try maxSearch(input, c, groups: maxGroups)
            for (g, hits) in zip(maxGroups, found) { results[g] = hits }
        }
        if !meanGroups.isEmpty {
            let found = try meanSearch(input, c, groups: meanGroups)
            for (g, hits) in zip(meanGroups, found) { results[g] = hits }
        }
        return results
    }

    /// `filter` (if any) and `field in values`, checked against the attributes.
    private func restricted(_ filter: Filter?, to field: FilterField, _ values: [Int64]) throws(FlatVecError) -> Filter {
        let only = values.count == 1
            ? Filter.comparison(field, .equal, .int64(values[0])) : Filter.oneOf(field, values.map { .int64($0) })
        return try (filter.map { .and([$0, only]) } ?? only).checked(against: lock.withReaderLock { rows.schema })
    }

    /// Scans `queries` (indices into the input's vectors), each with its own options, in one batch.
    private func scan(_ input: PreparedSearch, _ queries: [(vector: Int, options: SearchOptions)]) throws(FlatVecError) -> [[SearchHit]] {
        guard !queries.isEmpty else { return [] }
        var vectors: [Float] = []
        vectors.reserveCapacity(queries.count * dimension)
        for (q, _) in queries { vectors += input.queries[(q * dimension)..<((q + 1) * dimension)] }
        return try search(PreparedSearch(queries: vectors, count: queries.count, options: queries.map(\.options)))
    }

    /// The hits of several lists merged by id (or label): each keeps its best hit, best first.
    private static func merged(_ lists: some Sequence<[SearchHit]>, byLabel: Bool) -> [SearchHit] {
        var best: [Int64: SearchHit] = [:]
        for list in lists {
            for hit in list {
                let key = byLabel ? hit.label : hit.id
                if let held = best[key], !hit.ranks(before: held) { continue }
                best[key] = hit
            }
        }
        return best.values.sorted { $0.ranks(before: $1) }
    }

    /// How many hits (labels) a list keeps: k, or for a range search k + 1 (the one more says it was cut).
    private static func kept(_ o: SearchOptions) -> Int { o.range ? o.k + 1 : o.k }

    /// `max`: each group's vectors searched in one scan and merged; then, for a group size, the best
    /// hits of each label found.
    private func maxSearch(_ input: PreparedSearch, _ c: Composition, groups: [Int]) throws(FlatVecError) -> [[SearchHit]] {
        var first: [(vector: Int, options: SearchOptions)] = []
        for g in groups {
            var o = c.options[g]
            o.groupSize = 1
            for q in c.ranges[g] { first.append((q, o)) }
        }
        let found = try scan(input, first)
        var start = 0
        var tops: [[SearchHit]] = []
        for g in groups {
            let n = c.ranges[g].count
            tops.append(Array(Self.merged(found[start..<(start + n)], byLabel: c.options[g].groupByLabel).prefix(Self.kept(c.options[g]))))
            start += n
        }
        // Several hits per label: each label's best `groupSize` over the group's vectors.
        var second: [(vector: Int, options: SearchOptions)] = []
        for (i, g) in groups.enumerated() where c.options[g].groupByLabel && c.options[g].groupSize > 1 {
            let spec = c.options[g]
            for hit in tops[i] {
                var o = spec
                o.groupByLabel = false
                o.groupSize = 1
                o.range = false
                o.k = spec.groupSize
                // A filter, not the label allow-list: the scan then gathers the label's rows alone.
                o.filter = try restricted(spec.filter, to: .label, [hit.label])
                for q in c.ranges[g] { second.append((q, o)) }
            }
        }
        guard !second.isEmpty else { return tops }
        let perLabel = try scan(input, second)
        start = 0
        for (i, g) in groups.enumerated() where c.options[g].groupByLabel && c.options[g].groupSize > 1 {
            let n = c.ranges[g].count
            var hits: [SearchHit] = []
            for _ in tops[i] {
                hits += Self.merged(perLabel[start..<(start + n)], byLabel: false).prefix(c.options[g].groupSize)
                start += n
            }
            tops[i] = hits
        }
        return tops
    }

    /// How deep a `mean` round reads each vector's hits: its best K, or every hit at or above a score.
    private enum MeanDepth {
        case best(Int)
        case atLeast(Float)
    }

    /// `mean`: each vector's best k (one scan), the candidates' missing scores (one scan restricted to
    /// them); unless that settles it, every hit of each vector at or above the k-th mean found so far
    /// (one scan: whatever id or label it misses has a mean below), and the missing scores again. A
    /// list cut at ``FlatVecLimits/maximumRangeHits`` falls back to best-K rounds with K four times
    /// larger each time.
    private func meanSearch(_ input: PreparedSearch, _ c: Composition, groups: [Int]) throws(FlatVecError) -> [[SearchHit]] {
        let rowCount = lock.withReaderLock { rows.count }
        var depth: [Int: MeanDepth] = [:]
        for g in groups {
            let spec = c.options[g]
            // A range search reads every hit at or above min_score at once.
            depth[g] = spec.range ? .atLeast(spec.minScore ?? -.infinity) : .best(spec.k)
        }
        var results: [Int: [SearchHit]] = [:]
        var pending = groups
        while !pending.isEmpty {
            var first: [(vector: Int, options: SearchOptions)] = []
            for g in pending {
                var o = c.options[g]
                switch depth[g]! {
                case .best(let K):
                    o.range = false
                    o.k = K
                    o.minScore = nil
                case .atLeast(let floor):
                    o.range = true
                    o.k = FlatVecLimits.maximumRangeHits
                    o.minScore = floor
                }
                for q in c.ranges[g] { first.append((q, o)) }
            }
            let lists = try scan(input, first)
            // Every candidate's score for every vector of its group, from one scan restricted to the
            // candidates by a filter (one evaluation per chunk for the whole group; the scan gathers
            // their rows alone), so a vector's list plus these holds a score for each candidate.
            var second: [(vector: Int, options: SearchOptions)] = []
            var secondOwner: [(group: Int, vector: Int)] = []
            var start = 0
            var candidates: [Int: Set<Int64>] = [:]
            for g in pending {
                let spec = c.options[g]
                let range = c.ranges[g]
                let own = lists[start..<(start + range.count)]
                let keys = Set(own.joined().map { spec.groupByLabel ? $0.label : $0.id })
                candidates[g] = keys
                start += range.count
                let everyListHasAll = own.allSatisfy { list in Set(list.map { spec.groupByLabel ? $0.label : $0.id }).count == keys.count }
                guard !everyListHasAll else { continue }
                let sorted = keys.sorted()
                for part in stride(from: 0, to: sorted.count, by: FlatVecLimits.maximumRangeHits) {
                    let slice = Array(sorted[part..<min(sorted.count, part + FlatVecLimits.maximumRangeHits)])
                    var o = spec
                    o.range = true
                    o.minScore = -.infinity
                    o.k = slice.count
                    o.filter = try restricted(spec.filter, to: spec.groupByLabel ? .label : .id, slice)
                    for (j, q) in range.enumerated() {
                        second.append((q, o))
                        secondOwner.append((g, j))
                    }
                }
            }
            var extra: [Int: [[SearchHit]]] = [:]
            for g in pending { extra[g] = Array(repeating: [], count: c.ranges[g].count) }
            for (owner, hits) in zip(secondOwner, try scan(input, second)) { extra[owner.group]![owner.vector] += hits }
            start = 0
            var next: [Int] = []
            for g in pending {
                let spec = c.options[g]
                let range = c.ranges[g]
                var scores: [Int64: [Float]] = [:]
                var representative: [Int64: SearchHit] = [:]
                var bound: Float = 0
                var someComplete = false
                var someCut = false
                for j in 0..<range.count {
                    var list = lists[start + j]
                    let keys = Set(list.map { spec.groupByLabel ? $0.label : $0.id })
                    switch depth[g]! {
                    case .best(let K):
                        // The K-th score bounds what this vector gives every id or label it did not
                        // list; a list shorter than K lists all there is.
                        if list.count >= K { bound += list[K - 1].score } else { someComplete = true }
                    case .atLeast:
                        if list.count > FlatVecLimits.maximumRangeHits { someCut = true }
                    }
                    if candidates[g]!.count > keys.count { list += extra[g]![j] }
                    var seen: Set<Int64> = []
                    for hit in list {
                        let key = spec.groupByLabel ? hit.label : hit.id
                        guard seen.insert(key).inserted else { continue }
                        scores[key, default: []].append(hit.score)
                        if let held = representative[key], !hit.ranks(before: held) { continue }
                        representative[key] = hit
                    }
                }
                start += range.count
                let count = Float(range.count)
                var ranked: [SearchHit] = []
                for (key, values) in scores where values.count == range.count {
                    var hit = representative[key]!
                    hit.score = values.reduce(0, +) / count
                    if let floor = spec.minScore, hit.score < floor { continue }
                    ranked.append(hit)
                }
                ranked.sort { $0.ranks(before: $1) }
                // The k-th mean found (or min_score while fewer are found): what an unseen one must beat.
                let bar = !spec.range && ranked.count >= spec.k ? ranked[spec.k - 1].score : (spec.minScore ?? -.infinity)
                switch depth[g]! {
                case .best(let K):
                    if K >= rowCount || someComplete || bound / count < bar {
                        results[g] = Array(ranked.prefix(Self.kept(spec)))
                    } else {
                        // Every hit at or above the bar next, unless a list was already cut that way.
                        depth[g] = K > spec.k ? .best(K * 4) : .atLeast(bar)
                        next.append(g)
                    }
                case .atLeast:
                    // An id or label missing from every list scores below the floor with every vector.
                    if !someCut {
                        results[g] = Array(ranked.prefix(Self.kept(spec)))
                    } else if spec.range {
                        throw FlatVecError(
                            .limitExceeded,
                            "more than \(FlatVecLimits.maximumRangeHits) hits of one query vector reach min_score: a mean over the group cannot be ranked; raise min_score"
                        )
                    } else {
                        depth[g] = .best(spec.k * 4)
                        next.append(g)
                    }
                }
            }
            pending = next
        }
        return groups.map { results[$0]! }
    }
}
