/// An error from FlatVec, with a stable ``Code`` that also travels on the wire.
///
/// Codes are stable across releases; new codes may be added, so switch over them with a default.
public struct FlatVecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable error code. Its ``rawValue`` is the number used by the wire protocol.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: UInt16, Sendable {
            case badFrame = 1
            case unsupportedVersion = 2
            case unauthenticated = 3
            case forbidden = 4
            case unknownCollection = 5
            case collectionExists = 6
            case dimensionMismatch = 7
            case invalidVector = 8
            case unknownID = 9
            case limitExceeded = 10
            case unavailable = 11
            case internalError = 12
            case invalidArgument = 13
            case duplicateID = 14
            case corruptData = 15
            case ioError = 16
            case unsupportedFeature = 17
            case outcomeUnknown = 18
            case duplicateVector = 19
        }

        private let value: Value

        private init(_ value: Value) { self.value = value }

        /// The number of this code on the wire.
        public var rawValue: UInt16 { value.rawValue }

        /// Creates a code from its wire number, or `nil` for an unknown number.
        public init?(rawValue: UInt16) {
            guard let value = Value(rawValue: rawValue) else { return nil }
            self.value = value
        }

        /// A frame could not be decoded.
        public static let badFrame = Code(.badFrame)
        /// The peer speaks a protocol version this side does not.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The request needs authentication first.
        public static let unauthenticated = Code(.unauthenticated)
        /// The authenticated role may not do this.
        public static let forbidden = Code(.forbidden)
        /// No collection has that name.
        public static let unknownCollection = Code(.unknownCollection)
        /// A collection with that name exists already.
        public static let collectionExists = Code(.collectionExists)
        /// A vector or query does not have the collection's dimension.
        public static let dimensionMismatch = Code(.dimensionMismatch)
        /// A vector has a NaN or infinite component, or is zero under cosine.
        public static let invalidVector = Code(.invalidVector)
        /// An id is not in the collection.
        public static let unknownID = Code(.unknownID)
        /// A size or count is outside the allowed range (k, payload length, batch, frame).
        public static let limitExceeded = Code(.limitExceeded)
        /// A dependency (the durable store) is unavailable; nothing was changed.
        public static let unavailable = Code(.unavailable)
        /// A bug or an unexpected state.
        public static let internalError = Code(.internalError)
        /// An argument is malformed (bad UTF-8, mismatched array lengths, unknown metric).
        public static let invalidArgument = Code(.invalidArgument)
        /// The same id appears twice in one batch.
        public static let duplicateID = Code(.duplicateID)
        /// Stored data (a snapshot, a file) failed its checks.
        public static let corruptData = Code(.corruptData)
        /// Reading or writing a file failed.
        public static let ioError = Code(.ioError)
        /// The request sets a reserved bit (a flag this server does not know): a newer client's
        /// option that an older server would otherwise ignore and answer wrongly.
        public static let unsupportedFeature = Code(.unsupportedFeature)
        /// A write may or may not have been stored: the store's connection died during COMMIT, or a
        /// log sync failed. Retry it (ADD is an upsert; a retried REMOVE may answer `unknown_id`).
        public static let outcomeUnknown = Code(.outcomeUnknown)
        /// An ADD that rejects duplicates holds a vector scoring at or above its threshold with a stored
        /// vector or another vector of the batch; nothing was written.
        public static let duplicateVector = Code(.duplicateVector)

        /// The code's name, as used in logs and the protocol spec.
        public var description: String {
            switch value {
            case .badFrame: "bad_frame"
            case .unsupportedVersion: "unsupported_version"
            case .unauthenticated: "unauthenticated"
            case .forbidden: "forbidden"
            case .unknownCollection: "unknown_collection"
            case .collectionExists: "collection_exists"
            case .dimensionMismatch: "dimension_mismatch"
            case .invalidVector: "invalid_vector"
            case .unknownID: "unknown_id"
            case .limitExceeded: "limit_exceeded"
            case .unavailable: "unavailable"
            case .internalError: "internal"
            case .invalidArgument: "invalid_argument"
            case .duplicateID: "duplicate_id"
            case .corruptData: "corrupt_data"
            case .ioError: "io_error"
            case .unsupportedFeature: "unsupported_feature"
            case .outcomeUnknown: "outcome_unknown"
            case .duplicateVector: "duplicate_vector"
            }
        }
    }

    /// What went wrong, as a stable code.
    public var code: Code
    /// A message naming the culprit (which id, which row, which dimension).
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The stable code.
    ///   - message: A message naming the culprit.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The SQLSTATE PostgreSQL gave for the failure this error reports, if it came from PostgreSQL
    /// (`42P07`, `23505`, `08006`, ...): the cause, kept beside the code it was mapped to. Never sent
    /// on the wire (the message names it).
    public var sqlState: String?

    /// Creates an error that PostgreSQL reported.
    /// - Parameters:
    ///   - code: The stable code the SQLSTATE maps to.
    ///   - message: A message naming the culprit.
    ///   - sqlState: PostgreSQL's SQLSTATE.
    public init(_ code: Code, _ message: String, sqlState: String?) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
    }

    /// An ``Code/outcomeUnknown`` error.
    /// - Parameter message: What happened; the advice to retry is added.
    /// - Returns: The error.
    public static func outcomeUnknown(_ message: String) -> FlatVecError {
        FlatVecError(
            .outcomeUnknown,
            message + "; the write may or may not have been stored: retry it (ADD is an upsert, REMOVE may then answer unknown_id)"
        )
    }

    /// Whether this is an ``Code/outcomeUnknown`` error.
    public var isOutcomeUnknown: Bool { code == .outcomeUnknown }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
