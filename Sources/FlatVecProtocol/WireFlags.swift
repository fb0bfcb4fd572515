/// The flags byte of a SEARCH request and reply (PROTOCOL.md 4.3). Bits not listed are reserved.
public struct SearchFlags: OptionSet, Sendable, Hashable {
    /// The raw byte.
    public let rawValue: UInt8
    /// Creates flags from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The best hit per label only.
    public static let groupByLabel = SearchFlags(rawValue: 1 << 0)
    /// Hits carry payloads.
    public static let withPayloads = SearchFlags(rawValue: 1 << 1)
    /// Hits carry vectors.
    public static let withVectors = SearchFlags(rawValue: 1 << 2)
    /// `min_score` is set.
    public static let minScore = SearchFlags(rawValue: 1 << 3)
    /// The label allow-list is set.
    public static let labelFilter = SearchFlags(rawValue: 1 << 4)
    /// Every defined bit.
    public static let known: SearchFlags = [.groupByLabel, .withPayloads, .withVectors, .minScore, .labelFilter]
}

/// The flags byte of a GET request and reply (PROTOCOL.md 4.2). Bits not listed are reserved.
public struct GetFlags: OptionSet, Sendable, Hashable {
    /// The raw byte.
    public let rawValue: UInt8
    /// Creates flags from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Rows carry vectors.
    public static let withVectors = GetFlags(rawValue: 1 << 0)
    /// Rows carry payloads.
    public static let withPayloads = GetFlags(rawValue: 1 << 1)
    /// Every defined bit.
    public static let known: GetFlags = [.withVectors, .withPayloads]
}

/// The flags byte of an ADD request (PROTOCOL.md 4.1). Bits not listed are reserved.
public struct AddFlags: OptionSet, Sendable, Hashable {
    /// The raw byte.
    public let rawValue: UInt8
    /// Creates flags from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// A payload follows for every vector.
    public static let payloads = AddFlags(rawValue: 1 << 0)
    /// Every defined bit.
    public static let known: AddFlags = [.payloads]
}
