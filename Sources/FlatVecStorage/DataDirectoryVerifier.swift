import FlatVecCore

#if canImport(Glibc)
import Glibc
#endif

/// Checks a data directory of ``LocalDirectoryStore`` offline, reading only: the manifest, every
/// snapshot it names (header and body checksums, layout, every row) and every segment those name
/// (header, block and tail checksums), the logs from its generation on (every record's checksum, and
/// that each applies to the collections), and files no manifest names.
/// `flatvec verify --data DIR`.
public enum DataDirectoryVerifier {
    /// What a verification found.
    public struct Report: Sendable, Hashable {
        /// What was checked and found sound, one line each.
        public var checked: [String] = []
        /// What is wrong, and where, one line each; empty when the directory is sound.
        public var problems: [String] = []
        /// What is unusual but not damage (a torn log tail, files no manifest names).
        public var notes: [String] = []

        /// Whether nothing is wrong.
        public var isSound: Bool { problems.isEmpty }
    }

    /// Verifies the data directory at `directory` without changing anything in it.
    /// - Parameter directory: The directory a server was started with (`--data`).
    /// - Returns: The report.
    public static func verify(directory: String) -> Report {
        var report = Report()
        var status = stat()
        guard stat(directory, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            report.problems.append("\(directory) is not a directory")
            return report
        }
        let manifest: (generation: Int, files: [(String, String)])?
        do {
            manifest = try LocalDirectoryStore.readManifest(directory: directory).map { (generation: $0.0, files: $0.1) }
        } catch {
            report.problems.append(error.message)
            return report
        }
        let snapshots = LocalDirectoryStore.listSnapshots(directory)
        let logs = LocalDirectoryStore.listLogs(directory)
        let stageFiles = LocalDirectoryStore.listStageFiles(directory)
        guard let manifest else {
            if snapshots.isEmpty && logs.isEmpty {
                report.notes.append("\(directory) holds no data yet (no MANIFEST, no snapshot, no log)")
            } else {
                report.problems.append("\(directory)/MANIFEST is missing, and data files are present: \((logs + snapshots).sorted().joined(separator: ", "))")
            }
            return report
        }
        report.checked.append("MANIFEST: generation \(manifest.generation), \(manifest.files.count) collections")
        // Snapshots: each loads whole (checksums, layout, rows), under its manifest name.
        var collections: [String: NamedIndex] = [:]
        var segmentNames = Set<String>()
        let configuration = FlatIndex.Configuration(searchThreads: 1, scan: .float32)
        for (name, file) in manifest.files {
            let path = directory + "/snapshots/" + file
            if file != "\(name).\(manifest.generation).flatvec" {
                report.problems.append("MANIFEST names \(file) for collection '\(name)' at generation \(manifest.generation); expected \(name).\(manifest.generation).flatvec")
            }
            if collections[name] != nil { report.problems.append("MANIFEST names collection '\(name)' twice") }
            do {
                let index = try FlatIndex.loadSnapshot(from: path, configuration: configuration)
                try index.checkStoredVectors()
                collections[name] = NamedIndex(name: name, index: index)
                let segments = try FlatIndex.segmentNames(ofSnapshot: path)
                segmentNames.formUnion(segments)
                report.checked.append("snapshots/\(file): \(index.count) rows of dimension \(index.dimension)"
                    + (segments.isEmpty ? "" : " in \(segments.count) segments") + ", checksums match")
            } catch {
                report.problems.append("snapshots/\(file): \(error.message)")
            }
        }
        // The logs from this generation on: every record's checksum, and that it applies in order.
        var logNumber = manifest.generation
        while logs.contains("wal.\(logNumber + 1).log") { logNumber += 1 }
        let logNames = (manifest.generation...logNumber).map { "wal.\($0).log" }
        if !logs.contains(logNames[0]) {
            report.problems.append("\(logNames[0]), the log of generation \(manifest.generation), is missing")
        }
        for (n, logName) in logNames.enumerated() where logs.contains(logName) {
            let last = n == logNames.count - 1
            do {
                let contents = try WriteAheadLog.readRecords(path: directory + "/" + logName)
                if let resumed = contents.validRecordAfterDamage {
                    report.problems.append(
                        "\(logName): record \(contents.records.count + 1) at offset \(contents.validLength) is damaged (checksum or length), "
                            + "and valid records follow at offset \(resumed)"
                    )
                } else if contents.validLength < contents.fileLength && !last {
                    report.problems.append(
                        "\(logName): record \(contents.records.count + 1) at offset \(contents.validLength) is damaged, and later logs follow"
                    )
                } else if contents.validLength < contents.fileLength {
                    report.notes.append(
                        "\(logName): \(contents.fileLength - contents.validLength) bytes from offset \(contents.validLength) are a torn tail "
                            + "(a write cut short by a crash, never acknowledged; the server drops them when it starts)"
                    )
                }
                var replay = LogReplay(configuration: configuration)
                // Its stage file's parts first: the log's commits name them.
                let stageName = logName.dropLast(4) + ".stage"
                if stageFiles.contains(String(stageName)) {
                    let parts = try WriteAheadLog.readRecords(path: directory + "/" + stageName)
                    if let resumed = parts.validRecordAfterDamage {
                        report.problems.append(
                            "\(stageName): record \(parts.records.count + 1) at offset \(parts.validLength) is damaged (checksum or length), "
                                + "and valid records follow at offset \(resumed)"
                        )
                    } else if parts.validLength < parts.fileLength {
                        report.notes.append(
                            "\(stageName): \(parts.fileLength - parts.validLength) bytes from offset \(parts.validLength) are a torn tail "
                                + "(a part cut short by a crash before its commit, never acknowledged; the server drops them when it starts)"
                        )
                    }
                    var held = 0
                    for (n, part) in parts.records.enumerated() {
                        do {
                            try replay.hold(part)
                            held += 1
                        } catch {
                            report.problems.append("\(stageName): record \(n + 1) does not apply: \(error.message)")
                            break
                        }
                    }
                    report.checked.append("\(stageName): \(parts.records.count) parts, checksums match, \(held) held for the log's commits")
                }
                var applied = 0
                for (n, record) in contents.records.enumerated() {
                    do {
                        try replay.apply(record, to: &collections)
                        applied += 1
                    } catch {
                        report.problems.append("\(logName): record \(n + 1) does not apply: \(error.message)")
                        break
                    }
                }
                report.checked.append("\(logName): \(contents.records.count) records, checksums match, \(applied) applied")
                if replay.uncommittedStages > 0 {
                    report.notes.append(
                        "\(logName): \(replay.uncommittedStages) staged ADDs were never committed (failed or cut short by a crash, "
                            + "never acknowledged; replay ignores them)"
                    )
                }
            } catch {
                report.problems.append("\(logName): \(error.message)")
            }
        }
        // Files no manifest names: left by an interrupted compaction, never read.
        let named = Set(manifest.files.map(\.1))
        for file in snapshots.sorted() where !named.contains(file) {
            report.notes.append("snapshots/\(file) is not named by the MANIFEST (left by an interrupted compaction; never read)")
        }
        for file in logs.sorted() where !logNames.contains(file) {
            report.notes.append("\(file) is not a log of generation \(manifest.generation) or later (never read)")
        }
        for file in stageFiles.sorted() where !logNames.contains(String(file.dropLast(6)) + ".log") {
            report.notes.append("\(file) is not the stage file of a log of generation \(manifest.generation) or later (never read)")
        }
        for file in LocalDirectoryStore.listSegments(directory).sorted() where !segmentNames.contains(file) {
            report.notes.append("snapshots/\(file) is not named by any snapshot (left by an interrupted compaction; never read)")
        }
        if report.isSound {
            let rows = collections.values.reduce(0) { $0 + $1.index.count }
            report.checked.append("\(collections.count) collections, \(rows) vectors after the log")
        }
        return report
    }
}
