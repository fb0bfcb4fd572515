import CFlatVecKernels

/// CRC-32C (Castagnoli), hardware-accelerated where SSE4.2 is available; used by snapshots and logs.
public enum Checksum {
    /// The CRC-32C of `bytes`, continuing from `seed` (0 to start).
    public static func crc32c(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        fv_crc32c(seed, bytes.baseAddress, bytes.count)
    }

    /// The CRC-32C of `bytes`.
    public static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32c($0) }
    }
}
