extension FlatIndex {
    /// Queries and options checked and ready to scan.
    struct PreparedSearch {
        var queries: [Float]
        var count: Int
        var options: [SearchOptions]
    }

    func prepareSearch(_ queries: SearchQueries, options: [SearchOptions]) throws(FlatVecError) -> PreparedSearch {
        switch queries {
        case .vectors(let vectors):
            return try vectors.withUnsafeBufferPointer { (buffer) throws(FlatVecError) in
                try prepareSearch(vectors: buffer, options: options)
            }
        case .storedIDs(let ids, let excluding):
            try checkOptionsCount(options, queries: ids.count)
            var checked: [SearchOptions] = []
            for option in options { checked.append(try self.checked(option)) }
            var unknown: [Int64] = []
            let vectors: [Float] = lock.withReaderLock {
                var vectors: [Float] = []
                vectors.reserveCapacity(ids.count * dimension)
                for id in ids {
                    guard let row = rows.row(of: id) else {
                        unknown.append(id)
                        continue
                    }
                    let (chunk, offset) = rows.location(of: row)
                    chunk.vectorChecks?.check(row: offset)
                    // Stored vectors are finite and, under cosine, already unit length: used as they are.
                    vectors.append(contentsOf: UnsafeBufferPointer(start: chunk.vector(at: offset), count: dimension))
                }
                return vectors
            }
            if !unknown.isEmpty {
                throw FlatVecError(.unknownID, "search by stored vector: unknown \(Self.describe(ids: unknown))")
            }
            try vectorDamage.check()
            if excluding {
                checked = ids.indices.map { i in
                    var option = checked.count == 1 ? checked[0] : checked[i]
                    option.excludingID = ids[i]
                    return option
                }
            }
            return PreparedSearch(queries: vectors, count: ids.count, options: checked)
        }
    }

    func prepareSearch(vectors: UnsafeBufferPointer<Float>, options: [SearchOptions]) throws(FlatVecError) -> PreparedSearch {
        let prepared = try prepareQueries(vectors)
        let nq = prepared.count / dimension
        try checkOptionsCount(options, queries: nq)
        var checked: [SearchOptions] = []
        checked.reserveCapacity(options.count)
        for option in options { checked.append(try self.checked(option)) }
        return PreparedSearch(queries: prepared, count: nq, options: checked)
    }

    func checkOptionsCount(_ options: [SearchOptions], queries: Int) throws(FlatVecError) {
        guard options.count == 1 || options.count == queries else {
            throw FlatVecError(.invalidArgument, "\(options.count) search options for \(queries) queries: give 1, or 1 per query")
        }
    }
}
