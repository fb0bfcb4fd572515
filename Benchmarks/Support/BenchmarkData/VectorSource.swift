/// Deterministic random unit vectors (SplitMix64), the shape of normalised CLIP embeddings, shared by
/// every benchmark so they all measure the same data.
public struct VectorSource: Sendable {
    private var state: UInt64

    /// Creates a source; the same seed gives the same vectors.
    public init(state: UInt64) { self.state = state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` unit vectors of `dimension` components, row-major.
    public mutating func unitVectors(_ count: Int, dimension: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count * dimension)
        for r in 0..<count {
            var norm: Float = 0
            for c in 0..<dimension {
                let v = Float(Int64(bitPattern: next() >> 11) - (1 << 52)) / Float(1 << 52)
                out[r * dimension + c] = v
                norm += v * v
            }
            let scale = 1 / norm.squareRoot()
            for c in 0..<dimension { out[r * dimension + c] *= scale }
        }
        return out
    }
}
