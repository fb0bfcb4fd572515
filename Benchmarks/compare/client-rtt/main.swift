// One-query SEARCH round trips from the Swift client, for Benchmarks/compare/checkout.py and
// Benchmarks/compare/run.py:
//
//     flatvec-client-rtt --server 127.0.0.1:7070 --collection products --queries q.f32 --dim 512 --count 2000
//     flatvec-client-rtt --server 127.0.0.1:7070 --collection bench --queries q.f32 --dim 512 --clients 32 --seconds 10
//     flatvec-client-rtt --server 127.0.0.1:7071,127.0.0.1:7072 ... --clients 32 --seconds 10   (clients spread over servers)
//
// `--queries` is raw little-endian float32, row-major. With `--count`, one client sends that many
// searches after a warm-up and prints {"p50": s, "p99": s}. With `--clients C --seconds T`, C
// connections each send one-query SEARCHes (k = `--k`, default 10) back to back (closed loop) for T
// seconds after a one-second warm-up, and it prints {"clients": C, "qps": .., "p50": s, "p99": s}.
import FlatVecBenchSupport
import FlatVecClient

#if canImport(Glibc)
import Glibc
#endif

let server = CommandLineOptions.value("--server") ?? "127.0.0.1:7070"
let collection = CommandLineOptions.value("--collection") ?? "products"
let dimension = Int(CommandLineOptions.value("--dim") ?? "512")!
let count = Int(CommandLineOptions.value("--count") ?? "2000")!
let k = Int(CommandLineOptions.value("--k") ?? "10")!
let clients = CommandLineOptions.value("--clients").map { Int($0)! }
let duration = Double(CommandLineOptions.value("--seconds") ?? "10")!
// `--tls-ca-file F`: connect with TLS, trusting F. `--add-batches N`: instead of searches, time N ADDs
// of `--add-rows` (default 1,000) vectors each, ids from `--first-id`, and print {"p50": s, "p99": s}.
let tls = CommandLineOptions.value("--tls-ca-file").map { ClientTLS(caFile: $0) }
let addBatches = CommandLineOptions.value("--add-batches").map { Int($0)! }
let addRows = Int(CommandLineOptions.value("--add-rows") ?? "1000")!
let firstID = Int64(CommandLineOptions.value("--first-id") ?? "0")!
guard let path = CommandLineOptions.value("--queries"), let file = fopen(path, "rb") else {
    print("usage: flatvec-client-rtt --queries FILE [--server H:P] [--collection C] [--dim D] [--k K] [--count N | --clients C --seconds T]")
    exit(2)
}
var loaded: [Float] = []
var chunk = [Float](repeating: 0, count: 65_536)
while true {
    let n = fread(&chunk, 4, chunk.count, file)
    if n == 0 { break }
    loaded += chunk[0..<n]
}
fclose(file)
let queries = loaded
let rows = queries.count / dimension
// `--server a:p,b:q`: with --clients, client c talks to server c mod n (several servers following one PostgreSQL).
let servers = server.split(separator: ",").map { part -> (String, Int) in
    let colon = part.lastIndex(of: ":")!
    return (String(part[..<colon]), Int(part[part.index(after: colon)...])!)
}
let (host, port) = servers[0]

func query(_ i: Int) -> [Float] {
    Array(queries[((i % rows) * dimension)..<((i % rows + 1) * dimension)])
}

if let clients {
    // Closed loop: every client sends its next search as soon as the last one is answered.
    let start = ContinuousClock.now
    let warmUpEnd = start + .seconds(1)
    let end = warmUpEnd + .milliseconds(Int(duration * 1000))
    let perClient = try await withThrowingTaskGroup(of: [Double].self) { group in
        for c in 0..<clients {
            group.addTask {
                let (host, port) = servers[c % servers.count]
                let client = try await FlatVecClient.connect(host: host, port: port, tls: tls)
                var times: [Double] = []
                var i = c * 7919
                while true {
                    let sent = ContinuousClock.now
                    if sent >= end { break }
                    _ = try await client.search(collection: collection, queries: query(i), dimension: dimension, options: SearchOptions(k: k))
                    if sent >= warmUpEnd { times.append((ContinuousClock.now - sent).inSeconds) }
                    i += 1
                }
                await client.close()
                return times
            }
        }
        var all: [[Double]] = []
        for try await times in group { all.append(times) }
        return all
    }
    var times = perClient.flatMap { $0 }
    times.sort()
    let qps = Double(times.count) / duration
    if let path = CommandLineOptions.value("--latencies"), let file = fopen(path, "w") {
        // Every latency in seconds, sorted, one per line: for a histogram.
        for latency in times { fputs("\(latency)\n", file) }
        fclose(file)
    }
    print("{\"clients\": \(clients), \"qps\": \(qps), \"p50\": \(times[times.count / 2]), \"p99\": \(times[times.count * 99 / 100]), \"count\": \(times.count)}")
} else if let addBatches {
    let client = try await FlatVecClient.connect(host: host, port: port, tls: tls)
    var times: [Double] = []
    for b in 0..<addBatches {
        let ids = (0..<addRows).map { firstID + Int64(b * addRows + $0) }
        let vectors = (0..<(addRows * dimension)).map { queries[$0 % queries.count] }
        let batch = try VectorBatch(dimension: dimension, ids: ids, labels: ids, vectors: vectors)
        let start = ContinuousClock.now
        try await client.add(collection: collection, batch: batch)
        times.append((ContinuousClock.now - start).inSeconds)
    }
    await client.close()
    times.sort()
    print("{\"p50\": \(times[times.count / 2]), \"p99\": \(times[min(times.count - 1, times.count * 99 / 100)])}")
} else {
    let client = try await FlatVecClient.connect(host: host, port: port, tls: tls)
    var times: [Double] = []
    for i in 0..<(count + 100) {
        let start = ContinuousClock.now
        _ = try await client.search(collection: collection, queries: query(i), dimension: dimension, options: SearchOptions(k: k))
        if i >= 100 { times.append((ContinuousClock.now - start).inSeconds) }
    }
    await client.close()
    times.sort()
    print("{\"p50\": \(times[times.count / 2]), \"p99\": \(times[times.count * 99 / 100])}")
}
