#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension FlatVecError {
    /// An `io_error` for a failed system call, with the system's reason (`strerror(errno)`); read
    /// `errno` right after the call. The one helper for file errors in every target.
    /// - Parameter what: What failed, naming the file.
    package static func ioError(_ what: String) -> FlatVecError {
        FlatVecError(.ioError, "\(what): \(String(cString: strerror(errno)))")
    }
}
