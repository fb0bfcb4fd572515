import FlatVecEngine
import Testing

/// The engine's life: background work once, close waits and refuses later calls.
@Suite struct EngineTests {
    @Test(.timeLimit(.minutes(1))) func maintenanceRunsOncePerEngineAndCloseEndsIt() async throws {
        let engine = try Engine.open(MemoryOnlyStore())
        // open started the background work: a second run returns at once instead of competing for
        // the compaction signals.
        await engine.runMaintenance()
        try engine.createCollection("c", dimension: 2)
        await engine.close()
        await engine.close()
        #expect(throws: FlatVecError.self) { try engine.createCollection("d", dimension: 2) }
        #expect(throws: FlatVecError.self) { try engine.search([1, 0], in: "c") }
    }
}
