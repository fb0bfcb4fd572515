import CFlatVecKernels

#if canImport(Glibc)
import Glibc
#endif

/// What BLAS FlatVec runs on and how it makes OpenBLAS use the fast kernel.
///
/// Debian bookworm's OpenBLAS 0.3.21 does not know recent CPUs and falls back to a generic kernel
/// (Prescott) that runs sgemm 4-5x slower. OpenBLAS picks its kernel when the library loads, so the
/// only fix is to set `OPENBLAS_CORETYPE` before it loads: ``reexecWithFastKernelIfNeeded()``
/// re-executes the process with it set. A user's own `OPENBLAS_CORETYPE` is always respected.
public enum BLASRuntime {
    /// CPU features relevant to the kernel choice.
    public struct CPUFeatures: OptionSet, Sendable, Hashable {
        /// The raw bits, as `fv_cpu_features()` reports them.
        public let rawValue: UInt32
        /// Creates features from raw bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// SSE 4.2.
        public static let sse42 = CPUFeatures(rawValue: UInt32(FV_CPU_SSE42))
        /// AVX.
        public static let avx = CPUFeatures(rawValue: UInt32(FV_CPU_AVX))
        /// AVX2.
        public static let avx2 = CPUFeatures(rawValue: UInt32(FV_CPU_AVX2))
        /// FMA3.
        public static let fma = CPUFeatures(rawValue: UInt32(FV_CPU_FMA))
        /// AVX-512 Foundation.
        public static let avx512f = CPUFeatures(rawValue: UInt32(FV_CPU_AVX512F))
        /// AVX-512 Byte and Word.
        public static let avx512bw = CPUFeatures(rawValue: UInt32(FV_CPU_AVX512BW))
        /// AVX-512 Vector Length.
        public static let avx512vl = CPUFeatures(rawValue: UInt32(FV_CPU_AVX512VL))
        /// AVX-512 Doubleword and Quadword.
        public static let avx512dq = CPUFeatures(rawValue: UInt32(FV_CPU_AVX512DQ))
        /// AVX-512 Vector Neural Network Instructions (`vpdpbusd`).
        public static let avx512vnni = CPUFeatures(rawValue: UInt32(FV_CPU_AVX512VNNI))

        /// The features of this CPU.
        public static var current: CPUFeatures { CPUFeatures(rawValue: fv_cpu_features()) }

        /// Names of the features present, e.g. `["sse4.2", "avx", "avx2", "fma"]`.
        public var names: [String] {
            let all: [(CPUFeatures, String)] = [
                (.sse42, "sse4.2"), (.avx, "avx"), (.avx2, "avx2"), (.fma, "fma"),
                (.avx512f, "avx512f"), (.avx512bw, "avx512bw"), (.avx512vl, "avx512vl"), (.avx512dq, "avx512dq"),
                (.avx512vnni, "avx512vnni"),
            ]
            return all.filter { contains($0.0) }.map(\.1)
        }
    }

    /// The environment variable OpenBLAS reads its kernel from.
    public static let coretypeVariable = "OPENBLAS_CORETYPE"
    /// Set by FlatVec on re-exec to the kernel it chose, so ``info`` can say so and no loop occurs.
    public static let autoselectedVariable = "FLATVEC_BLAS_AUTOSELECTED"

    /// Test hook: pretend OpenBLAS reported this core name when deciding whether to re-execute.
    public static let assumedCoreVariable = "FLATVEC_ASSUME_OPENBLAS_CORE"

    /// The OpenBLAS kernel a CPU should use, ranked: 0 generic, 1 AVX, 2 AVX2, 3 AVX-512.
    static func rank(ofCore name: String) -> Int {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": 3
        case "haswell", "zen", "zen2", "zen3", "zen4", "excavator", "steamroller": 2
        case "sandybridge", "bulldozer", "piledriver": 1
        default: 0
        }
    }

    /// Decides which kernel to force, if any. Pure, for testing.
    /// - Parameters:
    ///   - coreName: OpenBLAS's current core name, or nil if the BLAS is not OpenBLAS.
    ///   - features: The CPU's features.
    ///   - environment: The process environment.
    /// - Returns: The `OPENBLAS_CORETYPE` value to set, or nil to change nothing.
    public static func kernelToForce(
        coreName: String?,
        features: CPUFeatures,
        environment: [String: String]
    ) -> String? {
        guard let coreName else { return nil }
        if let set = environment[coretypeVariable], !set.isEmpty { return nil }
        if environment[autoselectedVariable] != nil { return nil }
        let best: (name: String, rank: Int)?
        if features.isSuperset(of: [.avx512f, .avx512bw, .avx512vl, .avx512dq, .avx2, .fma]) {
            best = ("SkylakeX", 3)
        } else if features.isSuperset(of: [.avx2, .fma]) {
            best = ("Haswell", 2)
        } else if features.contains(.avx) {
            best = ("Sandybridge", 1)
        } else {
            best = nil
        }
        guard let best, rank(ofCore: coreName) < best.rank else { return nil }
        return best.name
    }

    /// If OpenBLAS runs a kernel slower than this CPU supports and the user did not choose one,
    /// re-executes the current program with `OPENBLAS_CORETYPE` set. Call it first thing in `main`.
    /// Returns normally when nothing needs doing (or the re-exec failed).
    public static func reexecWithFastKernelIfNeeded() {
        var environment: [String: String] = [:]
        if let value = getenv(coretypeVariable) { environment[coretypeVariable] = String(cString: value) }
        if let value = getenv(autoselectedVariable) { environment[autoselectedVariable] = String(cString: value) }
        // The override exists so tests can drive the re-exec on a machine whose OpenBLAS already
        // picks the right kernel; it never sets OPENBLAS_CORETYPE by itself.
        let reported = getenv(assumedCoreVariable).map { String(cString: $0) }
            ?? fv_openblas_corename().map { String(cString: $0) }
        guard let kernel = kernelToForce(
            coreName: reported,
            features: .current,
            environment: environment
        ) else { return }
        setenv(coretypeVariable, kernel, 1)
        setenv(autoselectedVariable, kernel, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed: carry on with the slow kernel rather than not at all.
        unsetenv(coretypeVariable)
    }

    /// What BLAS and kernel this process runs.
    public struct Info: Sendable, Hashable {
        /// "OpenBLAS 0.3.21 ..." or "unknown (not OpenBLAS)".
        public var library: String
        /// OpenBLAS's kernel (core) name, if known.
        public var kernel: String?
        /// How the kernel was chosen: "auto-detected", "OPENBLAS_CORETYPE (user)", "auto-selected by FlatVec".
        public var kernelSource: String
        /// BLAS threads per call (FlatVec sets 1 and parallelises itself).
        public var blasThreads: Int?
        /// The CPU's relevant features.
        public var cpuFeatures: [String]
        /// The int8 scan kernel (see ``ScanMode``): "avx512-vnni", "avx2" or "portable".
        public var int8Kernel: String
        /// What ``ScanMode/auto`` means on this CPU: `int8` with a fast int8 kernel, else `float32`.
        public var automaticScan: ScanMode
    }

    /// The name of an int8 scan variant.
    static func int8KernelName(_ variant: Int32) -> String {
        switch variant {
        case Int32(FV_I8_AVX512VNNI): "avx512-vnni"
        case Int32(FV_I8_AVX2): "avx2"
        default: "portable"
        }
    }

    /// The BLAS and kernel of this process.
    public static var info: Info {
        prepareForSearch()
        let kernel = fv_openblas_corename().map { String(cString: $0) }
        let config = fv_openblas_config().map { String(cString: $0) }
        let source: String
        if getenv(autoselectedVariable) != nil {
            source = "auto-selected by FlatVec"
        } else if getenv(coretypeVariable) != nil {
            source = "OPENBLAS_CORETYPE (set by user)"
        } else {
            source = "auto-detected by the BLAS"
        }
        let threads = fv_openblas_num_threads()
        return Info(
            library: config ?? "unknown BLAS (not OpenBLAS)",
            kernel: kernel,
            kernelSource: source,
            blasThreads: threads >= 0 ? Int(threads) : nil,
            cpuFeatures: CPUFeatures.current.names,
            int8Kernel: int8KernelName(fv_i8_best_variant()),
            automaticScan: FlatIndex.Configuration(scan: .auto).effectiveScan
        )
    }

    /// FlatVec parallelises searches itself; BLAS threads on top would oversubscribe the cores.
    private static let singleThreadedBLAS: Void = {
        _ = fv_openblas_set_num_threads(1)
    }()

    /// Sets BLAS to one thread per call, once per process.
    static func prepareForSearch() {
        _ = singleThreadedBLAS
    }
}
