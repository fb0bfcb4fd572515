import FlatVecCore
import FlatVecProtocol

extension RequestExecutor {
    /// The STATS reply: the process, its connections, every collection and every operation; with
    /// `storage`, each collection's mapped and on-disk bytes too.
    func stats(storage: Bool) -> StatsResponse {
        let blas = BLASRuntime.info
        let (open, total, operations) = statistics.snapshot()
        let uptime = ContinuousClock.now - statistics.startedAt
        return StatsResponse(
            uptimeMillis: UInt64(uptime.components.seconds) * 1000 + UInt64(uptime.components.attoseconds / 1_000_000_000_000_000),
            blasLibrary: blas.library, blasKernel: blas.kernel ?? "unknown",
            openConnections: open, totalConnections: total,
            collections: registry.all.map {
                let s = $0.index.statistics
                let followed = following.entry(for: $0.name)
                return StatsResponse.CollectionStats(
                    name: $0.name, dimension: UInt32(s.dimension), metric: s.metric,
                    count: UInt64(s.count), memoryBytes: UInt64(s.memoryBytes), skippedRows: UInt64($0.skippedRows),
                    scan: s.scan, codeBytes: UInt64(s.codeBytes), rowsBounded: UInt64(s.rescoring.rowsBounded),
                    rowsRescored: UInt64(s.rescoring.rowsRescored), following: followed != nil,
                    logPosition: followed?.position ?? 0, pendingChanges: followed?.pending ?? 0, lagMillis: followed?.pendingAgeMillis ?? 0,
                    mappedBytes: storage ? UInt64(s.mappedBytes) : nil, diskBytes: storage ? UInt64(s.diskBytes) : nil
                )
            },
            operations: operations
        )
    }

    /// Brings the per-collection metrics up to date (the metrics endpoint calls it before each scrape).
    public func refreshMetrics() {
        guard let metrics = statistics.metrics else { return }
        metrics.refresh(
            collections: registry.all.map {
                let s = $0.index.statistics
                return ($0.name, s.count, s.memoryBytes, s.searching.scans, s.searching.queries)
            },
            following: following
        )
    }
}
