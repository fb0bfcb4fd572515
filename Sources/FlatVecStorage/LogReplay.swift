import FlatVecCore

/// Applies one log's records in order to the collections they rebuild (start-up and the verifier).
///
/// The parts of a staged ADD (``LogRecord/stagedPart(stage:part:bytes:)``, in the log's stage file or
/// in the log itself) are held until the record that commits them; parts never committed (an ADD
/// that failed or a crash interrupted before its commit, never acknowledged) are dropped at the end
/// of the log.
struct LogReplay {
    private var staged: [UInt64: (parts: Int, body: [UInt8])] = [:]
    private let configuration: FlatIndex.Configuration

    /// A replay of one log (a stage never spans two logs).
    init(configuration: FlatIndex.Configuration) {
        self.configuration = configuration
    }

    /// Stages begun in this log and not committed (so far).
    var uncommittedStages: Int { staged.count }

    /// Holds a part from the log's stage file (read before the log: the log's commits name them).
    /// - Throws: `corruptData` for a record that is not a part, or a part out of order.
    mutating func hold(_ body: [UInt8]) throws(FlatVecError) {
        guard case .stagedPart(let stage, let part, let bytes) = try LogRecord.decode(body) else {
            throw FlatVecError(.corruptData, "a stage file holds a record other than a staged part")
        }
        try hold(stage: stage, part: part, bytes: bytes)
    }

    private mutating func hold(stage: UInt64, part: Int, bytes: [UInt8]) throws(FlatVecError) {
        if part == 0 {
            staged[stage] = (1, bytes)
        } else {
            guard staged[stage]?.parts == part else {
                throw FlatVecError(.corruptData, "part \(part) of stage \(stage) follows \(staged[stage]?.parts ?? 0) parts of it")
            }
            // In place: the body grows once per part, never copied whole.
            staged[stage]!.parts += 1
            staged[stage]!.body.append(contentsOf: bytes)
        }
    }

    /// Applies a record body that passed its checksum.
    /// - Throws: `corruptData` naming what does not parse or apply.
    mutating func apply(_ body: [UInt8], to collections: inout [String: NamedIndex]) throws(FlatVecError) {
        try apply(try LogRecord.decode(body), to: &collections)
    }

    private mutating func apply(_ record: LogRecord, to collections: inout [String: NamedIndex]) throws(FlatVecError) {
        switch record {
        case .stagedPart(let stage, let part, let bytes):
            try hold(stage: stage, part: part, bytes: bytes)
        case .commitStaged(let stage, let parts):
            let held = staged.removeValue(forKey: stage)
            guard let held, held.parts == parts else {
                throw FlatVecError(.corruptData, "the commit of stage \(stage) names \(parts) parts; the log and its stage file hold \(held?.parts ?? 0) before it")
            }
            let record = try LogRecord.decode(held.body)
            guard case .add = record else { throw FlatVecError(.corruptData, "stage \(stage) holds a record other than an ADD") }
            try apply(record, to: &collections)
        case .create(let name, let dimension, let metric, let attributes):
            collections[name] = NamedIndex(
                name: name,
                index: try FlatIndex(
                    dimension: dimension, metric: metric, configuration: configuration.forCollection(name), attributes: attributes
                )
            )
        case .drop(let name):
            collections[name] = nil
        case .add(let collection, let batch):
            guard let c = collections[collection] else { throw FlatVecError(.corruptData, "ADD to unknown collection \(collection)") }
            try c.index.restore(batch)
        case .remove(let collection, let ids):
            guard let c = collections[collection] else { throw FlatVecError(.corruptData, "REMOVE from unknown collection \(collection)") }
            try c.index.remove(ids: ids)
        case .addAttribute(let collection, let definition):
            guard let c = collections[collection] else { throw FlatVecError(.corruptData, "attribute of unknown collection \(collection)") }
            try c.index.addAttribute(definition)
        case .dropAttribute(let collection, let name):
            guard let c = collections[collection] else { throw FlatVecError(.corruptData, "attribute of unknown collection \(collection)") }
            try c.index.dropAttribute(named: name)
        case .update(let collection, let updates):
            guard let c = collections[collection] else { throw FlatVecError(.corruptData, "UPDATE of unknown collection \(collection)") }
            try c.index.update(updates)
        }
    }
}
