import CFlatVecKernels

extension FlatIndex {
    /// Validates a batch and returns its vectors ready to copy in (normalised under cosine).
    func prepare(_ batch: VectorBatch) throws(FlatVecError) -> [Float] {
        guard batch.dimension == dimension else {
            throw FlatVecError(
                .dimensionMismatch,
                "batch vectors have dimension \(batch.dimension), the index has dimension \(dimension)"
            )
        }
        if batch.count > 1 {
            var seen = Set<Int64>(minimumCapacity: batch.count)
            for id in batch.ids where !seen.insert(id).inserted {
                throw FlatVecError(.duplicateID, "id \(id) appears twice in one batch")
            }
        }
        for (i, payload) in batch.payloads.enumerated() {
            guard let payload else { continue }
            guard payload.count <= Self.maximumPayloadBytes else {
                throw FlatVecError(
                    .limitExceeded,
                    "payload of id \(batch.ids[i]) is \(payload.count) bytes, more than \(Self.maximumPayloadBytes)"
                )
            }
            guard String(validating: payload, as: UTF8.self) != nil else {
                throw FlatVecError(.invalidArgument, "payload of id \(batch.ids[i]) is not valid UTF-8")
            }
        }
        var vectors = batch.vectors
        if metric == .innerProduct {
            // Nothing to rewrite: check in place and keep the caller's storage (no copy).
            try vectors.withUnsafeBufferPointer { (buffer) throws(FlatVecError) in
                for i in 0..<batch.count {
                    try check(buffer.baseAddress! + i * dimension) { "vector of id \(batch.ids[i]) (row \(i))" }
                }
            }
            return vectors
        }
        try vectors.withUnsafeMutableBufferPointer { (buffer) throws(FlatVecError) in
            for i in 0..<batch.count {
                let row = UnsafeMutableBufferPointer(rebasing: buffer[(i * dimension)..<((i + 1) * dimension)])
                try checkAndNormalise(row) { "vector of id \(batch.ids[i]) (row \(i))" }
            }
        }
        return vectors
    }

    /// Checks the queries and returns them normalised under cosine.
    func prepareQueries(_ queries: UnsafeBufferPointer<Float>) throws(FlatVecError) -> [Float] {
        guard queries.count % dimension == 0 else {
            throw FlatVecError(
                .dimensionMismatch,
                "\(queries.count) query floats is not a multiple of the index dimension \(dimension)"
            )
        }
        var prepared = Array(queries)
        try prepared.withUnsafeMutableBufferPointer { (buffer) throws(FlatVecError) in
            for i in 0..<(queries.count / dimension) {
                let row = UnsafeMutableBufferPointer(rebasing: buffer[(i * dimension)..<((i + 1) * dimension)])
                try checkAndNormalise(row) { "query \(i)" }
            }
        }
        return prepared
    }

    /// Rejects NaN and infinite components, and zero vectors under cosine; normalises under cosine.
    private func checkAndNormalise(
        _ row: UnsafeMutableBufferPointer<Float>,
        name: () -> String
    ) throws(FlatVecError) {
        let sumSquares = try check(UnsafePointer(row.baseAddress!), name: name)
        if metric == .cosine {
            guard sumSquares > 0 else {
                throw FlatVecError(.invalidVector, "\(name()) is a zero vector, which has no direction under cosine")
            }
            let scale = Float(1 / sumSquares.squareRoot())
            for j in row.indices { row[j] *= scale }
        }
    }

    /// Rejects NaN and infinite components and norms whose scores could overflow; returns the squared norm.
    @discardableResult
    private func check(_ row: UnsafePointer<Float>, name: () -> String) throws(FlatVecError) -> Double {
        let sumSquares = fv_sum_squares(row, dimension)
        guard sumSquares.isFinite else {
            for j in 0..<dimension where !row[j].isFinite {
                throw FlatVecError(.invalidVector, "\(name()) has \(row[j]) at component \(j)")
            }
            throw FlatVecError(.invalidVector, "\(name()) has a non-finite norm")
        }
        // |a.b| <= |a||b|: keeping every norm below sqrt(Float.max) keeps every score finite.
        guard sumSquares < Double(Float.greatestFiniteMagnitude) else {
            throw FlatVecError(
                .invalidVector,
                "\(name()) has norm \(sumSquares.squareRoot()), above 1.8e19, so its scores would overflow float32"
            )
        }
        return sumSquares
    }

    /// Checks search options and returns them with the filter checked against the attributes.
    func checked(_ options: SearchOptions) throws(FlatVecError) -> SearchOptions {
        if options.range {
            guard (1...FlatVecLimits.maximumRangeHits).contains(options.k) else {
                throw FlatVecError(.limitExceeded, "a range search's limit \(options.k) is outside 1...\(FlatVecLimits.maximumRangeHits)")
            }
            guard options.minScore != nil else {
                throw FlatVecError(.invalidArgument, "a range search needs a minimum score")
            }
        } else {
            guard (1...SearchOptions.maximumK).contains(options.k) else {
                throw FlatVecError(.limitExceeded, "k = \(options.k) is outside 1...\(SearchOptions.maximumK)")
            }
        }
        if let minScore = options.minScore, minScore.isNaN {
            throw FlatVecError(.invalidArgument, "minScore is NaN")
        }
        if options.groupSize != 1 {
            guard options.groupSize >= 1 else {
                throw FlatVecError(.invalidArgument, "group_size \(options.groupSize) is not a number of hits per label: give 1 or more")
            }
            guard options.groupSize <= FlatVecLimits.maximumGroupSize else {
                throw FlatVecError(.limitExceeded, "group_size \(options.groupSize) is outside 1...\(FlatVecLimits.maximumGroupSize)")
            }
            guard options.groupByLabel else {
                throw FlatVecError(.invalidArgument, "group_size \(options.groupSize) needs group_by_label: it counts hits per label")
            }
            guard options.k * options.groupSize <= FlatVecLimits.maximumRangeHits else {
                throw FlatVecError(
                    .limitExceeded,
                    "k = \(options.k) labels of group_size \(options.groupSize) hits is more than \(FlatVecLimits.maximumRangeHits) hits"
                )
            }
        }
        guard let filter = options.filter else { return options }
        var checked = options
        checked.filter = try filter.checked(against: lock.withReaderLock { rows.schema })
        return checked
    }
}
