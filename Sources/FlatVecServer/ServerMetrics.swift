import FlatVecStorage
import CoreMetrics
import FlatVecModel
import FlatVecProtocol
import Prometheus
import Synchronization

/// The server's Prometheus metrics (`flatvec serve --metrics-port`), recorded through swift-metrics
/// into a registry of their own, so two servers in one process never share counters.
///
/// Names follow Prometheus conventions (base units, `_total` counters, `_seconds` histograms):
/// `flatvec_requests_total{op}`, `flatvec_request_errors_total{op,code}`,
/// `flatvec_request_duration_seconds{op}`, `flatvec_connections_open`, `flatvec_connections_total`,
/// `flatvec_store_commit_duration_seconds{op}`, `flatvec_store_failures_total{op}`, and per collection
/// (read when scraped) `flatvec_collection_vectors`, `flatvec_collection_memory_bytes`,
/// `flatvec_search_scans_total`, `flatvec_search_queries_total` (queries / scans is the coalesced
/// batch size), `flatvec_follower_pending_changes`, `flatvec_follower_lag_seconds`.
public final class ServerMetrics: Sendable {
    /// The registry the metrics are written to; ``emit()`` renders it.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let timers = Mutex<[String: CoreMetrics.Timer]>([:])
    private let meters = Mutex<[String: CoreMetrics.Meter]>([:])
    /// Every reply counts here: its operation's counter and histogram, found by opcode without
    /// building a label string per request.
    private let perOperation = Mutex<[UInt8: (requests: CoreMetrics.Counter, duration: CoreMetrics.Timer)]>([:])
    /// Per collection, the scan and query counts already added to the counters.
    private let searchTotals = Mutex<[String: (scans: Int, queries: Int)]>([:])
    private let connectionsOpen: CoreMetrics.Meter
    private let connectionsTotal: CoreMetrics.Counter

    /// Creates the metrics, in a new registry unless one is given.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // Requests take microseconds to seconds: buckets from 50 µs to 10 s.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        self.factory = factory
        connectionsOpen = CoreMetrics.Meter(label: "flatvec_connections_open", dimensions: [], factory: factory)
        connectionsTotal = CoreMetrics.Counter(label: "flatvec_connections_total", dimensions: [], factory: factory)
    }

    /// The metrics in Prometheus text format (0.0.4).
    public func emit() -> [UInt8] {
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }

    /// An operation's name in labels: `search`, `create_collection`, ...; `unknown` for frames whose
    /// operation could not be read.
    static func name(of opcode: Opcode) -> String {
        opcode.rawValue == 0 || !Opcode.all.contains(opcode) ? "unknown" : opcode.description.lowercased()
    }

    static func name(ofCode code: UInt16) -> String {
        FlatVecError.Code(rawValue: code)?.description ?? "code_\(code)"
    }

    /// The metric of that label and dimensions, made on first use.
    private static func cached<Metric>(
        _ cache: borrowing Mutex<[String: Metric]>, _ label: String, _ dimensions: [(String, String)], make: () -> Metric
    ) -> Metric {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return cache.withLock { all in
            if let metric = all[key] { return metric }
            let metric = make()
            all[key] = metric
            return metric
        }
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        Self.cached(counters, label, dimensions) { CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory) }
    }

    private func timer(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Timer {
        Self.cached(timers, label, dimensions) { CoreMetrics.Timer(label: label, dimensions: dimensions, factory: factory) }
    }

    private func meter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Meter {
        Self.cached(meters, label, dimensions) { CoreMetrics.Meter(label: label, dimensions: dimensions, factory: factory) }
    }

    func request(_ opcode: Opcode, micros: UInt64, errorCode: UInt16?) {
        let (requests, duration) = perOperation.withLock { all in
            if let known = all[opcode.rawValue] { return known }
            let op = Self.name(of: opcode)
            let made = (counter("flatvec_requests_total", [("op", op)]), timer("flatvec_request_duration_seconds", [("op", op)]))
            all[opcode.rawValue] = made
            return made
        }
        requests.increment()
        duration.recordNanoseconds(Int64(micros) * 1000)
        if let errorCode {
            counter("flatvec_request_errors_total", [("op", Self.name(of: opcode)), ("code", Self.name(ofCode: errorCode))]).increment()
        }
    }

    func connectionOpened() {
        connectionsOpen.increment()
        connectionsTotal.increment()
    }

    func connectionClosed() { connectionsOpen.decrement() }

    /// A write to the durable store: how long it took, and whether it failed.
    func storeWrite(_ op: String, took: Duration, failed: Bool) {
        let nanoseconds = took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000
        timer("flatvec_store_commit_duration_seconds", [("op", op)]).recordNanoseconds(nanoseconds)
        if failed { counter("flatvec_store_failures_total", [("op", op)]).increment() }
    }

    /// Sets the per-collection figures from the collections served now (called before each scrape);
    /// gauges of collections that are gone are removed.
    func refresh(collections: [(name: String, vectors: Int, memoryBytes: Int, scans: Int, queries: Int)], following: FollowerStatus) {
        let names = Set(collections.map(\.name))
        for c in collections {
            meter("flatvec_collection_vectors", [("collection", c.name)]).set(Double(c.vectors))
            meter("flatvec_collection_memory_bytes", [("collection", c.name)]).set(Double(c.memoryBytes))
            let (scans, queries) = searchTotals.withLock { totals -> (Int, Int) in
                let before = totals[c.name] ?? (0, 0)
                totals[c.name] = (c.scans, c.queries)
                // A replaced index (REBUILD, a follower reload) counts from 0 again.
                return c.scans >= before.scans ? (c.scans - before.scans, c.queries - before.queries) : (c.scans, c.queries)
            }
            counter("flatvec_search_scans_total", [("collection", c.name)]).increment(by: Int64(scans))
            counter("flatvec_search_queries_total", [("collection", c.name)]).increment(by: Int64(queries))
            if let entry = following.entry(for: c.name) {
                meter("flatvec_follower_pending_changes", [("collection", c.name)]).set(Double(entry.pending))
                meter("flatvec_follower_lag_seconds", [("collection", c.name)]).set(Double(entry.pendingAgeMillis) / 1000)
            }
        }
        meters.withLock { all in
            for (key, meter) in all where key.contains("|collection=") {
                guard let name = key.split(separator: "|collection=").last.map(String.init), !names.contains(name) else { continue }
                meter.destroy()
                all[key] = nil
            }
        }
    }
}
