// A program that only talks to a FlatVec server: it imports FlatVecClient and nothing else, so it
// links SwiftNIO but no BLAS (a test checks that with ldd).
//
//     swift run flatvec-client-example 127.0.0.1 7070
import FlatVecClient

let arguments = CommandLine.arguments
let host = arguments.count > 1 ? arguments[1] : "127.0.0.1"
let port = arguments.count > 2 ? Int(arguments[2]) ?? 7070 : 7070
do {
    let client = try await FlatVecClient.connect(host: host, port: port)
    for collection in try await client.listCollections() {
        print("\(collection.name): \(collection.count) x \(collection.dimension) (\(collection.metric))")
    }
    await client.close()
} catch {
    print("error: \(error)")
}
