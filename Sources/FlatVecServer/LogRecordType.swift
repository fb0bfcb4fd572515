/// The first byte of every record body in the local store's log (proto-spec/LOG.md).
enum LogRecordType: UInt8 {
    case create = 1
    case drop = 2
    case add = 3
    case remove = 4
}
