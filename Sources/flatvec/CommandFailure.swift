#if canImport(Glibc)
import Glibc
#endif

/// Prints a one-line error to standard error and exits with status 1.
func fail(_ message: String) -> Never {
    let line = "flatvec: error: \(message)\n"
    var bytes = Array(line.utf8)
    _ = write(2, &bytes, bytes.count)
    exit(1)
}
