import FlatVecCore
import FlatVecProtocol
import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The local durable store (`flatvec serve --data DIR`): snapshots plus an append-only log.
///
/// ```
/// DIR/LOCK                      held (flock) by the running server
/// DIR/MANIFEST                  "flatvec-manifest 1", "generation G", one "collection NAME FILE" per collection
/// DIR/snapshots/NAME.G.flatvec  each collection at generation G (proto-spec/SNAPSHOT.md)
/// DIR/wal.G.log                 every write since generation G: checksummed records, fsynced before the reply
/// ```
///
/// Start-up loads the snapshots of the manifest's generation and replays its log; a torn or corrupt
/// record (a crash mid-write) ends the replay and is cut off. ``compact(_:)`` writes new snapshots,
/// then a new manifest (write, fsync, rename), then starts an empty log and deletes the old files.
public final class LocalDirectoryStore: DurableStore, Sendable {
    /// The directory.
    public let directory: String
    /// The log size at which the server compacts.
    public let compactionThreshold: Int
    private let logger: Logger
    private let lockFD: Int32
    private struct State {
        var generation: Int
        var log: WriteAheadLog
    }
    private let state: Mutex<State>
    private let loaded: Mutex<[Collection]>

    /// Record types in the log.
    enum RecordType: UInt8 {
        case create = 1, drop = 2, add = 3, remove = 4
    }

    /// Opens the directory (creating it), loads its snapshots and replays its log.
    /// - Throws: ``FlatVecError`` with `ioError` if the directory cannot be used or another server
    ///   holds it, `corruptData` naming the file if a snapshot or the manifest fails its checks.
    public init(directory: String, compactionThreshold: Int = 256 << 20, logger: Logger) throws(FlatVecError) {
        self.directory = directory
        self.compactionThreshold = compactionThreshold
        self.logger = logger
        mkdir(directory, 0o755)
        mkdir(directory + "/snapshots", 0o755)
        let lockFD = open(directory + "/LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw FlatVecError(.ioError, "cannot use data directory \(directory): \(String(cString: strerror(errno)))") }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            close(lockFD)
            throw FlatVecError(.ioError, "data directory \(directory) is in use by another server")
        }
        self.lockFD = lockFD
        let (generation, files) = try Self.readManifest(directory: directory)
        var collections: [String: Collection] = [:]
        for (name, file) in files {
            let index = try FlatIndex.loadSnapshot(from: directory + "/snapshots/" + file)
            collections[name] = Collection(name: name, index: index)
        }
        let logPath = Self.logPath(directory, generation)
        let (records, validLength, fileLength) = try WriteAheadLog.readRecords(path: logPath)
        for (n, record) in records.enumerated() {
            do throws(FlatVecError) {
                try Self.apply(record, to: &collections)
            } catch {
                throw FlatVecError(.corruptData, "\(logPath): record \(n + 1) cannot be applied: \(error)")
            }
        }
        if validLength < fileLength {
            logger.warning("dropping a torn or corrupt log tail", metadata: [
                "log": "\(logPath)", "valid bytes": "\(validLength)", "dropped bytes": "\(fileLength - validLength)",
            ])
        }
        let log = try WriteAheadLog(path: logPath, validLength: validLength)
        state = Mutex(State(generation: generation, log: log))
        loaded = Mutex(collections.values.sorted { $0.name < $1.name })
        logger.info("opened data directory", metadata: [
            "directory": "\(directory)", "generation": "\(generation)", "collections": "\(collections.count)", "log records replayed": "\(records.count)",
        ])
    }

    deinit { close(lockFD) }

    /// Describes the store.
    public var description: String { "local directory \(directory) (snapshots + fsynced log)" }

    /// The collections found at start-up.
    public func loadCollections() throws(FlatVecError) -> [Collection] { loaded.withLock { $0 } }

    /// Logs a CREATE_COLLECTION.
    public func createCollection(name: String, dimension: Int, metric: Metric) throws(FlatVecError) {
        var body = ByteBufferAllocator().buffer(capacity: 64)
        body.writeInteger(RecordType.create.rawValue)
        CreateCollectionRequest(name: name, dimension: UInt32(dimension), metric: metric).encode(into: &body)
        try append(body)
    }

    /// Logs a DROP_COLLECTION.
    public func dropCollection(name: String) throws(FlatVecError) {
        var body = ByteBufferAllocator().buffer(capacity: 64)
        body.writeInteger(RecordType.drop.rawValue)
        Request.dropCollection(name).encode(into: &body)
        try append(body)
    }

    /// Logs an ADD (the rows exactly as the index stores them).
    public func add(collection: String, batch: VectorBatch) throws(FlatVecError) {
        var body = ByteBufferAllocator().buffer(capacity: 64 + batch.vectors.count * 4 + batch.count * 16)
        body.writeInteger(RecordType.add.rawValue)
        AddRequest(collection: collection, batch: batch).encode(into: &body)
        try append(body)
    }

    /// Logs a REMOVE.
    public func remove(collection: String, ids: [Int64]) throws(FlatVecError) {
        var body = ByteBufferAllocator().buffer(capacity: 64 + ids.count * 8)
        body.writeInteger(RecordType.remove.rawValue)
        IDListRequest(collection: collection, ids: ids).encode(into: &body)
        try append(body)
    }

    /// Whether the log has grown past the compaction threshold.
    public var wantsCompaction: Bool { state.withLock { $0.log.size } >= compactionThreshold }

    /// Writes every collection to a new snapshot generation and starts an empty log.
    /// The caller must keep writes out while this runs (the executor's write gate does).
    public func compact(_ collections: [Collection]) throws(FlatVecError) {
        try state.withLock { s throws(FlatVecError) in
            let next = s.generation + 1
            var files: [(String, String)] = []
            for c in collections {
                let file = "\(c.name).\(next).flatvec"
                try c.index.writeSnapshot(to: directory + "/snapshots/" + file)
                files.append((c.name, file))
            }
            let newLog = try WriteAheadLog(path: Self.logPath(directory, next), validLength: 0)
            try Self.writeManifest(directory: directory, generation: next, files: files)
            // The new generation is committed; the old files are garbage now.
            unlink(Self.logPath(directory, s.generation))
            if let entries = try? Self.listSnapshots(directory) {
                let keep = Set(files.map(\.1))
                for entry in entries where !keep.contains(entry) { unlink(directory + "/snapshots/" + entry) }
            }
            s.generation = next
            s.log = newLog
            logger.info("compacted", metadata: ["generation": "\(next)", "collections": "\(collections.count)"])
        }
    }

    private func append(_ body: ByteBuffer) throws(FlatVecError) {
        let log = state.withLock { $0.log }
        try log.append(body)
    }

    static func logPath(_ directory: String, _ generation: Int) -> String { "\(directory)/wal.\(generation).log" }

    static func apply(_ record: [UInt8], to collections: inout [String: Collection]) throws(FlatVecError) {
        var buffer = ByteBufferAllocator().buffer(bytes: record)
        guard let raw = buffer.readInteger(as: UInt8.self), let type = RecordType(rawValue: raw) else {
            throw FlatVecError(.corruptData, "unknown record type")
        }
        let limits = ProtocolLimits(maxFrameBytes: .max, maxBatch: .max)
        switch type {
        case .create:
            let r = try CreateCollectionRequest.decode(from: &buffer)
            collections[r.name] = Collection(name: r.name, index: try FlatIndex(dimension: Int(r.dimension), metric: r.metric))
        case .drop:
            guard case .dropCollection(let name) = try Request.decode(opcode: .dropCollection, payload: &buffer, limits: limits) else { return }
            collections[name] = nil
        case .add:
            let r = try AddRequest.decode(from: &buffer, limits: limits)
            guard let c = collections[r.collection] else { throw FlatVecError(.corruptData, "ADD to unknown collection \(r.collection)") }
            try c.index.restore(r.batch)
        case .remove:
            let r = try IDListRequest.decode(from: &buffer, limits: limits)
            guard let c = collections[r.collection] else { throw FlatVecError(.corruptData, "REMOVE from unknown collection \(r.collection)") }
            try c.index.remove(ids: r.ids)
        }
    }

    static func readManifest(directory: String) throws(FlatVecError) -> (Int, [(String, String)]) {
        let path = directory + "/MANIFEST"
        guard let file = fopen(path, "r") else {
            if errno == ENOENT { return (0, []) }
            throw FlatVecError(.ioError, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var lines: [String] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 { lines.append(String(cString: line!).trimmingNewline()) }
        guard lines.first == "flatvec-manifest 1", lines.count >= 2, lines[1].hasPrefix("generation "),
              let generation = Int(lines[1].dropFirst("generation ".count))
        else { throw FlatVecError(.corruptData, "\(path) is not a FlatVec manifest") }
        var files: [(String, String)] = []
        for entry in lines.dropFirst(2) where !entry.isEmpty {
            let parts = entry.split(separator: " ")
            guard parts.count == 3, parts[0] == "collection" else { throw FlatVecError(.corruptData, "\(path): bad line '\(entry)'") }
            files.append((String(parts[1]), String(parts[2])))
        }
        return (generation, files)
    }

    static func writeManifest(directory: String, generation: Int, files: [(String, String)]) throws(FlatVecError) {
        var text = "flatvec-manifest 1\ngeneration \(generation)\n"
        for (name, file) in files { text += "collection \(name) \(file)\n" }
        let path = directory + "/MANIFEST"
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FlatVecError(.ioError, "cannot write \(temporary)") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            throw FlatVecError(.ioError, "cannot commit \(path): \(String(cString: strerror(errno)))")
        }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }

    static func listSnapshots(_ directory: String) throws -> [String] {
        guard let dir = opendir(directory + "/snapshots") else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name.hasSuffix(".flatvec") { names.append(name) }
        }
        return names
    }
}

extension String {
    func trimmingNewline() -> String {
        var s = Substring(self)
        while let l = s.last, l == "\n" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
