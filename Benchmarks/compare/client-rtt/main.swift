// One-query SEARCH round trips from the Swift client, for Benchmarks/compare/checkout.py to set
// beside the Python client's on the same server:
//
//     flatvec-client-rtt --server 127.0.0.1:7070 --collection products --queries q.f32 --dim 512 --count 2000
//
// `--queries` is raw little-endian float32, row-major. Prints {"p50": s, "p99": s} after a warm-up.
import FlatVecClient

#if canImport(Glibc)
import Glibc
#endif

func argument(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

let server = argument("--server") ?? "127.0.0.1:7070"
let collection = argument("--collection") ?? "products"
let dimension = Int(argument("--dim") ?? "512")!
let count = Int(argument("--count") ?? "2000")!
guard let path = argument("--queries"), let file = fopen(path, "rb") else {
    print("usage: flatvec-client-rtt --queries FILE [--server H:P] [--collection C] [--dim D] [--count N]")
    exit(2)
}
var queries: [Float] = []
var chunk = [Float](repeating: 0, count: 65_536)
while true {
    let n = fread(&chunk, 4, chunk.count, file)
    if n == 0 { break }
    queries += chunk[0..<n]
}
fclose(file)
let rows = queries.count / dimension
let colon = server.lastIndex(of: ":")!
let client = try await FlatVecClient.connect(host: String(server[..<colon]), port: Int(server[server.index(after: colon)...])!)
var times: [Double] = []
for i in 0..<(count + 100) {
    let q = Array(queries[((i % rows) * dimension)..<((i % rows + 1) * dimension)])
    let start = ContinuousClock.now
    _ = try await client.search(collection: collection, queries: q, dimension: dimension, options: SearchOptions(k: 10))
    let elapsed = ContinuousClock.now - start
    if i >= 100 { times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) }
}
await client.close()
times.sort()
print("{\"p50\": \(times[times.count / 2]), \"p99\": \(times[times.count * 99 / 100])}")
