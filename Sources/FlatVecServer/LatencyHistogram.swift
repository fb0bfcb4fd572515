/// Counts latencies in logarithmic buckets (8 per power of two, about 9% wide) for percentiles.
struct LatencyHistogram: Sendable {
    private static let bucketsPerOctave = 8
    private static let bucketCount = 40 * bucketsPerOctave
    private var buckets = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
    private(set) var count: UInt64 = 0
    private(set) var maximum: UInt64 = 0

    private static func bucket(of micros: UInt64) -> Int {
        guard micros > 0 else { return 0 }
        let octave = 63 - micros.leadingZeroBitCount
        let fraction = octave >= 3 ? Int((micros >> UInt64(octave - 3)) & 7) : Int((micros << UInt64(3 - octave)) & 7)
        return min(bucketCount - 1, octave * bucketsPerOctave + fraction + 1)
    }

    /// The upper bound of a bucket in microseconds.
    private static func upperBound(of bucket: Int) -> UInt64 {
        guard bucket > 0 else { return 0 }
        let octave = (bucket - 1) / bucketsPerOctave
        let fraction = UInt64((bucket - 1) % bucketsPerOctave)
        let base = UInt64(1) << UInt64(octave)
        return base + (base * (fraction + 1)) / 8
    }

    mutating func record(micros: UInt64) {
        buckets[Self.bucket(of: micros)] += 1
        count += 1
        maximum = max(maximum, micros)
    }

    /// The latency below which `fraction` of the recorded ones fall (bucket upper bound, capped at the maximum).
    func percentile(_ fraction: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let target = UInt64((Double(count) * fraction).rounded(.up))
        var seen: UInt64 = 0
        for (i, n) in buckets.enumerated() {
            seen += n
            if seen >= max(target, 1) { return min(Self.upperBound(of: i), maximum) }
        }
        return maximum
    }
}
