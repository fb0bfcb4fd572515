import FlatVecCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The local durable store (`flatvec serve --data DIR`): snapshots made of segments, plus an
/// append-only log.
///
/// ```
/// DIR/LOCK                        held (flock) by the running server
/// DIR/MANIFEST                    "flatvec-manifest 2", "generation G", one "collection NAME FILE" per collection
/// DIR/snapshots/NAME.G.flatvec    each collection as of log G: a version 3 snapshot naming its segments
/// DIR/snapshots/NAME.G.C.seg      chunk C of a collection, written by the compaction of generation G (kept by
///                                 later ones while nothing changes it), mapped at start-up (proto-spec/SNAPSHOT.md)
/// DIR/wal.G.log, wal.G+1.log ...  every write since generation G: checksummed records, fsynced before the reply
/// DIR/wal.G.stage ...             the parts of the large ADDs staged while log G was written (LOG.md)
/// ```
///
/// Start-up maps the segments of the manifest's snapshots (older snapshot versions are read whole)
/// and replays the logs from G on, in order, each with the parts of its stage file; a torn tail of
/// the last (a crash mid-write) is cut off, a damaged record with valid ones after it stops start-up. A compaction
/// (``beginCompaction(_:)``) takes a view of each collection and starts the next log with writes held
/// out for a moment; ``finishCompaction(_:)`` then writes the chunks that changed since the last one
/// as new segments and a snapshot per collection, commits a new manifest (write, fsync, rename), and
/// deletes the logs, snapshots and segments the old manifest named and the new one does not, while
/// writes go on.
public final class LocalDirectoryStore: DurableStore, Sendable {
    /// The directory.
    public let directory: String
    /// The log size at which the server compacts.
    public let compactionThreshold: Int
    private let logger: Logger
    private let lockFD: Int32
    private struct State {
        /// The committed manifest's generation: the first log start-up replays.
        var generation: Int
        /// The number of the log written now (the generation, or later after a compaction began).
        var logNumber: Int
        /// The snapshot files the committed manifest names: the only ones compaction may retire.
        var snapshotFiles: [String]
        /// The segment files those snapshots name.
        var segmentFiles: Set<String>
        /// Files a committed compaction retired while a backup was copying them: deleted when no backup runs.
        var garbage: [String] = []
        var log: WriteAheadLog
        /// The current log's stage file, once a large ADD was staged in it (or found at start-up).
        var stageLog: WriteAheadLog?
        /// The number of the next staged ADD in this log: never one a record of the log or its stage
        /// file uses (it starts at the larger of their lengths when opened, and a stage's number is at
        /// most its first part's offset).
        var nextStage: UInt64
        /// Set by ``close()``: the lock is released and nothing more is written.
        var closed = false
        /// Online backups holding this generation's files, with their last sign of life.
        var backups: [UInt64: ContinuousClock.Instant] = [:]
        var nextBackup: UInt64 = 1

        /// Drops backups silent for longer than ``LocalDirectoryStore/backupIdleLimit``; returns
        /// whether one is still in progress.
        mutating func backupInProgress() -> Bool {
            let now = ContinuousClock.now
            backups = backups.filter { now - $0.value < LocalDirectoryStore.backupIdleLimit }
            return !backups.isEmpty
        }
    }

    /// A backup not heard from for this long no longer holds compaction off.
    static let backupIdleLimit = Duration.seconds(60)
    private let state: Mutex<State>
    /// Held while a stage file is created: one at a time, so none is created twice (and cut).
    private let stageCreation = Mutex(())
    private let loaded: Mutex<[NamedIndex]>
    /// Moves the codes of the segments mapped at start-up into memory.
    private let codeMover: CodeMover


    /// Opens the directory (creating it), loads its snapshots and replays its log.
    ///
    /// Only a torn log tail (bytes after the last whole record, with no valid record among them) is
    /// repaired silently. A damaged record followed by valid ones stops start-up with `corruptData`
    /// naming the file and offset, and leaves every file untouched, unless `truncateCorruptLog` is
    /// set: then everything from the damaged record on is cut off, and the log says what was dropped.
    /// - Parameters:
    ///   - directory: The data directory.
    ///   - compactionThreshold: The log size at which the server compacts.
    ///   - truncateCorruptLog: Cut a damaged log at its first bad record instead of refusing to start.
    ///   - indexConfiguration: The tuning of the indexes it loads (search threads, chunk size).
    ///   - logger: For start-up, repairs and compactions.
    /// - Throws: ``FlatVecError`` with `ioError` if the directory cannot be used or another server
    ///   holds it, `corruptData` naming the file if a snapshot, the manifest or the log fails its checks,
    ///   or if the directory holds data files but no manifest.
    public init(
        directory: String, compactionThreshold: Int = 256 << 20, truncateCorruptLog: Bool = false,
        indexConfiguration: FlatIndex.Configuration = .init(), logger: Logger
    ) throws(FlatVecError) {
        self.directory = directory
        self.compactionThreshold = compactionThreshold
        self.logger = logger
        mkdir(directory, 0o755)
        mkdir(directory + "/snapshots", 0o755)
        let lockFD = open(directory + "/LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw FlatVecError(.ioError, "cannot use data directory \(directory): \(String(cString: strerror(errno)))") }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(lockFD)
            throw FlatVecError(.ioError, "data directory \(directory) is in use by another server")
        }
        self.lockFD = lockFD
        let (generation, files): (Int, [(String, String)])
        do throws(FlatVecError) {
            (generation, files) = try Self.openManifest(directory: directory, logger: logger)
        } catch {
            Glibc.close(lockFD)
            throw error
        }
        var collections: [String: NamedIndex] = [:]
        // The logs from the generation on: earlier ones were retired whole when their compaction ended.
        var logNumber = generation
        while access(Self.logPath(directory, logNumber + 1), F_OK) == 0 { logNumber += 1 }
        let logPath = Self.logPath(directory, logNumber)
        let stagePath = Self.stagePath(directory, logNumber)
        let contents: WriteAheadLog.Contents
        let stageContents: WriteAheadLog.Contents
        var replayed = 0
        do throws(FlatVecError) {
            for (name, file) in files {
                let index = try FlatIndex.loadSnapshot(
                    from: directory + "/snapshots/" + file, configuration: indexConfiguration.forCollection(name)
                )
                collections[name] = NamedIndex(name: name, index: index)
            }
            for number in generation..<logNumber {
                let rotated = Self.logPath(directory, number)
                let records = try WriteAheadLog.readRecords(path: rotated)
                guard records.validLength == records.fileLength else {
                    throw FlatVecError(.corruptData, "\(rotated): record \(records.records.count + 1) at offset \(records.validLength) is damaged, "
                        + "and later logs follow; refusing to start, no file was changed. Restore the directory from a backup")
                }
                let stageFile = Self.stagePath(directory, number)
                let parts = try Self.readStageFile(stageFile)
                try Self.replay(
                    records.records, of: rotated, parts: parts.records, of: stageFile, to: &collections, configuration: indexConfiguration
                )
                replayed += records.records.count
            }
            stageContents = try Self.readStageFile(stagePath)
            contents = try WriteAheadLog.readRecords(path: logPath)
            if let resumed = contents.validRecordAfterDamage {
                let what = "\(logPath): record \(contents.records.count + 1) at offset \(contents.validLength) is damaged, "
                    + "and valid records follow at offset \(resumed)"
                guard truncateCorruptLog else {
                    throw FlatVecError(.corruptData, what + "; refusing to start, no file was changed. "
                        + "Restore the directory from a backup, or start with --truncate-corrupt-log to drop "
                        + "\(contents.fileLength - contents.validLength) bytes from offset \(contents.validLength) on")
                }
                logger.error("truncating a corrupt log as asked (--truncate-corrupt-log): acknowledged writes after the damage are dropped", metadata: [
                    "log": "\(logPath)", "damaged record": "\(contents.records.count + 1)", "offset": "\(contents.validLength)",
                    "dropped bytes": "\(contents.fileLength - contents.validLength)",
                ])
            }
            try Self.replay(
                contents.records, of: logPath, parts: stageContents.records, of: stagePath, to: &collections, configuration: indexConfiguration
            )
        } catch {
            Glibc.close(lockFD)
            throw error
        }
        if contents.validLength < contents.fileLength && !contents.isCorrupt {
            logger.warning("cutting a torn log tail (a write interrupted by a crash; never acknowledged)", metadata: [
                "log": "\(logPath)", "valid bytes": "\(contents.validLength)", "dropped bytes": "\(contents.fileLength - contents.validLength)",
            ])
        }
        if stageContents.validLength < stageContents.fileLength {
            logger.warning("cutting a torn stage file tail (a part of a large ADD interrupted by a crash before its commit; never acknowledged)", metadata: [
                "stage file": "\(stagePath)", "valid bytes": "\(stageContents.validLength)",
                "dropped bytes": "\(stageContents.fileLength - stageContents.validLength)",
            ])
        }
        let log: WriteAheadLog
        var stageLog: WriteAheadLog?
        do throws(FlatVecError) {
            log = try WriteAheadLog(path: logPath, validLength: contents.validLength)
            if stageContents.fileLength > 0 { stageLog = try WriteAheadLog(path: stagePath, validLength: stageContents.validLength) }
        } catch {
            Glibc.close(lockFD)
            throw error
        }
        // Logs (and their stage files) before the generation were retired by a compaction a crash
        // interrupted before it deleted them.
        for file in Self.listLogs(directory) + Self.listStageFiles(directory) {
            if let number = Int(file.dropFirst(4).prefix { $0 != "." }), number < generation { unlink(directory + "/" + file) }
        }
        let segmentFiles = Self.segmentNames(files: files.map(\.1), directory: directory)
        Self.removeOrphanSegments(directory: directory, keeping: segmentFiles, logger: logger)
        state = Mutex(State(
            generation: generation, logNumber: logNumber, snapshotFiles: files.map(\.1), segmentFiles: segmentFiles, log: log,
            stageLog: stageLog, nextStage: UInt64(max(contents.validLength, stageContents.validLength))
        ))
        loaded = Mutex(collections.values.sorted { $0.name < $1.name })
        codeMover = CodeMover(indexes: collections.values.map(\.index), logger: logger)
        logger.info("opened data directory", metadata: [
            "directory": "\(directory)", "generation": "\(generation)", "collections": "\(collections.count)",
            "log records replayed": "\(replayed + contents.records.count)",
        ])
    }

    /// Reads the manifest; creates it for a new directory. A directory with data files but no
    /// manifest is damaged, not empty.
    private static func openManifest(directory: String, logger: Logger) throws(FlatVecError) -> (Int, [(String, String)]) {
        if let manifest = try readManifestFile(directory: directory) {
            // Version 2 says the logs may hold staged ADDs, version 3 that their parts may be in stage
            // files (LOG.md): builds reading only older versions refuse the directory instead of
            // taking staged records for a torn tail, or commits for damage.
            if manifest.version != 3 {
                try writeManifest(directory: directory, generation: manifest.generation, files: manifest.files)
            }
            return (manifest.generation, manifest.files)
        }
        let snapshots = listSnapshots(directory)
        let logs = listLogs(directory)
        if !snapshots.isEmpty || logs.contains(where: { $0 != "wal.0.log" }) {
            throw FlatVecError(.corruptData, "\(directory) holds data files (\((logs + snapshots.map { "snapshots/" + $0 }).sorted().joined(separator: ", "))) "
                + "but no MANIFEST, the only record of which files are live; refusing to start, no file was changed. "
                + "Restore MANIFEST from a backup")
        }
        // A new directory, or one written before manifests were created up front (generation 0 has no
        // snapshots: its log holds everything).
        try writeManifest(directory: directory, generation: 0, files: [])
        if !logs.isEmpty { logger.notice("adopted a generation-0 log without a manifest", metadata: ["directory": "\(directory)"]) }
        return (0, [])
    }

    deinit {
        codeMover.stop()
        if !state.withLock({ $0.closed }) { Glibc.close(lockFD) }
    }

    /// Releases the directory's lock (another process may open it now); later writes fail. Stops
    /// moving codes out of the segments' mappings first (no read of the files outlives the store:
    /// once another process owns the directory, it may replace them).
    public func close() {
        let closing = state.withLock { s in
            guard !s.closed else { return false }
            s.closed = true
            return true
        }
        guard closing else { return }
        codeMover.stop()
        Glibc.close(lockFD)
    }

    /// Describes the store.
    public var description: String { "local directory \(directory) (snapshots + fsynced log)" }

    /// The collections found at start-up.
    public func loadCollections() throws(FlatVecError) -> [NamedIndex] { loaded.withLock { $0 } }

    /// Logs a CREATE_COLLECTION.
    public func createCollection(
        name: String, dimension: Int, metric: Metric, attributes: [AttributeDefinition]
    ) throws(FlatVecError) {
        try append(.create(name: name, dimension: dimension, metric: metric, attributes: attributes))
    }

    /// Logs a new attribute.
    public func addAttribute(collection: String, definition: AttributeDefinition) throws(FlatVecError) {
        try append(.addAttribute(collection: collection, definition: definition))
    }

    /// Logs a dropped attribute.
    public func dropAttribute(collection: String, name: String) throws(FlatVecError) {
        try append(.dropAttribute(collection: collection, name: name))
    }

    /// Logs partial updates (already validated).
    public func update(collection: String, updates: [RowUpdate]) throws(FlatVecError) {
        try append(.update(collection: collection, updates: updates))
    }

    /// Logs a DROP_COLLECTION.
    public func dropCollection(name: String) throws(FlatVecError) {
        try append(.drop(name: name))
    }

    /// Logs an ADD (the rows exactly as the index stores them).
    public func add(collection: String, batch: VectorBatch) throws(FlatVecError) {
        try append(.add(collection: collection, batch: batch))
    }

    /// The size of a staged ADD's parts: each is written and synced on its own.
    static let stagePartBytes = 1 << 20

    /// Writes the ADD record of a batch larger than a part ahead of its commit, in parts of
    /// ``stagePartBytes`` (LOG.md: STAGED_PART), each synced on its own; a smaller batch is left
    /// for the commit. A failure leaves only parts no commit names: nothing is stored.
    public func stageAdd(collection: String, batch: VectorBatch) throws(FlatVecError) -> StagedAdd {
        let body = LogRecord.add(collection: collection, batch: batch).encoded()
        guard body.count > Self.stagePartBytes else { return StagedAdd(collection: collection, batch: batch) }
        var taken: (WriteAheadLog, Int, UInt64)?
        while taken == nil {
            taken = try state.withLock { s throws(FlatVecError) -> (WriteAheadLog, Int, UInt64)? in
                guard !s.closed else { throw FlatVecError(.unavailable, "the data directory \(directory) was closed") }
                guard let stageLog = s.stageLog else { return nil }
                defer { s.nextStage += 1 }
                return (stageLog, s.logNumber, s.nextStage)
            }
            if taken == nil { try createStageFile() }
        }
        let (log, logNumber, stage) = taken!
        var parts = 0
        for start in stride(from: 0, to: body.count, by: Self.stagePartBytes) {
            let part = Array(body[start..<min(start + Self.stagePartBytes, body.count)])
            do throws(FlatVecError) {
                try log.append(LogRecord.stagedPart(stage: stage, part: parts, bytes: part).encoded())
            } catch where error.isOutcomeUnknown {
                throw FlatVecError(.unavailable, "writing a batch ahead of its commit failed, nothing was stored: \(error.message)")
            }
            parts += 1
        }
        return StagedAdd(collection: collection, batch: batch, stage: (logNumber, stage, parts))
    }

    /// Creates the current log's stage file unless it has one, with no lock of the writes held: its
    /// name is made durable (a sync of the directory) before a commit can name its parts.
    private func createStageFile() throws(FlatVecError) {
        try stageCreation.withLock { _ throws(FlatVecError) in
            let (exists, number) = try state.withLock { s throws(FlatVecError) -> (Bool, Int) in
                guard !s.closed else { throw FlatVecError(.unavailable, "the data directory \(directory) was closed") }
                return (s.stageLog != nil, s.logNumber)
            }
            guard !exists else { return }
            let created = try WriteAheadLog(path: Self.stagePath(directory, number), validLength: 0)
            Self.syncDirectory(directory)
            // A compaction that started the next log meanwhile leaves it to the log before: empty, and
            // retired with it. The caller then creates the new log's.
            state.withLock { s in
                if s.logNumber == number && s.stageLog == nil { s.stageLog = created }
            }
        }
    }

    /// Logs the commit of a staged ADD (a few bytes); an ADD nothing was staged for, or staged in a
    /// log a compaction has since retired, is logged whole.
    public func commitAdd(_ staged: StagedAdd) throws(FlatVecError) {
        // Writes are held out while a compaction starts the next log (the write path's gate), so the
        // log read here is the one the commit goes to.
        let (log, current) = try state.withLock { s throws(FlatVecError) -> (WriteAheadLog, Int) in
            guard !s.closed else { throw FlatVecError(.unavailable, "the data directory \(directory) was closed") }
            return (s.log, s.logNumber)
        }
        guard let stage = staged.stage, stage.log == current else {
            return try add(collection: staged.collection, batch: staged.batch)
        }
        try log.append(LogRecord.commitStaged(stage: stage.number, parts: stage.parts).encoded())
    }

    /// Logs a REMOVE.
    public func remove(collection: String, ids: [Int64]) throws(FlatVecError) {
        try append(.remove(collection: collection, ids: ids))
    }

    /// Whether the logs since the manifest's generation hold a record (a log started by a
    /// compaction that has not committed its manifest counts).
    public var hasLogToReplay: Bool { state.withLock { $0.log.size > 0 || $0.logNumber > $0.generation } }

    /// Whether the log and its stage file have grown past the compaction threshold (never while a
    /// backup holds the files).
    public var wantsCompaction: Bool {
        state.withLock { !$0.backupInProgress() && $0.log.size + ($0.stageLog?.size ?? 0) >= compactionThreshold }
    }

    /// The current generation's snapshots and its log up to the records written so far, and the
    /// manifest naming them; compaction waits until the backup ends. The caller keeps writes out
    /// while this runs (the write path's gate does), so every stored write is within the log's length.
    public func beginBackup() throws(FlatVecError) -> BackupPlan {
        try state.withLock { s throws(FlatVecError) -> BackupPlan in
            guard !s.closed else { throw FlatVecError(.unavailable, "the data directory \(directory) was closed") }
            var files: [BackupPlan.File] = []
            var manifest = "\(Self.manifestHeader)\ngeneration \(s.generation)\n"
            /// A file of the directory as it is now (the log written now: as far as it is written).
            func file(_ name: String, length: Int? = nil) throws(FlatVecError) -> BackupPlan.File {
                let path = directory + "/" + name
                if let length { return BackupPlan.File(name: name, path: path, length: length) }
                var status = stat()
                guard stat(path, &status) == 0 else { throw FlatVecError(.ioError, "cannot back up \(path): \(String(cString: strerror(errno)))") }
                return BackupPlan.File(name: name, path: path, length: Int(status.st_size))
            }
            for (name, snapshot) in try Self.readManifest(directory: directory)?.1 ?? [] {
                files.append(try file("snapshots/" + snapshot))
                manifest += "collection \(name) \(snapshot)\n"
            }
            for segment in s.segmentFiles.sorted() { files.append(try file("snapshots/" + segment)) }
            for number in s.generation...s.logNumber {
                // A stage file before its log: a commit in the log's copied length names parts that
                // were synced before it, so within the stage file's length taken here.
                if number == s.logNumber, let stageLog = s.stageLog {
                    files.append(try file("wal.\(number).stage", length: stageLog.size))
                } else if number < s.logNumber, access(Self.stagePath(directory, number), F_OK) == 0 {
                    files.append(try file("wal.\(number).stage"))
                }
                files.append(try file("wal.\(number).log", length: number == s.logNumber ? s.log.size : nil))
            }
            let pin = s.nextBackup
            s.nextBackup += 1
            s.backups[pin] = .now
            return BackupPlan(files: files, manifest: Array(manifest.utf8), pin: pin)
        }
    }

    /// Keeps a backup's hold on compaction.
    public func touchBackup(_ pin: UInt64) {
        state.withLock { s in if s.backups[pin] != nil { s.backups[pin] = .now } }
    }

    /// Ends a backup's hold on compaction, and deletes what a compaction retired meanwhile.
    public func endBackup(_ pin: UInt64) {
        let doomed = state.withLock { s in
            s.backups.removeValue(forKey: pin)
            return takeGarbage(&s)
        }
        Self.delete(doomed)
    }

    /// The files compactions retired, to delete once the lock is let go (deleting a log of 256 MiB
    /// takes a while, and every write takes this lock), unless a backup is copying files.
    private func takeGarbage(_ s: inout State) -> [String] {
        guard !s.garbage.isEmpty, !s.backupInProgress() else { return [] }
        defer { s.garbage = [] }
        return s.garbage
    }

    /// Takes a view of every collection and starts the next log; the caller keeps writes out while
    /// this runs (the write path's gate does), which is a moment: no file of the data's size is written.
    /// - Throws: `unavailable` while an online backup holds the current generation's files.
    public func beginCompaction(_ collections: [NamedIndex]) throws(FlatVecError) -> CompactionPlan? {
        try state.withLock { s throws(FlatVecError) -> CompactionPlan? in
            guard !s.closed else { throw FlatVecError(.unavailable, "the data directory \(directory) was closed") }
            guard !s.backupInProgress() else {
                throw FlatVecError(.unavailable, "an online backup is being taken: compaction waits until it ends")
            }
            let next = s.logNumber + 1
            let views = collections.map { CompactionPlan.Collection(name: $0.name, index: $0.index, view: $0.index.segmentView()) }
            s.log = try WriteAheadLog(path: Self.logPath(directory, next), validLength: 0)
            s.stageLog = nil
            s.logNumber = next
            s.nextStage = 0
            Self.syncDirectory(directory)
            return CompactionPlan(generation: next, collections: views)
        }
    }

    /// Writes the plan's chunks that no segment holds yet, a snapshot per collection and the manifest
    /// of the plan's generation, then retires what the old manifest named and the new one does not.
    /// Writes go on meanwhile (they go to the log the plan started). Chunks written are then mapped
    /// from their segments (``FlatIndex/adoptSegments(_:written:segmentsDirectory:)``).
    public func finishCompaction(_ plan: CompactionPlan) throws(FlatVecError) {
        let snapshots = directory + "/snapshots"
        var files: [(String, String)] = []
        var segments = Set<String>()
        var written: [(CompactionPlan.Collection, [Int: SegmentFile])] = []
        var bytesWritten = 0
        for c in plan.collections {
            let file = "\(c.name).\(plan.generation).flatvec"
            let result = try FlatIndex.writeSegments(c.view, to: snapshots + "/" + file, segmentsDirectory: snapshots) { chunk in
                "\(c.name).\(plan.generation).\(chunk).seg"
            }
            files.append((c.name, file))
            segments.formUnion(result.segments.map(\.name))
            written.append((c, result.written))
            bytesWritten += result.written.values.reduce(0) { $0 + $1.bytes }
        }
        // Compactions run one at a time, and only they (and opening) write the manifest: it is
        // committed with no lock held, so writes do not wait for its fsyncs.
        guard !state.withLock({ $0.closed }) else { throw FlatVecError(.unavailable, "the data directory \(directory) was closed") }
        try Self.writeManifest(directory: directory, generation: plan.generation, files: files)
        let doomed = state.withLock { s -> [String] in
            // The new manifest is committed: what only the old one named is garbage now. Files no
            // manifest ever named are left alone.
            for number in s.generation..<plan.generation {
                s.garbage.append(Self.logPath(directory, number))
                s.garbage.append(Self.stagePath(directory, number))
            }
            let keep = Set(files.map(\.1))
            for file in s.snapshotFiles where !keep.contains(file) { s.garbage.append(snapshots + "/" + file) }
            for segment in s.segmentFiles where !segments.contains(segment) { s.garbage.append(snapshots + "/" + segment) }
            s.snapshotFiles = files.map(\.1)
            s.segmentFiles = segments
            s.generation = plan.generation
            return takeGarbage(&s)
        }
        for (c, chunks) in written { c.index.adoptSegments(c.view, written: chunks, segmentsDirectory: snapshots) }
        Self.delete(doomed)
        logger.info("compacted", metadata: [
            "generation": "\(plan.generation)", "collections": "\(plan.collections.count)", "segment bytes written": "\(bytesWritten)",
        ])
    }

    private func append(_ record: LogRecord) throws(FlatVecError) {
        let body = record.encoded()
        let log = try state.withLock { s throws(FlatVecError) -> WriteAheadLog in
            guard !s.closed else { throw FlatVecError(.unavailable, "the data directory \(directory) was closed") }
            return s.log
        }
        try log.append(body)
    }

    static func logPath(_ directory: String, _ generation: Int) -> String { "\(directory)/wal.\(generation).log" }

    /// The stage file of log `generation`: the parts of the large ADDs staged while it was the current log.
    static func stagePath(_ directory: String, _ generation: Int) -> String { "\(directory)/wal.\(generation).stage" }

    /// The parts in a stage file, for replay with its log (none when there is no file). A torn tail
    /// belongs to a stage no commit names (a stage's commit follows the sync of its last part), so
    /// it is left out; a damaged record with valid ones after it may be a committed part: damage.
    static func readStageFile(_ path: String) throws(FlatVecError) -> WriteAheadLog.Contents {
        let contents = try WriteAheadLog.readRecords(path: path)
        if let resumed = contents.validRecordAfterDamage {
            throw FlatVecError(.corruptData, "\(path): record \(contents.records.count + 1) at offset \(contents.validLength) is damaged, "
                + "and valid records follow at offset \(resumed); refusing to start, no file was changed. Restore the directory from a backup")
        }
        return contents
    }

    /// The segment files the named snapshots name (none for snapshots of versions 1 and 2).
    static func segmentNames(files: [String], directory: String) -> Set<String> {
        var names = Set<String>()
        for file in files {
            if let segments = try? FlatIndex.segmentNames(ofSnapshot: directory + "/snapshots/" + file) { names.formUnion(segments) }
        }
        return names
    }

    /// Deletes retired files: a log or stage file a step at a time (``FileRemoval``), so the current
    /// log's syncs never wait for all of its blocks to be freed; a segment or snapshot by its name
    /// alone, since a chunk or a search may still map it (the mapping keeps its pages until it goes).
    /// A file that is not there (a log that staged nothing has no stage file) counts as deleted.
    static func delete(_ paths: [String]) {
        for path in paths {
            if path.hasSuffix(".log") || path.hasSuffix(".stage") { FileRemoval.remove(path) } else { unlink(path) }
        }
    }

    /// Deletes segment files no snapshot of the manifest names: written by a compaction that a crash
    /// interrupted before its manifest, or retired by one that a crash interrupted after it.
    static func removeOrphanSegments(directory: String, keeping: Set<String>, logger: Logger) {
        let orphans = listSegments(directory).filter { !keeping.contains($0) }
        for orphan in orphans { unlink(directory + "/snapshots/" + orphan) }
        if !orphans.isEmpty {
            logger.notice("deleted segment files no snapshot names (left by an interrupted compaction)", metadata: [
                "directory": "\(directory)", "files": "\(orphans.count)",
            ])
        }
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        Glibc.close(fd)
    }

    /// Applies a log's records in order, with the parts of its stage file at hand; a record that does
    /// not apply is `corruptData` naming the file and the record.
    private static func replay(
        _ records: [[UInt8]], of log: String, parts: [[UInt8]], of stageFile: String,
        to collections: inout [String: NamedIndex], configuration: FlatIndex.Configuration
    ) throws(FlatVecError) {
        var replay = LogReplay(configuration: configuration)
        for (n, part) in parts.enumerated() {
            do throws(FlatVecError) {
                try replay.hold(part)
            } catch {
                throw FlatVecError(.corruptData, "\(stageFile): record \(n + 1) cannot be applied: \(error)")
            }
        }
        for (n, record) in records.enumerated() {
            do throws(FlatVecError) {
                try replay.apply(record, to: &collections)
            } catch {
                throw FlatVecError(.corruptData, "\(log): record \(n + 1) cannot be applied: \(error)")
            }
        }
    }

    static func readManifest(directory: String) throws(FlatVecError) -> (Int, [(String, String)])? {
        try readManifestFile(directory: directory).map { ($0.generation, $0.files) }
    }

    /// The manifest's version (1 to 3), generation and collections, or nil if there is none.
    private static func readManifestFile(directory: String) throws(FlatVecError) -> (version: Int, generation: Int, files: [(String, String)])? {
        let path = directory + "/MANIFEST"
        guard let file = fopen(path, "r") else {
            if errno == ENOENT { return nil }
            throw FlatVecError(.ioError, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var lines: [String] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 { lines.append(String(cString: line!).trimmingWhitespace()) }
        let versions = ["flatvec-manifest 1": 1, "flatvec-manifest 2": 2, manifestHeader: 3]
        guard let header = lines.first, let version = versions[header] else {
            throw FlatVecError(.corruptData, "\(path) is not a FlatVec manifest of a version this build reads (1 to 3)")
        }
        guard lines.count >= 2, lines[1].hasPrefix("generation "), let generation = Int(lines[1].dropFirst("generation ".count))
        else { throw FlatVecError(.corruptData, "\(path) is not a FlatVec manifest") }
        var files: [(String, String)] = []
        for entry in lines.dropFirst(2) where !entry.isEmpty {
            let parts = entry.split(separator: " ")
            guard parts.count == 3, parts[0] == "collection" else { throw FlatVecError(.corruptData, "\(path): bad line '\(entry)'") }
            files.append((String(parts[1]), String(parts[2])))
        }
        return (version, generation, files)
    }

    /// The first line of the manifests this build writes: version 3, whose staged ADDs may keep their
    /// parts in stage files (versions 2, with parts only in the logs, and 1, without staged ADDs, are
    /// read too).
    static let manifestHeader = "flatvec-manifest 3"

    static func writeManifest(directory: String, generation: Int, files: [(String, String)]) throws(FlatVecError) {
        var text = "\(manifestHeader)\ngeneration \(generation)\n"
        for (name, file) in files { text += "collection \(name) \(file)\n" }
        let path = directory + "/MANIFEST"
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FlatVecError(.ioError, "cannot write \(temporary)") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        Glibc.close(fd)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            throw FlatVecError(.ioError, "cannot commit \(path): \(String(cString: strerror(errno)))")
        }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            Glibc.close(dir)
        }
    }

    static func listSnapshots(_ directory: String) -> [String] {
        listFiles(directory + "/snapshots").filter { $0.hasSuffix(".flatvec") }
    }

    static func listSegments(_ directory: String) -> [String] {
        listFiles(directory + "/snapshots").filter { $0.hasSuffix(".seg") }
    }

    static func listLogs(_ directory: String) -> [String] {
        listFiles(directory).filter { $0.hasPrefix("wal.") && $0.hasSuffix(".log") }
    }

    static func listStageFiles(_ directory: String) -> [String] {
        listFiles(directory).filter { $0.hasPrefix("wal.") && $0.hasSuffix(".stage") }
    }

    private static func listFiles(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            names.append(withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) })
        }
        return names
    }
}
