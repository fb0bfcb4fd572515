import FlatVecCore

extension Engine {
    /// Upserts vectors: an id that exists gets the new row. Stored together with the ADDs of the same
    /// collection that arrive meanwhile (one log sync or one transaction for all of them).
    /// - Parameters:
    ///   - batch: Ids, labels, vectors and optional payloads and attributes; normalised under cosine.
    ///   - collection: The collection.
    ///   - rejectAbove: Add only if new: when a vector of the batch scores at least this with a stored
    ///     vector (other than the one it replaces) or another vector of the batch, nothing is added
    ///     and the error (`duplicate_vector`) lists each such vector with its best match.
    /// - Returns: How many ids were new and how many replaced.
    /// - Throws: `unknown_collection`, `dimension_mismatch`, `invalid_vector`, `duplicate_id`,
    ///   `invalid_argument` for attributes, `duplicate_vector`, `unavailable` (nothing stored) or
    ///   `outcome_unknown`.
    @discardableResult
    public func add(_ batch: VectorBatch, to collection: String, rejectingDuplicatesAbove rejectAbove: Float? = nil) throws(FlatVecError) -> AddResult {
        try checkOpen()
        return try writes.add(batch, to: collection, rejectingDuplicatesAbove: rejectAbove)
    }

    /// Removes vectors.
    /// - Throws: `unknown_id` naming ids that are not stored (then nothing is removed), or a store failure.
    public func remove(ids: [Int64], from collection: String) throws(FlatVecError) {
        try checkOpen()
        try writes.remove(ids: ids, from: collection)
    }

    /// Changes labels, payloads and attributes of stored vectors, leaving the rest as it is.
    /// - Throws: `unknown_id`, `invalid_argument` for values that do not fit, or a store failure.
    public func update(_ updates: [RowUpdate], in collection: String) throws(FlatVecError) {
        try checkOpen()
        try writes.update(updates, in: collection)
    }

    /// Stored rows by id, in the order asked.
    /// - Throws: `unknown_collection`, `unknown_id` naming the ids not stored.
    public func get(ids: [Int64], from collection: String) throws(FlatVecError) -> [StoredVector] {
        try checkOpen()
        return try registry.collection(named: collection).index.get(ids: ids)
    }

    /// Whether a collection holds an id.
    /// - Throws: `unknown_collection`.
    public func contains(id: Int64, in collection: String) throws(FlatVecError) -> Bool {
        try registry.collection(named: collection).index.contains(id: id)
    }
}
