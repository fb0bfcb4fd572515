import ArgumentParser
import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecStorage

#if canImport(Glibc)
import Glibc
#endif

/// `flatvec backup`: an online backup of a server's data directory, written here and verified.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a running server's data directory (--data) into --out, online; `flatvec serve --data OUT` starts from it.",
        discussion: """
            Needs the admin role. The server holds writes off only while it lists its files; the copy \
            holds every write acknowledged before the backup began, and no later write (each is whole \
            or absent). Searches and writes go on meanwhile. The files stream over the protocol (the \
            backup may be on another machine); the MANIFEST, which makes the directory a data \
            directory, is written last, so an interrupted backup never looks complete. The copy is then \
            verified (flatvec verify). With a PostgreSQL store, use pg_dump and pg_restore instead.
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "The directory to write (new, or empty).") var out: String
    @Option(name: .long, help: "Bytes per piece (1 to 67108864).") var pieceBytes: UInt32 = 4 << 20

    func run() async throws {
        guard (1...BackupRequest.maximumBytes).contains(pieceBytes) else {
            fail("--piece-bytes must be from 1 to \(BackupRequest.maximumBytes), got \(pieceBytes)")
        }
        if let entries = DirectoryListing.names(in: out), !entries.isEmpty {
            fail("--out \(out) is not empty: a backup goes into a new or empty directory")
        }
        guard mkdir(out, 0o755) == 0 || errno == EEXIST, mkdir(out + "/snapshots", 0o755) == 0 || errno == EEXIST else {
            fail("cannot create \(out): \(String(cString: strerror(errno)))")
        }
        let c = await client.connect()
        var request = BackupRequest(maxBytes: pieceBytes)
        var bytes = 0
        var files = 0
        var open: (name: String, fd: Int32)?
        while true {
            let piece = await orFail { try await c.backupPiece(request) }
            if piece.cursor == 0 && piece.file == "MANIFEST" {
                if let current = open { closeSynced(current.fd, current.name) }
                writeManifest(piece.data)
                break
            }
            if open?.name != piece.file {
                if let current = open { closeSynced(current.fd, current.name) }
                let fd = Glibc.open(out + "/" + piece.file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else { fail("cannot write \(out)/\(piece.file): \(String(cString: strerror(errno)))") }
                open = (piece.file, fd)
                files += 1
            }
            let written = piece.data.withUnsafeBytes { pwrite(open!.fd, $0.baseAddress, $0.count, off_t(piece.offset)) }
            guard written == piece.data.count else { fail("cannot write \(out)/\(piece.file): \(String(cString: strerror(errno)))") }
            bytes += piece.data.count
            request.cursor = piece.cursor
        }
        await c.close()
        let report = DataDirectoryVerifier.verify(directory: out)
        for line in report.problems { flatvec.report("problem: \(line)") }
        guard report.isSound else { fail("the backup in \(out) does not verify: \(report.problems.count) problems (above)") }
        print("backed up \(files) files, \(bytes) bytes, into \(out); verified: \(report.checked.last ?? "sound")")
    }

    private func closeSynced(_ fd: Int32, _ name: String) {
        guard fsync(fd) == 0, close(fd) == 0 else { fail("cannot write \(out)/\(name): \(String(cString: strerror(errno)))") }
    }

    /// The MANIFEST, atomically and last: until it exists the directory is no data directory.
    private func writeManifest(_ data: [UInt8]) {
        let temporary = out + "/MANIFEST.tmp"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0, data.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == data.count, fsync(fd) == 0, close(fd) == 0,
              rename(temporary, out + "/MANIFEST") == 0
        else { fail("cannot write \(out)/MANIFEST: \(String(cString: strerror(errno)))") }
        let directory = Glibc.open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}
