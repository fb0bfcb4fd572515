/// A change to the metadata of one stored vector, without resending the vector: its label, its
/// payload and some of its attributes. Fields left nil or empty stay as they are.
public struct RowUpdate: Sendable, Hashable {
    /// What happens to the payload.
    public enum PayloadChange: Sendable, Hashable {
        /// The payload stays.
        case keep
        /// The payload becomes this (UTF-8, at most ``FlatVecLimits/maximumPayloadBytes``).
        case set([UInt8])
        /// The vector has no payload any more.
        case clear
    }

    /// The stored id.
    public var id: Int64
    /// The new label, or nil to keep it.
    public var label: Int64?
    /// The payload change.
    public var payload: PayloadChange
    /// Attributes that get these values.
    public var set: [String: AttributeValue]
    /// Attributes whose values are removed (become null).
    public var clear: Set<String>

    /// Creates an update.
    /// - Parameters:
    ///   - id: The stored id.
    ///   - label: New label, or nil to keep it.
    ///   - payload: The payload change.
    ///   - set: Attribute values to set.
    ///   - clear: Attributes to clear.
    public init(
        id: Int64, label: Int64? = nil, payload: PayloadChange = .keep,
        set: [String: AttributeValue] = [:], clear: Set<String> = []
    ) {
        self.id = id
        self.label = label
        self.payload = payload
        self.set = set
        self.clear = clear
    }
}
