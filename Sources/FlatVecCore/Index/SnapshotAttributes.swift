/// The attributes section of a version 2 snapshot (see proto-spec/SNAPSHOT.md): the schema and every
/// row's values, column by column, with each keyword column's strings.
enum SnapshotAttributes {
    /// Appends the section for rows `0 ..< rows.count`; the caller holds the reader lock.
    static func write(_ rows: ChunkedRows, into writer: inout SnapshotWriter) throws(FlatVecError) {
        let count = rows.count
        try writer.append(UInt32(rows.schema.count))
        for (slot, definition) in rows.schema.enumerated() {
            try writer.append(definition.type.rawValue)
            let name = Array(definition.name.utf8)
            try writer.append(UInt8(name.count))
            try appendBytes(name, into: &writer)
            for r in 0..<count {
                let (chunk, offset) = rows.location(of: r)
                try writer.append(chunk.attributes[slot].present[offset])
            }
            if definition.type != .keyword {
                for r in 0..<count {
                    let (chunk, offset) = rows.location(of: r)
                    try writer.append(chunk.attributes[slot].words[offset])
                }
                continue
            }
            // Only the strings some row has, numbered in order of first use in row order.
            var numbers: [Int64: UInt32] = [:]
            var strings: [String] = []
            var indices: [UInt32] = []
            indices.reserveCapacity(count)
            for r in 0..<count {
                let (chunk, offset) = rows.location(of: r)
                guard let word = chunk.attributes[slot].word(at: offset) else {
                    indices.append(0)
                    continue
                }
                if let number = numbers[word] {
                    indices.append(number)
                } else {
                    let number = UInt32(strings.count)
                    numbers[word] = number
                    if case .keyword(let string) = rows.value(of: word, slot: slot) { strings.append(string) }
                    indices.append(number)
                }
            }
            try writer.append(UInt32(strings.count))
            for string in strings {
                let bytes = Array(string.utf8)
                try writer.append(UInt32(bytes.count))
                try appendBytes(bytes, into: &writer)
            }
            for index in indices { try writer.append(index) }
        }
    }

    private static func appendBytes(_ bytes: [UInt8], into writer: inout SnapshotWriter) throws(FlatVecError) {
        let result: Result<Void, FlatVecError> = bytes.withUnsafeBytes { raw in
            Result { () throws(FlatVecError) in try writer.append(bytes: raw) }
        }
        try result.get()
    }

    /// Reads the section (`section` holds exactly its bytes) into `index`, whose rows `0 ..< count`
    /// are the snapshot's rows in order.
    /// - Throws: ``FlatVecError/Code/corruptData`` (through `corrupt`) naming the failed check.
    static func read(
        _ section: UnsafeRawBufferPointer, count: Int, into index: FlatIndex, corrupt: (String) -> FlatVecError
    ) throws(FlatVecError) {
        var cursor = 0
        func take(_ n: Int, _ what: String) throws(FlatVecError) -> UnsafeRawBufferPointer {
            guard n >= 0, n <= section.count - cursor else { throw corrupt("attributes section ends inside \(what)") }
            defer { cursor += n }
            return UnsafeRawBufferPointer(rebasing: section[cursor..<(cursor + n)])
        }
        func u32(_ what: String) throws(FlatVecError) -> UInt32 {
            UInt32(littleEndian: try take(4, what).loadUnaligned(as: UInt32.self))
        }
        let attributeCount = Int(try u32("the attribute count"))
        guard attributeCount <= AttributeDefinition.maximumCount else {
            throw corrupt("\(attributeCount) attributes, more than \(AttributeDefinition.maximumCount)")
        }
        for a in 0..<attributeCount {
            let header = try take(2, "the header of attribute \(a)")
            guard let type = AttributeType(rawValue: header[0]) else { throw corrupt("attribute \(a) has unknown type \(header[0])") }
            let name = String(decoding: try take(Int(header[1]), "the name of attribute \(a)"), as: UTF8.self)
            let definition: AttributeDefinition
            do {
                definition = try AttributeDefinition(name: name, type: type)
                try index.addAttribute(definition)
            } catch {
                throw corrupt("attribute \(a): \(error.message)")
            }
            let presence = try take(count, "the presence bytes of \(name)")
            var words = [Int64](repeating: 0, count: count)
            if type == .keyword {
                let stringCount = Int(try u32("the string count of \(name)"))
                guard stringCount <= count else { throw corrupt("attribute \(name) has \(stringCount) strings for \(count) rows") }
                var strings: [String] = []
                for s in 0..<stringCount {
                    let length = Int(try u32("string \(s) of \(name)"))
                    guard length <= AttributeValue.maximumKeywordBytes,
                        let string = String(validating: try take(length, "string \(s) of \(name)"), as: UTF8.self)
                    else { throw corrupt("string \(s) of attribute \(name) is too long or not UTF-8") }
                    strings.append(string)
                }
                let indices = try take(4 * count, "the string numbers of \(name)")
                let numbers = index.lock.withWriterLock {
                    let slot = index.rows.slot(of: name)!
                    return strings.map { index.rows.word(for: .keyword($0), slot: slot)! }
                }
                for r in 0..<count where presence[r] != 0 {
                    let i = Int(UInt32(littleEndian: indices.loadUnaligned(fromByteOffset: 4 * r, as: UInt32.self)))
                    guard i < numbers.count else { throw corrupt("row \(r) of attribute \(name) names string \(i) of \(numbers.count)") }
                    words[r] = numbers[i]
                }
            } else {
                let raw = try take(8 * count, "the values of \(name)")
                for r in 0..<count where presence[r] != 0 {
                    let word = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * r, as: Int64.self))
                    if type == .bool && word != 0 && word != 1 { throw corrupt("row \(r) of bool attribute \(name) holds \(word)") }
                    if type == .float64 && Double(bitPattern: UInt64(bitPattern: word)).isNaN {
                        throw corrupt("row \(r) of attribute \(name) is NaN")
                    }
                    words[r] = type == .float64 && word == Int64(bitPattern: (-0.0).bitPattern) ? 0 : word
                }
            }
            for r in 0..<count where presence[r] > 1 { throw corrupt("row \(r) of attribute \(name) has presence byte \(presence[r])") }
            index.lock.withWriterLock {
                let slot = index.rows.slot(of: name)!
                for c in 0..<index.rows.occupiedChunkCount {
                    let chunk = index.rows.writableChunk(c)
                    let first = c * index.rows.rowsPerChunk
                    for r in first..<(first + index.rows.rows(inChunk: c)) {
                        chunk.attributes[slot].set(r - first, word: presence[r] == 0 ? nil : words[r])
                    }
                }
            }
        }
        guard cursor == section.count else {
            throw corrupt("\(section.count - cursor) bytes follow the attributes section")
        }
    }
}
