/// A segment file: the rows of one chunk of a collection, written once and never changed
/// (proto-spec/SNAPSHOT.md, version 3).
public struct SegmentFile: Hashable, Sendable {
    /// Its name in the store's segments directory.
    public let name: String
    /// Its length in bytes.
    public let bytes: Int

    /// Names a segment file.
    public init(name: String, bytes: Int) {
        self.name = name
        self.bytes = bytes
    }
}
