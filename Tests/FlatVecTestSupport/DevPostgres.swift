import FlatVecModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of a test's own: scripts/dev-postgres.sh with a private state directory, so
/// it can be stopped and started without disturbing other tests.
public enum DevPostgres {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/dev-postgres.sh").path

    /// Runs `dev-postgres.sh command` (`start` or `stop`) with `system(3)` and returns the server URL
    /// it recorded. Not Foundation's Process: the server the script leaves running inherits what
    /// Process uses to notice the exit, and the wait would never end.
    /// - Throws: ``FlatVecError/Code/unavailable`` if the script fails.
    public static func run(_ command: String, state: String) throws -> String {
        let status = system("FLATVEC_PG_DIR='\(state)' bash '\(script)' \(command) >/dev/null 2>&1")
        guard status == 0 else { throw FlatVecError(.unavailable, "dev-postgres.sh \(command) failed (\(status))") }
        return (try? String(contentsOfFile: state + "/url", encoding: .utf8))?.trimmingWhitespace() ?? ""
    }
}
