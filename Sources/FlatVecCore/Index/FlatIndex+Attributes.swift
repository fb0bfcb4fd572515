extension FlatIndex {
    /// The attributes vectors of this index may carry, in declaration order.
    public var attributes: [AttributeDefinition] { lock.withReaderLock { rows.schema } }

    /// Declares a new attribute; every stored vector has no value for it until set.
    /// - Parameter definition: Its name and type.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` if an attribute of that name exists,
    ///   ``FlatVecError/Code/limitExceeded`` past ``AttributeDefinition/maximumCount``.
    public func addAttribute(_ definition: AttributeDefinition) throws(FlatVecError) {
        try lock.withWriterLock { () throws(FlatVecError) in
            try checkAddable(definition, schema: rows.schema)
            rows.addAttribute(definition)
        }
    }

    /// Checks that ``addAttribute(_:)`` would succeed now.
    /// - Parameter definition: Its name and type.
    /// - Throws: As ``addAttribute(_:)``.
    public func checkAddable(_ definition: AttributeDefinition) throws(FlatVecError) {
        let schema = lock.withReaderLock { rows.schema }
        try checkAddable(definition, schema: schema)
    }

    private func checkAddable(_ definition: AttributeDefinition, schema: [AttributeDefinition]) throws(FlatVecError) {
        if let existing = schema.first(where: { $0.name == definition.name }) {
            throw FlatVecError(.invalidArgument, "attribute \(definition.name) exists already (as \(existing.type))")
        }
        try AttributeDefinition.checkSchema(schema + [definition])
    }

    /// Forgets an attribute and every vector's value for it.
    /// - Parameter name: The attribute.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` if there is no such attribute.
    public func dropAttribute(named name: String) throws(FlatVecError) {
        try lock.withWriterLock { () throws(FlatVecError) in
            guard let slot = rows.slot(of: name) else { throw unknownAttribute(name, schema: rows.schema) }
            rows.dropAttribute(at: slot)
        }
    }

    /// Checks that ``dropAttribute(named:)`` would succeed now.
    /// - Parameter name: The attribute.
    /// - Throws: As ``dropAttribute(named:)``.
    public func checkDroppable(named name: String) throws(FlatVecError) {
        let schema = lock.withReaderLock { rows.schema }
        guard schema.contains(where: { $0.name == name }) else { throw unknownAttribute(name, schema: schema) }
    }

    private func unknownAttribute(_ name: String, schema: [AttributeDefinition]) -> FlatVecError {
        let known = schema.isEmpty ? "it has none" : "it has " + schema.map(\.description).joined(separator: ", ")
        return FlatVecError(.invalidArgument, "unknown attribute \"\(name)\" (\(known))")
    }

    /// Checks the attribute values of a batch against the schema; returns them converted to the
    /// attributes' types (`int64` values of `float64` attributes widened).
    func checkAttributes(of batch: VectorBatch) throws(FlatVecError) -> [[String: AttributeValue]] {
        guard !batch.attributes.isEmpty else { return [] }
        let schema = lock.withReaderLock { rows.schema }
        var checked: [[String: AttributeValue]] = []
        checked.reserveCapacity(batch.count)
        for (i, values) in batch.attributes.enumerated() {
            checked.append(try checkValues(values, schema: schema) { "id \(batch.ids[i])" })
        }
        return checked
    }

    private func checkValues(
        _ values: [String: AttributeValue], schema: [AttributeDefinition], owner: () -> String
    ) throws(FlatVecError) -> [String: AttributeValue] {
        var converted: [String: AttributeValue] = [:]
        for (name, value) in values {
            guard let definition = schema.first(where: { $0.name == name }) else {
                let error = unknownAttribute(name, schema: schema)
                throw FlatVecError(error.code, "\(owner()): \(error.message)")
            }
            do {
                converted[name] = try value.converted(to: definition.type, attribute: name)
            } catch {
                throw FlatVecError(error.code, "\(owner()): \(error.message)")
            }
        }
        return converted
    }

    /// Changes the label, payload or attribute values of stored vectors without touching their
    /// vectors. All or nothing: if any id is unknown or any change is invalid, nothing changes.
    /// Every search sees each row either wholly before or wholly after.
    /// - Parameter updates: One update per id.
    /// - Throws: ``FlatVecError/Code/unknownID`` naming the unknown ids; ``FlatVecError/Code/duplicateID``
    ///   for an id updated twice; ``FlatVecError/Code/invalidArgument`` for an unknown attribute, a
    ///   value of the wrong type, an attribute both set and cleared, a payload that is not UTF-8;
    ///   ``FlatVecError/Code/limitExceeded`` for a payload too large.
    public func update(_ updates: [RowUpdate]) throws(FlatVecError) {
        let checked = try validate(updates)
        try apply(checked)
    }

    /// Checks updates against this index and returns them with values converted, without applying
    /// them (a server makes them durable first, then calls ``apply(_:)``).
    /// - Parameter updates: One update per id.
    /// - Returns: The updates as they will be applied.
    /// - Throws: As ``update(_:)``.
    public func validate(_ updates: [RowUpdate]) throws(FlatVecError) -> [RowUpdate] {
        let schema = lock.withReaderLock { rows.schema }
        var seen = Set<Int64>(minimumCapacity: updates.count)
        var checked: [RowUpdate] = []
        checked.reserveCapacity(updates.count)
        for update in updates {
            guard seen.insert(update.id).inserted else {
                throw FlatVecError(.duplicateID, "id \(update.id) appears twice in one update")
            }
            var converted = update
            converted.set = try checkValues(update.set, schema: schema) { "update of id \(update.id)" }
            for name in update.clear {
                guard schema.contains(where: { $0.name == name }) else {
                    let error = unknownAttribute(name, schema: schema)
                    throw FlatVecError(error.code, "update of id \(update.id): \(error.message)")
                }
                if update.set[name] != nil {
                    throw FlatVecError(.invalidArgument, "update of id \(update.id) both sets and clears attribute \(name)")
                }
            }
            if case .set(let payload) = update.payload {
                guard payload.count <= Self.maximumPayloadBytes else {
                    throw FlatVecError(
                        .limitExceeded,
                        "payload of id \(update.id) is \(payload.count) bytes, more than \(Self.maximumPayloadBytes)"
                    )
                }
                guard String(validating: payload, as: UTF8.self) != nil else {
                    throw FlatVecError(.invalidArgument, "payload of id \(update.id) is not valid UTF-8")
                }
            }
            checked.append(converted)
        }
        let unknown = lock.withReaderLock { updates.map(\.id).filter { rows.row(of: $0) == nil } }
        if !unknown.isEmpty {
            throw FlatVecError(.unknownID, "unknown \(Self.describe(ids: unknown)); nothing was updated")
        }
        return checked
    }

    /// Applies updates returned by ``validate(_:)-([RowUpdate])``, under one writer lock.
    /// - Parameter updates: Validated updates.
    /// - Throws: ``FlatVecError/Code/unknownID`` if an id was removed since; nothing changes then.
    public func apply(_ updates: [RowUpdate]) throws(FlatVecError) {
        guard !updates.isEmpty else { return }
        let unknown: [Int64] = lock.withWriterLock {
            let unknown = updates.map(\.id).filter { rows.row(of: $0) == nil }
            if unknown.isEmpty {
                for update in updates { rows.apply(update) }
            }
            return unknown
        }
        if !unknown.isEmpty {
            throw FlatVecError(.unknownID, "unknown \(Self.describe(ids: unknown)); nothing was updated")
        }
    }
}
