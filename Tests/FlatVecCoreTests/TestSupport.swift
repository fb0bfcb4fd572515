@testable import FlatVecCore
import Testing
@_exported import FlatVecTestSupport

extension FlatIndex {
    /// Adds one vector, for tests.
    func add(id: Int64, label: Int64 = 0, vector: [Float], payload: String? = nil) throws(FlatVecError) {
        try add(VectorBatch(id: id, label: label, vector: vector, payload: payload))
    }

    /// Every row, sorted by id, for comparing with a reference.
    func allRows() -> [StoredVector] {
        var all: [StoredVector] = []
        do {
            try forEachRow { id, label, vector, payload, attributes in
                all.append(StoredVector(id: id, label: label, vector: Array(vector), payload: payload, attributes: attributes))
            }
        } catch {
            Issue.record(error)
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

