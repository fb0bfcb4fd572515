import Dispatch
import Synchronization
import Testing
@testable import FlatVecCore

#if canImport(Glibc)
import Glibc
#endif

@Suite struct DetachedThreadTests {
    #if os(Linux)
    /// The calling thread's nice value (Linux: `PRIO_PROCESS` with 0 names the calling thread).
    static func ownNiceness() -> Int32 { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }

    /// The calling thread's name, from /proc.
    static func ownName() -> String {
        let fd = open("/proc/thread-self/comm", O_RDONLY)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        let n = read(fd, &bytes, bytes.count)
        return String(decoding: bytes[0..<max(0, n)], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    }

    /// A thread started with a niceness runs that many nice levels below the thread that started
    /// it, and carries its name; the starting thread keeps its own priority.
    @Test func aNicerThreadLowersOnlyItsOwnPriority() throws {
        let before = Self.ownNiceness()
        let seen = Mutex<(niceness: Int32, name: String)?>(nil)
        let done = DispatchSemaphore(value: 0)
        DetachedThread(name: "flatvec-test", niceness: 3) {
            let niceness = Self.ownNiceness()
            let name = Self.ownName()
            seen.withLock { $0 = (niceness, name) }
            done.signal()
        }.start()
        done.wait()
        let observed = try #require(seen.withLock { $0 })
        #expect(observed.niceness == min(before + 3, 19))
        #expect(observed.name == "flatvec-test")
        #expect(Self.ownNiceness() == before)
    }
    #endif
}
