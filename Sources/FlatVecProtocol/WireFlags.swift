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
    /// A filter section follows the queries.
    public static let filters = SearchFlags(rawValue: 1 << 5)
    /// Hits carry attribute values.
    public static let withAttributes = SearchFlags(rawValue: 1 << 6)
    /// The queries are stored ids, not vectors.
    public static let byStoredIDs = SearchFlags(rawValue: 1 << 7)
    /// Every defined bit.
    public static let known: SearchFlags = [
        .groupByLabel, .withPayloads, .withVectors, .minScore, .labelFilter, .filters, .withAttributes, .byStoredIDs,
    ]
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
    /// Rows carry attribute values.
    public static let withAttributes = GetFlags(rawValue: 1 << 2)
    /// Every defined bit.
    public static let known: GetFlags = [.withVectors, .withPayloads, .withAttributes]
}

/// The flags byte of an ADD request (PROTOCOL.md 4.1). Bits not listed are reserved.
public struct AddFlags: OptionSet, Sendable, Hashable {
    /// The raw byte.
    public let rawValue: UInt8
    /// Creates flags from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// A payload follows for every vector.
    public static let payloads = AddFlags(rawValue: 1 << 0)
    /// Attribute values follow for every vector.
    public static let attributes = AddFlags(rawValue: 1 << 1)
    /// A `reject_duplicates_above` threshold ends the payload (add only if new).
    public static let rejectDuplicates = AddFlags(rawValue: 1 << 2)
    /// Every defined bit.
    public static let known: AddFlags = [.payloads, .attributes, .rejectDuplicates]
}

/// The flags byte of a DUPLICATES request (PROTOCOL.md 4.7). Bits not listed are reserved.
public struct DuplicatesFlags: OptionSet, Sendable, Hashable {
    /// The raw byte.
    public let rawValue: UInt8
    /// Creates flags from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// A filter follows (a new sweep only).
    public static let filter = DuplicatesFlags(rawValue: 1 << 0)
    /// Ends the sweep of `cursor` instead of reading its next page.
    public static let end = DuplicatesFlags(rawValue: 1 << 1)
    /// Every defined bit.
    public static let known: DuplicatesFlags = [.filter, .end]
}

/// The flags byte that may make up a STATS request (PROTOCOL.md 4.4, revision 4). Bits not listed
/// are reserved.
public struct StatsFlags: OptionSet, Sendable, Hashable {
    /// The raw byte.
    public let rawValue: UInt8
    /// Creates flags from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The reply ends with each collection's mapped and on-disk bytes.
    public static let storage = StatsFlags(rawValue: 1 << 0)
    /// Every defined bit.
    public static let known: StatsFlags = [.storage]
}

/// The extensions byte that may end a SEARCH request (PROTOCOL.md 4.3, revision 3). Bits not listed
/// are reserved.
public struct SearchExtensions: OptionSet, Sendable, Hashable {
    /// The raw byte.
    public let rawValue: UInt8
    /// Creates flags from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// A group size follows: several hits per label.
    public static let groupSize = SearchExtensions(rawValue: 1 << 0)
    /// Query groups follow: one ranking per group of query vectors.
    public static let queryGroups = SearchExtensions(rawValue: 1 << 1)
    /// Every defined bit.
    public static let known: SearchExtensions = [.groupSize, .queryGroups]
}
