import ArgumentParser
import FlatVecStorage

/// `flatvec verify`: checks a data directory offline, changing nothing.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a data directory (--data of flatvec serve) offline: every checksum and record. Exit 0 if sound, 1 if not.",
        discussion: """
            Reads the MANIFEST, every snapshot it names (header and body checksums, layout, rows) and the \
            log of its generation (every record's checksum, and that the records apply in order), and \
            lists what it checked, what is wrong and where, and what is unusual but harmless (a torn log \
            tail left by a crash, files no manifest names). It changes nothing; run it on a directory no \
            server is writing (a stopped server's, or a backup).
            """
    )

    @Option(name: .long, help: "The data directory.") var data: String

    func run() throws {
        let result = DataDirectoryVerifier.verify(directory: data)
        for line in result.checked { print("ok: \(line)") }
        for line in result.notes { print("note: \(line)") }
        for line in result.problems { report("problem: \(line)") }
        if !result.isSound {
            fail("\(data) is damaged: \(result.problems.count) problem\(result.problems.count == 1 ? "" : "s") (above)")
        }
        print("\(data) is sound")
    }
}
