#if canImport(Glibc)
import Glibc
#endif

/// Prints a one-line error to standard error and exits with status 1.
func fail(_ message: String) -> Never {
    report("flatvec: error: \(message)")
    exit(1)
}

/// Writes a line to standard error.
func report(_ line: String, newline: Bool = true) {
    var bytes = Array((newline ? line + "\n" : line).utf8)
    _ = write(2, &bytes, bytes.count)
}
