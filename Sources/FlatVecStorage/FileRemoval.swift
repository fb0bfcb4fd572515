#if canImport(Glibc)
import Glibc
#endif

/// Deletes a file nothing maps (a retired log) without stalling the log's syncs meanwhile.
///
/// Unlinking a large file frees all of its blocks in one journal commit of the file system, and on
/// one mounted with `discard` that commit also trims them: an `fdatasync` of the log that has to
/// wait for the commit waits for all of it (a retired log of 450 MB held a single ADD's sync for
/// 25-60 ms). A file larger than ``stepBytes`` is therefore cut down a step at a time first, each
/// cut synced on its own, so no commit frees more than a step; then its name goes. RocksDB's delete
/// scheduler cuts large files the same way (`bytes_max_delete_chunk`).
enum FileRemoval {
    /// Bytes one cut frees.
    static let stepBytes = 4 << 20

    /// Deletes the file at `path` (a missing file is already deleted). Never for a file that may be
    /// mapped: a read of a page cut off a mapping faults (`SIGBUS`). A file with other hard links
    /// only loses this name: cutting it would empty the other names too.
    /// - Returns: Whether the file is gone.
    @discardableResult
    static func remove(_ path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd >= 0 {
            var status = stat()
            if fstat(fd, &status) == 0, status.st_nlink == 1, (status.st_mode & S_IFMT) == S_IFREG {
                var size = Int(status.st_size)
                while size > stepBytes {
                    size -= stepBytes
                    guard ftruncate(fd, off_t(size)) == 0, fdatasync(fd) == 0 else { break }
                }
            }
            close(fd)
        }
        return unlink(path) == 0 || errno == ENOENT
    }
}
