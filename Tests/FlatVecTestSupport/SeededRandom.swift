/// Deterministic random numbers (SplitMix64) for tests.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator; the same seed gives the same sequence.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A vector of multiples of 1/8 in [-1, 1]: every dot product of two is exact in float32,
    /// whatever the summation order, so results can be compared bit for bit (ties included).
    public mutating func quantizedVector(_ dimension: Int) -> [Float] {
        (0..<dimension).map { _ in Float(Int.random(in: -8...8, using: &self)) / 8 }
    }

    /// A vector of uniform floats in [-1, 1].
    public mutating func uniformVector(_ dimension: Int) -> [Float] {
        (0..<dimension).map { _ in Float.random(in: -1...1, using: &self) }
    }
}
