import CFlatVecKernels
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension FlatIndex {
    /// The rows as they are now, for ``writeSegments(_:to:segmentsDirectory:name:)`` while the index
    /// goes on serving and changing. Takes the reader lock for a moment (a reference per chunk).
    public func segmentView() -> SegmentView {
        lock.withReaderLock {
            let chunks = Array(rows.chunks.prefix(rows.occupiedChunkCount))
            return SegmentView(
                dimension: dimension, metric: metric, count: rows.count, payloadBytes: rows.payloadBytes,
                rowsPerChunk: rows.rowsPerChunk, codes: configuration.effectiveScan == .int8,
                chunks: chunks, segments: chunks.map(\.segment), schema: rows.schema, dictionaries: rows.dictionaries,
                damage: vectorDamage
            )
        }
    }

    /// Writes a view as a version 3 snapshot at `path` (atomically: temporary file, fsync, rename,
    /// fsync of the directory) naming one segment file per chunk: chunks that already have one keep
    /// it, the others are written to new files in `segmentsDirectory` named by `name` (given the
    /// chunk's position; names must be new). Takes no lock.
    /// - Returns: Every segment the snapshot names, by chunk, and which of them were written now.
    /// - Throws: ``FlatVecError/Code/ioError`` if a file cannot be written; `corruptData` naming a
    ///   segment whose vectors were found damaged (the index's files stay as they are).
    public static func writeSegments(
        _ view: SegmentView, to path: String, segmentsDirectory: String, name: (Int) -> String
    ) throws(FlatVecError) -> (segments: [SegmentFile], written: [Int: SegmentFile]) {
        try view.damage.check()
        var segments: [SegmentFile] = []
        var written: [Int: SegmentFile] = [:]
        // One copy buffer for every segment: a fresh one per segment would fault in (and zero) a
        // chunk's worth of new pages each time.
        var scratch: [UInt8] = []
        for c in 0..<view.occupiedChunks {
            let chunk = view.chunks[c]
            if let kept = view.segments[c] {
                segments.append(kept)
                continue
            }
            let file = try SegmentFormat.write(chunk, rows: view.rows(inChunk: c), to: segmentsDirectory + "/" + name(c), scratch: &scratch)
            segments.append(file)
            written[c] = file
        }
        if !written.isEmpty { syncDirectory(segmentsDirectory) }
        let temporary = path + ".tmp"
        var writer = try SnapshotWriter(creating: temporary)
        try writer.reserveUnchecksummed(SnapshotFormat.headerSize)
        try writer.append(UInt32(view.rowsPerChunk))
        try writer.append(view.codes ? SegmentFormat.codesFlag : 0)
        try writer.append(UInt32(segments.count))
        for (c, segment) in segments.enumerated() {
            try writer.append(UInt32(view.rows(inChunk: c)))
            try writer.append(UInt64(segment.bytes))
            try appendString(segment.name, lengthBytes: 2, into: &writer)
        }
        try writer.append(UInt32(view.schema.count))
        for definition in view.schema {
            try writer.append(definition.type.rawValue)
            try appendString(definition.name, lengthBytes: 1, into: &writer)
            guard definition.type == .keyword else { continue }
            let strings = view.dictionaries[definition.name]?.strings ?? []
            try writer.append(UInt32(strings.count))
            for string in strings { try appendString(string, lengthBytes: 4, into: &writer) }
        }
        try writer.flush()
        try view.damage.check()
        let header = SnapshotFormat.header(
            version: SegmentFormat.snapshotVersion, metric: view.metric, dimension: view.dimension, count: view.count,
            payloadBytes: view.payloadBytes, bodyCRC: writer.crc
        )
        try writer.overwrite(header, at: 0)
        try writer.sync()
        _ = consume writer
        guard rename(temporary, path) == 0 else { throw FlatVecError.ioError("cannot rename \(temporary) to \(path)") }
        syncDirectory(of: path)
        return (segments, written)
    }

    private static func appendString(_ string: String, lengthBytes: Int, into writer: inout SnapshotWriter) throws(FlatVecError) {
        let bytes = Array(string.utf8)
        switch lengthBytes {
        case 1: try writer.append(UInt8(bytes.count))
        case 2: try writer.append(UInt16(bytes.count))
        default: try writer.append(UInt32(bytes.count))
        }
        let result: Result<Void, FlatVecError> = bytes.withUnsafeBytes { raw in
            Result { () throws(FlatVecError) in try writer.append(bytes: raw) }
        }
        try result.get()
    }

    /// After ``writeSegments(_:to:segmentsDirectory:name:)``: every chunk written that nothing changed
    /// since the view is replaced by a private mapping of its new file, so its rows leave the
    /// process's own memory for the page cache, and the next compaction keeps the file.
    ///
    /// The files are mapped and their codes copied into memory with no lock held (the view keeps
    /// each chunk alive, and nothing changes the rows it counted); the writer lock is taken once, for
    /// the swaps (and the copies of payload slots and attribute columns a listing scan may still
    /// read), so searches and writes wait for a moment, not for the mappings.
    public func adoptSegments(_ view: SegmentView, written: [Int: SegmentFile], segmentsDirectory: String) {
        /// Whether chunk `c` is still the view's, with the view's rows (read under a lock).
        func unchanged(_ c: Int) -> Bool {
            c < rows.chunks.count && rows.chunks[c] === view.chunks[c] && rows.rows(inChunk: c) == view.rows(inChunk: c)
        }
        let pool = lock.withReaderLock { rows.reserve.codePool }
        var mapped: [(c: Int, file: SegmentFile, chunk: VectorChunk?)] = []
        for (c, file) in written.sorted(by: { $0.key < $1.key }) {
            guard lock.withReaderLock({ unchanged(c) }) else { continue }
            let old = view.chunks[c]
            let mapping = Self.mapSegment(segmentsDirectory + "/" + file.name, verify: false, pool: pool)
            if let result = try? mapping.get(), result.chunk.layout == old.layout, result.rows == view.rows(inChunk: c) {
                // The codes are in memory already: copied, not read back from the file.
                if result.chunk.layout.codes {
                    let piece = result.chunk.newCodePiece(touched: false)
                    if !result.chunk.moveCodes(into: piece, from: old.codeSection) { result.chunk.discardCodePiece(piece) }
                }
                mapped.append((c, file, result.chunk))
            } else {
                mapped.append((c, file, nil))
            }
        }
        lock.withWriterLock {
            // A chunk a writer copied or appended to since it was mapped keeps its memory; its file
            // was written from the view, so it is not its segment either.
            for (c, file, chunk) in mapped where unchanged(c) {
                let old = rows.chunks[c]
                guard let chunk else {
                    old.segment = file
                    continue
                }
                let rowsInChunk = rows.rows(inChunk: c)
                // Copies: a listing scan may still read the old chunk's slots and columns.
                chunk.payloads = old.payloads.copy(capacity: old.capacity, rows: rowsInChunk)
                chunk.attributes = old.attributes.map { $0.copy(capacity: old.capacity, rows: rowsInChunk) }
                chunk.segment = file
                rows.replaceChunk(c, with: chunk)
            }
        }
    }

    /// Moves the int8 codes of the chunks mapped from segment files at load, which scans read from
    /// the page cache until then, into the process's memory (the code pool's huge pages; see
    /// ``CodePool``), a chunk at a time while searches and writes go on. Start-up answers as soon as
    /// the segments are mapped, and the scans reach their full speed once this returns.
    ///
    /// Each chunk's codes are copied under the reader lock (searches go on; a writer waits for one
    /// chunk's copy, about 1 MiB at d = 512), into memory faulted in before the lock is taken. One
    /// call works at a time: another returns at once.
    /// - Parameter stop: Asked before each chunk; once it answers true, the call returns (the
    ///   chunks not moved yet are read from their mappings, as before).
    /// - Returns: The chunks whose codes it moved.
    @discardableResult
    public func moveMappedCodesIntoMemory(until stop: () -> Bool = { false }) -> Int {
        guard movingCodes.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return 0 }
        defer { movingCodes.store(false, ordering: .releasing) }
        let pool = lock.withReaderLock { rows.reserve.codePool }
        var spare: UnsafeMutableRawPointer?
        var moved = 0
        var c = 0
        while !stop() {
            if spare == nil, let pool {
                spare = pool.take()
                memset(spare!, 0, pool.pieceBytes)
            }
            let done = lock.withReaderLock { () -> Bool in
                guard c < rows.chunks.count else { return true }
                let chunk = rows.chunks[c]
                guard chunk.codesInMapping else { return false }
                if let piece = spare, let pool, chunk.codePool === pool {
                    if chunk.moveCodes(into: piece) { (spare, moved) = (nil, moved + 1) }
                } else {
                    // Not the pool's layout (a collection's last, smaller chunk): a piece of its own.
                    let piece = chunk.newCodePiece(touched: false)
                    if chunk.moveCodes(into: piece) { moved += 1 } else { chunk.discardCodePiece(piece) }
                }
                return false
            }
            if done { break }
            c += 1
        }
        if let spare { pool?.give(spare) }
        return moved
    }

    /// Maps a segment file privately (copy on write) and checks its header and, with `verify`, its
    /// checksums: all of them, but for a version 2 segment with codes given `damage`, whose vectors
    /// are left to their first readers (``VectorChecks``, recording damage in `damage`). The codes are
    /// read from the mapping until moved to a piece of `pool` (see ``VectorChunk/moveCodes(into:from:)``).
    static func mapSegment(
        _ path: String, verify: Bool, pool: CodePool?, damage: VectorDamage? = nil
    ) -> Result<(chunk: VectorChunk, rows: Int), FlatVecError> {
        func corrupt(_ why: String) -> FlatVecError { FlatVecError(.corruptData, "segment \(path): \(why)") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(FlatVecError.ioError("cannot open \(path): \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(FlatVecError.ioError("cannot stat \(path)")) }
        let length = Int(info.st_size)
        guard length >= SegmentFormat.headerBytes else {
            return .failure(corrupt("file is \(length) bytes, shorter than the \(SegmentFormat.headerBytes)-byte header"))
        }
        guard let start = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), start != MAP_FAILED else {
            return .failure(FlatVecError.ioError("cannot map \(path): \(String(cString: strerror(errno)))"))
        }
        var mapped = true
        defer { if mapped { munmap(start, length) } }
        let raw = UnsafeRawBufferPointer(start: start, count: length)
        let header: SegmentFormat.Header
        switch SegmentFormat.Header.decode(raw) {
        case .success(let h): header = h
        case .failure(let problem): return .failure(corrupt(problem.why))
        }
        let layout = ChunkLayout(capacity: header.capacity, dimension: header.dimension, codes: header.codes)
        let block = start + SegmentFormat.headerBytes
        let lazy = verify && header.version != 1 && layout.codes && damage != nil
        if verify {
            #if os(Linux)
            // Read ahead what is checked now: without the vectors when they are checked later, and
            // never the hole of the row-by-row codes (it would fill the page cache with zeros).
            let from = lazy ? layout.ids / ChunkLayout.pageBytes * ChunkLayout.pageBytes : 0
            _ = madvise(block + from, layout.rowCodes - from, MADV_WILLNEED)
            _ = madvise(block + layout.bytes, header.tailBytes, MADV_WILLNEED)
            #endif
            guard SegmentFormat.blockCRC(block, layout, rows: header.rows, version: header.version) == header.blockCRC else {
                return .failure(corrupt(header.version == 1
                    ? "block checksum mismatch (vectors, ids, labels or codes)" : "block checksum mismatch (ids, labels or codes)"))
            }
            guard fv_crc32c(0, block + layout.bytes, header.tailBytes) == header.tailCRC else {
                return .failure(corrupt("tail checksum mismatch (payloads, attributes or vector checksums)"))
            }
        }
        // The tail: payload lengths, payloads, attribute columns, then (version 2) the vector groups' checksums.
        let groups = header.vectorGroups
        guard 4 * groups <= header.tailBytes else { return .failure(corrupt("tail too short for \(groups) vector checksums")) }
        let tail = UnsafeRawBufferPointer(start: block + layout.bytes, count: header.tailBytes - 4 * groups)
        let checksums = (0..<groups).map { g in
            UInt32(littleEndian: (block + layout.bytes).loadUnaligned(fromByteOffset: tail.count + 4 * g, as: UInt32.self))
        }
        if verify && header.version != 1 && !lazy,
           let rows = VectorChecks.firstMismatch(block, dimension: layout.dimension, rows: header.rows, groupRows: header.groupRows, checksums: checksums)
        {
            return .failure(VectorChecks.damaged(segment: path, rows: rows))
        }
        let checks = lazy
            ? VectorChecks(
                segment: path, vectors: block.assumingMemoryBound(to: Float.self), dimension: layout.dimension, rows: header.rows,
                groupRows: header.groupRows, checksums: checksums, damage: damage!
            ) : nil
        var cursor = 0
        func take(_ n: Int) -> UnsafeRawBufferPointer? {
            guard n >= 0, n <= tail.count - cursor else { return nil }
            defer { cursor += n }
            return UnsafeRawBufferPointer(rebasing: tail[cursor..<(cursor + n)])
        }
        guard let lengths = take(4 * header.rows) else { return .failure(corrupt("tail ends inside the payload lengths")) }
        let payloads = PayloadSlots(capacity: layout.capacity)
        for r in 0..<header.rows {
            let n = UInt32(littleEndian: lengths.loadUnaligned(fromByteOffset: 4 * r, as: UInt32.self))
            if n != SnapshotFormat.noPayload {
                guard Int(n) <= maximumPayloadBytes, let bytes = take(Int(n)) else {
                    return .failure(corrupt("payload of row \(r) overruns the tail"))
                }
                payloads[r] = Array(bytes)
            }
        }
        var attributes: [AttributeColumn] = []
        for a in 0..<header.attributes {
            guard let present = take(header.rows), let words = take(8 * header.rows) else {
                return .failure(corrupt("tail ends inside attribute \(a)"))
            }
            let column = AttributeColumn(capacity: header.capacity)
            for r in 0..<header.rows where present[r] != 0 {
                guard present[r] == 1 else { return .failure(corrupt("row \(r) of attribute \(a) has presence byte \(present[r])")) }
                column.set(r, word: Int64(littleEndian: words.loadUnaligned(fromByteOffset: 8 * r, as: Int64.self)))
            }
            attributes.append(column)
        }
        guard cursor == tail.count else { return .failure(corrupt("\(tail.count - cursor) bytes follow the tail's last field")) }
        #if os(Linux)
        if layout.codes {
            // With codes, the scans read the vectors only for the rows they rescore, a few rows of a
            // chunk: a fault there reads those pages alone, not the device's read-ahead window around
            // them (8 MiB on some disks: most of the chunk's vectors, for one row). Reads of many rows
            // ask for them ahead (``VectorChunk/prepareVectors(_:)``).
            _ = madvise(block, layout.ids, MADV_RANDOM)
        }
        #endif
        mapped = false
        let chunk = VectorChunk(
            layout: layout, mappedAt: block, mapping: start, length: length, pool: pool, vectorChecks: checks
        )
        chunk.payloads = payloads
        chunk.attributes = attributes
        return .success((chunk, header.rows))
    }

    /// Loads a version 3 snapshot (the body after the header, already checked): maps every segment it
    /// names from the snapshot's directory, checking each one's checksums (in parallel; the vectors of
    /// version 2 segments with codes as searches first read them, see ``checkStoredVectors()``), and
    /// rebuilds the id map. A segment laid out for another chunk size or scan mode is copied in instead.
    static func decodeSegmented(
        _ raw: UnsafeRawBufferPointer, path: String, metric: Metric, dimension: Int, count: Int, payloadBytes: Int,
        configuration: Configuration
    ) throws(FlatVecError) -> FlatIndex {
        var reader = SegmentListReader(raw: raw, path: path)
        func corrupt(_ why: String) -> FlatVecError { reader.corrupt(why) }
        func u32(_ what: String) throws(FlatVecError) -> Int { try reader.u32(what) }
        func string(_ lengthBytes: Int, _ what: String) throws(FlatVecError) -> String { try reader.string(lengthBytes, what) }
        let (rowsPerChunk, segments) = try reader.segmentList(count: count)
        let index = try FlatIndex(dimension: dimension, metric: metric, configuration: configuration)
        let attributeCount = try u32("the attribute count")
        guard attributeCount <= AttributeDefinition.maximumCount else { throw corrupt("\(attributeCount) attributes") }
        for a in 0..<attributeCount {
            guard let type = AttributeType(rawValue: try reader.take(1, "attribute \(a)")[0]) else { throw corrupt("attribute \(a) has an unknown type") }
            let name = try string(1, "the name of attribute \(a)")
            do {
                try index.addAttribute(try AttributeDefinition(name: name, type: type))
            } catch {
                throw corrupt("attribute \(a): \(error.message)")
            }
            guard type == .keyword else { continue }
            let strings = try u32("the string count of \(name)")
            var dictionary = KeywordDictionary()
            for s in 0..<strings {
                let value = try string(4, "string \(s) of \(name)")
                guard dictionary.number(of: value) == Int64(s) else { throw corrupt("string \(s) of \(name) appears twice") }
            }
            index.lock.withWriterLock { index.rows.restoreDictionary(dictionary, of: name) }
        }
        guard reader.cursor == raw.count else { throw corrupt("\(raw.count - reader.cursor) bytes follow the last attribute") }

        // Map and check every segment, one at a time per core, while a reader asks the disk for the
        // bytes of the next ones: from a cold page cache start-up waits on reads, not on the cores.
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let results = Mutex([Result<(chunk: VectorChunk, rows: Int), FlatVecError>?](repeating: nil, count: segments.count))
        let names = segments.map(\.name)
        let pool = index.rows.reserve.codePool
        let damage = index.vectorDamage
        let wantsCodes = configuration.effectiveScan == .int8
        // The reader takes one of `window` per segment, a checker gives one back as it starts one.
        let window = DispatchSemaphore(value: Self.segmentsReadAhead)
        let readerDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            defer { readerDone.signal() }
            for name in names {
                window.wait()
                readAhead(directory + "/" + name, vectors: !wantsCodes)
            }
        }
        DispatchQueue.concurrentPerform(iterations: names.count) { s in
            window.signal()
            let result = mapSegment(directory + "/" + names[s], verify: true, pool: pool, damage: damage)
            results.withLock { $0[s] = result }
        }
        readerDone.wait()
        let mapped = results.withLock { $0 }
        var failure: FlatVecError?
        index.lock.withWriterLock {
            // Room for the rows the segments hold (not the header's count: files not checked yet could claim any).
            index.rows.reserveIDs(mapped.reduce(0) { total, result in total + ((try? result?.get())?.rows ?? 0) })
            for (s, result) in mapped.enumerated() {
                let chunk: VectorChunk
                let rowsInChunk: Int
                switch result! {
                case .failure(let error):
                    failure = error
                    return
                case .success(let loaded): (chunk, rowsInChunk) = loaded
                }
                let name = segments[s].name
                guard chunk.dimension == dimension, rowsInChunk == segments[s].rows, chunk.attributes.count == attributeCount else {
                    failure = corrupt("segment \(name) holds \(rowsInChunk) rows of dimension \(chunk.dimension) with \(chunk.attributes.count) attributes; the snapshot names \(segments[s].rows) of dimension \(dimension) with \(attributeCount)")
                    return
                }
                let fits = chunk.layout.codes == wantsCodes && index.rows.rowsPerChunk == rowsPerChunk
                    && (chunk.capacity == rowsPerChunk || segments.count == 1)
                if fits, let duplicate = index.rows.install(chunk, rows: rowsInChunk) {
                    failure = corrupt("id \(duplicate) appears twice")
                    return
                } else if fits {
                    chunk.segment = SegmentFile(name: name, bytes: segments[s].bytes)
                    continue
                }
                // Another chunk size or scan mode than the files were written with: copy the rows in.
                chunk.prepareVectors(0..<rowsInChunk)
                if let damage = index.vectorDamage.error {
                    failure = damage
                    return
                }
                for r in 0..<rowsInChunk {
                    guard index.rows.row(of: chunk.ids[r]) == nil else {
                        failure = corrupt("id \(chunk.ids[r]) appears twice")
                        return
                    }
                    index.rows.upsert(id: chunk.ids[r], label: chunk.labels[r], vector: chunk.vector(at: r), payload: chunk.payloads[r])
                    let row = index.rows.row(of: chunk.ids[r])!
                    let target = index.rows.writableChunk(row / index.rows.rowsPerChunk)
                    for (slot, column) in chunk.attributes.enumerated() {
                        target.attributes[slot].set(row % index.rows.rowsPerChunk, word: column.word(at: r))
                    }
                }
            }
        }
        if let failure { throw failure }
        guard index.rows.payloadBytes == payloadBytes else {
            throw corrupt("the segments hold \(index.rows.payloadBytes) payload bytes, the header says \(payloadBytes)")
        }
        return index
    }

    /// The names of the segment files a snapshot names (empty for versions 1 and 2), from its header
    /// and segment list alone.
    /// - Throws: ``FlatVecError/Code/ioError`` if the file cannot be read, `corruptData` if the list is damaged.
    public static func segmentNames(ofSnapshot path: String) throws(FlatVecError) -> [String] {
        let bytes = try readWholeFile(path)
        let result: Result<[String], FlatVecError> = bytes.withUnsafeBytes { raw in
            Result { () throws(FlatVecError) -> [String] in
                guard raw.count >= SnapshotFormat.headerSize, Array(raw[0..<8]) == SnapshotFormat.magic else {
                    throw FlatVecError(.corruptData, "snapshot \(path): bad magic; not a FlatVec snapshot")
                }
                guard raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == SegmentFormat.snapshotVersion.littleEndian else { return [] }
                let count = Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
                var reader = SegmentListReader(raw: raw, path: path)
                return try reader.segmentList(count: count).segments.map(\.name)
            }
        }
        return try result.get()
    }

    /// Segments whose bytes start-up asks for ahead of the threads that check them (about 40 MiB at d = 512).
    static let segmentsReadAhead = 32

    /// Asks the system to read a segment's bytes into the page cache in the background: the header
    /// page, ids, labels, codes and tail, and the vectors only with `vectors` or for a version 1
    /// segment (whose checksum covers them); never the hole of the row-by-row codes. A file that
    /// cannot be read or makes no sense is left to ``mapSegment(_:verify:pool:damage:)`` to name.
    static func readAhead(_ path: String, vectors: Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var fields = [UInt8](repeating: 0, count: 32)
        guard fields.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 32, 0) }) == 32 else { return }
        func u32(_ o: Int) -> Int { Int(fields[o]) | Int(fields[o + 1]) << 8 | Int(fields[o + 2]) << 16 | Int(fields[o + 3]) << 24 }
        let (version, dimension, capacity) = (u32(8), u32(12), u32(16))
        guard (1...maximumDimension).contains(dimension), capacity > 0, capacity % 16 == 0, capacity <= 1 << 20 else { return }
        let layout = ChunkLayout(capacity: capacity, dimension: dimension, codes: u32(24) & Int(SegmentFormat.codesFlag) != 0)
        let block = SegmentFormat.headerBytes
        let from = vectors || version == 1 ? block : block + layout.ids / ChunkLayout.pageBytes * ChunkLayout.pageBytes
        #if os(Linux)
        _ = posix_fadvise(fd, 0, off_t(block), POSIX_FADV_WILLNEED)
        _ = posix_fadvise(fd, off_t(from), off_t(block + layout.rowCodes - from), POSIX_FADV_WILLNEED)
        _ = posix_fadvise(fd, off_t(block + layout.bytes), 0, POSIX_FADV_WILLNEED)
        #endif
    }

    /// Checks every stored vector not checked yet against its segment's checksums.
    ///
    /// An index loaded from segments checks their vectors a group of rows at a time as reads first
    /// touch them, so a restart reads the codes and not the whole catalogue; this reads the rest
    /// (`flatvec verify` does). Takes the reader lock one chunk at a time.
    /// - Throws: `corruptData` naming the first segment and rows whose vectors do not match.
    public func checkStoredVectors() throws(FlatVecError) {
        let chunks = lock.withReaderLock { rows.occupiedChunkCount }
        for c in 0..<chunks {
            lock.withReaderLock {
                guard c < rows.chunks.count, let checks = rows.chunks[c].vectorChecks else { return }
                rows.chunks[c].prepareVectors(0..<checks.rows)
            }
            try vectorDamage.check()
        }
    }

    static func syncDirectory(_ directory: String) {
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
