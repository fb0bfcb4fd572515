import ArgumentParser
import FlatVecCore

#if canImport(Glibc)
import Glibc
#endif

/// `flatvec info`: version, BLAS and kernel, threads, CPU.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the version, the BLAS and its kernel, the int8 scan kernel, thread counts and CPU features."
    )

    func run() throws {
        let info = BLASRuntime.info
        print("flatvec \(FlatVecVersion.string)")
        print("cpu: \(Self.cpuModel() ?? "unknown")")
        print("cpu features: \(info.cpuFeatures.joined(separator: " "))")
        print("blas: \(info.library)")
        print("blas kernel: \(info.kernel ?? "unknown") (\(info.kernelSource))")
        print("blas threads per call: \(info.blasThreads.map(String.init) ?? "unknown")")
        print("search threads: \(FlatIndex.defaultSearchThreads)")
        print("int8 kernel: \(info.int8Kernel) (--scan auto means \(info.automaticScan) here)")
    }

    static func cpuModel() -> String? {
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!)
            if text.hasPrefix("model name") {
                return text.split(separator: ":", maxSplits: 1).last.map { String($0).trimmingWhitespace() }
            }
        }
        return nil
    }
}
