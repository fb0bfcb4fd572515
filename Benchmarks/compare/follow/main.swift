// Replication lag between two FlatVec servers following one PostgreSQL, for
// Benchmarks/compare/followers.py:
//
//     flatvec-follow-bench --writer 127.0.0.1:7071 --reader 127.0.0.1:7072 --collection lag --dim 512 --rate 1000 --seconds 10
//     flatvec-follow-bench --writer 127.0.0.1:7071,127.0.0.1:7073 --reader 127.0.0.1:7072 ...   (writes through two servers)
//
// Sends single-vector ADDs of random unit vectors to the writer at `--rate` per second (open loop:
// add i is due at start + i / rate, spread over `--connections` connections, default 16). Every
// `--sample`-th add (default: as many as make 100 probes a second) becomes a probe from the moment
// the writer's reply arrives: one prober sends the reader one SEARCH (k = 1) holding every pending
// probe's vector, every `--poll-ms` (default 1) after the previous reply, and a probe ends when its
// top hit is its id. Lag = that reply - the writer's reply (the COMMIT precedes the reply), so it is
// exact to about one poll. (Probing with back-to-back searches per probe would load the reader more
// the later it is, and so measure its own load.) Prints
// {"rate": .., "achieved": .., "samples": .., "p50": s, "p99": s, "max": s, "late": n, "lost": n}.
import FlatVecBenchSupport
import FlatVecClient
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

func address(_ text: String) -> (String, Int) {
    let colon = text.lastIndex(of: ":")!
    return (String(text[..<colon]), Int(text[text.index(after: colon)...])!)
}

// `--writer a:p,c:q`: connection c writes through writer c mod n (each server orders the writes to a
// collection one commit at a time, so one server's write rate is bounded by PostgreSQL's commit latency).
let writers = (CommandLineOptions.value("--writer") ?? "127.0.0.1:7071").split(separator: ",").map { address(String($0)) }
let (readerHost, readerPort) = address(CommandLineOptions.value("--reader") ?? "127.0.0.1:7072")
let collection = CommandLineOptions.value("--collection") ?? "lag"
let dimension = Int(CommandLineOptions.value("--dim") ?? "512")!
let rate = Double(CommandLineOptions.value("--rate") ?? "100")!
let seconds = Double(CommandLineOptions.value("--seconds") ?? "10")!
let connections = Int(CommandLineOptions.value("--connections") ?? "16")!
let sample = Int(CommandLineOptions.value("--sample") ?? "\(max(1, Int(rate / 100)))")!
let firstID = Int64(CommandLineOptions.value("--first-id") ?? "1000000000")!
let poll = Duration.microseconds(Int64(Double(CommandLineOptions.value("--poll-ms") ?? "1")! * 1000))

func unitVector(_ seed: Int64) -> [Float] {
    var random = SplitMix64(seed: UInt64(bitPattern: seed))
    var v = (0..<dimension).map { _ in Float(random.nextUniform() * 2 - 1) }
    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    for i in v.indices { v[i] /= norm }
    return v
}

final class Results: Sendable {
    private let state = Mutex<(lags: [Double], late: Int, lost: Int, acked: Int)>(([], 0, 0, 0))
    func lag(_ s: Double) { state.withLock { $0.lags.append(s) } }
    func late() { state.withLock { $0.late += 1 } }
    func lost() { state.withLock { $0.lost += 1 } }
    func acked() { state.withLock { $0.acked += 1 } }
    var value: (lags: [Double], late: Int, lost: Int, acked: Int) { state.withLock { $0 } }
}

/// Probes waiting to be seen on the reader: id, vector, when the writer acknowledged it.
final class Probes: Sendable {
    private let state = Mutex<(pending: [(id: Int64, vector: [Float], acknowledged: ContinuousClock.Instant)], writersDone: Bool)>(([], false))
    func add(_ id: Int64, _ vector: [Float], _ acknowledged: ContinuousClock.Instant) { state.withLock { $0.pending.append((id, vector, acknowledged)) } }
    func writersFinished() { state.withLock { $0.writersDone = true } }
    var snapshot: (pending: [(id: Int64, vector: [Float], acknowledged: ContinuousClock.Instant)], writersDone: Bool) { state.withLock { $0 } }
    func remove(_ ids: Set<Int64>) { state.withLock { $0.pending.removeAll { ids.contains($0.id) } } }
}

let results = Results()
let probes = Probes()
let total = Int(rate * seconds)
let reader = try await FlatVecClient.connect(host: readerHost, port: readerPort)
let start = ContinuousClock.now + .milliseconds(200)
let prober = Task {
    while true {
        let (pending, writersDone) = probes.snapshot
        if pending.isEmpty {
            if writersDone { return }
            try await Task.sleep(for: poll)
            continue
        }
        let hits = try await reader.search(
            collection: collection, queries: pending.flatMap(\.vector), dimension: dimension, options: SearchOptions(k: 1)
        )
        let answered = ContinuousClock.now
        var done = Set<Int64>()
        for (probe, top) in zip(pending, hits) {
            if top.first?.id == probe.id {
                results.lag((answered - probe.acknowledged).inSeconds)
                done.insert(probe.id)
            } else if answered - probe.acknowledged > .seconds(10) {
                results.lost()
                done.insert(probe.id)
            }
        }
        probes.remove(done)
        try await Task.sleep(for: poll)
    }
}
try await withThrowingTaskGroup(of: Void.self) { group in
    for c in 0..<connections {
        group.addTask {
            let (writerHost, writerPort) = writers[c % writers.count]
            let writer = try await FlatVecClient.connect(host: writerHost, port: writerPort)
            for i in stride(from: c, to: total, by: connections) {
                let due = start + .nanoseconds(Int64(Double(i) / rate * 1e9))
                if ContinuousClock.now < due { try await Task.sleep(until: due) } else if ContinuousClock.now - due > .milliseconds(5) { results.late() }
                let id = firstID + Int64(i)
                let vector = unitVector(id)
                _ = try await writer.add(collection: collection, batch: VectorBatch(dimension: dimension, ids: [id], labels: [0], vectors: vector))
                let acknowledged = ContinuousClock.now
                results.acked()
                if i % sample == 0 { probes.add(id, vector, acknowledged) }
            }
            await writer.close()
        }
    }
    try await group.waitForAll()
}
let elapsed = (ContinuousClock.now - start).inSeconds
probes.writersFinished()
try await prober.value
let r = results.value
let lags = r.lags.sorted()
func percentile(_ p: Double) -> Double { lags.isEmpty ? .nan : lags[min(lags.count - 1, Int(Double(lags.count) * p))] }
print("{\"rate\": \(rate), \"achieved\": \(Double(r.acked) / elapsed), \"samples\": \(lags.count), \"p50\": \(percentile(0.5)), \"p99\": \(percentile(0.99)), \"max\": \(lags.last ?? .nan), \"late\": \(r.late), \"lost\": \(r.lost)}")

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
