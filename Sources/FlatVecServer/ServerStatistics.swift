import FlatVecProtocol
import Synchronization

/// Request counters and latency histograms per operation, and connection counts.
public final class ServerStatistics: Sendable {
    private struct Operation {
        var requests: UInt64 = 0
        var errors: UInt64 = 0
        var latency = LatencyHistogram()
    }

    private let operations = Mutex<[UInt8: Operation]>([:])
    private let connections = Mutex<(open: UInt32, total: UInt64)>((0, 0))
    let startedAt = ContinuousClock.now

    /// Where the same events go as Prometheus metrics (`flatvec serve --metrics-port`), if anywhere.
    public let metrics: ServerMetrics?

    /// Creates empty statistics.
    /// - Parameter metrics: Also count requests and connections there.
    public init(metrics: ServerMetrics? = nil) {
        self.metrics = metrics
    }

    /// Counts a reply: its operation, its latency, and its error code if it is an error.
    func record(_ opcode: Opcode, micros: UInt64, errorCode: UInt16?) {
        metrics?.request(opcode, micros: micros, errorCode: errorCode)
        operations.withLock { all in
            var op = all[opcode.rawValue, default: Operation()]
            op.requests += 1
            if errorCode != nil { op.errors += 1 }
            op.latency.record(micros: micros)
            all[opcode.rawValue] = op
        }
    }

    /// Counts a new connection; returns how many are open now, this one included.
    func connectionOpened() -> Int {
        metrics?.connectionOpened()
        return connections.withLock {
            $0.open += 1
            $0.total += 1
            return Int($0.open)
        }
    }

    func connectionClosed() {
        metrics?.connectionClosed()
        connections.withLock { $0.open -= 1 }
    }

    /// Open connections now.
    public var openConnections: UInt32 { connections.withLock { $0.open } }

    func snapshot() -> (open: UInt32, total: UInt64, operations: [StatsResponse.OperationStats]) {
        let (open, total) = connections.withLock { ($0.open, $0.total) }
        let ops = operations.withLock { all in
            all.keys.sorted().map { key -> StatsResponse.OperationStats in
                let op = all[key]!
                return StatsResponse.OperationStats(
                    opcode: Opcode(rawValue: key), requests: op.requests, errors: op.errors,
                    p50Micros: op.latency.percentile(0.5), p90Micros: op.latency.percentile(0.9),
                    p99Micros: op.latency.percentile(0.99), maxMicros: op.latency.maximum
                )
            }
        }
        return (open, total, ops)
    }
}
