@testable import FlatVecCore
@_exported import FlatVecTestSupport

extension FlatIndex {
    /// Adds one vector, for tests.
    func add(id: Int64, label: Int64 = 0, vector: [Float], payload: String? = nil) throws(FlatVecError) {
        try add(VectorBatch(id: id, label: label, vector: vector, payload: payload))
    }

    /// Every row, sorted by id, for comparing with a reference.
    func allRows() -> [StoredVector] {
        var all: [StoredVector] = []
        forEachRow { id, label, vector, payload, attributes in
            all.append(StoredVector(id: id, label: label, vector: Array(vector), payload: payload, attributes: attributes))
        }
        return all.sorted { $0.id < $1.id }
    }
}

extension ReferenceIndex {
    /// Every row, sorted by id.
    func allRows() -> [StoredVector] {
        rows.map {
            StoredVector(
                id: $0.key, label: $0.value.label, vector: $0.value.vector, payload: $0.value.payload,
                attributes: $0.value.attributes
            )
        }
            .sorted { $0.id < $1.id }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Runs `count` bodies on that many real threads at once (Dispatch would cap them at the core count,
/// running writers and readers one after the other instead of together).
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Box: @unchecked Sendable {
        // @unchecked: written once before the thread starts, read by that thread only.
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) {
            self.body = body
            self.index = index
        }
    }
    var threads: [pthread_t] = []
    for i in 0..<count {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body, i)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body(box.index)
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}
