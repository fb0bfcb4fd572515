import Testing
@testable import FlatVecCore

@Suite struct BLASRuntimeTests {
    let avx512: BLASRuntime.CPUFeatures = [.sse42, .avx, .avx2, .fma, .avx512f, .avx512bw, .avx512vl, .avx512dq]
    let avx2: BLASRuntime.CPUFeatures = [.sse42, .avx, .avx2, .fma]

    @Test func genericKernelOnAVX512SelectsSkylakeX() {
        #expect(BLASRuntime.kernelToForce(coreName: "Prescott", features: avx512, environment: [:]) == "SkylakeX")
        #expect(BLASRuntime.kernelToForce(coreName: "Haswell", features: avx512, environment: [:]) == "SkylakeX")
    }

    @Test func genericKernelOnAVX2SelectsHaswell() {
        #expect(BLASRuntime.kernelToForce(coreName: "Prescott", features: avx2, environment: [:]) == "Haswell")
        #expect(BLASRuntime.kernelToForce(coreName: "Nehalem", features: avx2, environment: [:]) == "Haswell")
    }

    @Test func matchingKernelsAreLeftAlone() {
        #expect(BLASRuntime.kernelToForce(coreName: "Zen", features: avx2, environment: [:]) == nil)
        #expect(BLASRuntime.kernelToForce(coreName: "SkylakeX", features: avx512, environment: [:]) == nil)
        #expect(BLASRuntime.kernelToForce(coreName: "Prescott", features: [.sse42], environment: [:]) == nil)
    }

    @Test func userChoiceIsRespectedAndNoLoop() {
        #expect(BLASRuntime.kernelToForce(coreName: "Prescott", features: avx512, environment: ["OPENBLAS_CORETYPE": "Prescott"]) == nil)
        #expect(BLASRuntime.kernelToForce(coreName: "Prescott", features: avx512, environment: ["FLATVEC_BLAS_AUTOSELECTED": "SkylakeX"]) == nil)
        #expect(BLASRuntime.kernelToForce(coreName: nil, features: avx512, environment: [:]) == nil)
    }

    @Test func infoReportsThisProcess() {
        let info = BLASRuntime.info
        #expect(!info.library.isEmpty)
        #expect(info.blasThreads == nil || info.blasThreads == 1)
    }
}
