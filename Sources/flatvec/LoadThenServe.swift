import Dispatch
import FlatVecServer
import ServiceLifecycle

/// The protocol port's service: opens the store and loads the collections (on a thread of its own),
/// marks the server ready, then serves. Meanwhile the metrics port answers `/readyz` with 503 and
/// what is loading.
struct LoadThenServe: Service {
    /// Opens the store, loads the collections and makes the server (exits the process if it cannot).
    let open: @Sendable () -> FlatVecServer
    let readiness: Readiness
    /// Starts reloading files on SIGHUP for the server, if it has any to reload; the source is kept
    /// while the server runs.
    let reloadOnSIGHUP: @Sendable (FlatVecServer) -> (any DispatchSourceSignal)?
    /// What is being opened, for the readiness message.
    let what: String

    func run() async throws {
        readiness.loading("from \(what)")
        let server = await withCheckedContinuation { (opened: CheckedContinuation<FlatVecServer, Never>) in
            DispatchQueue.global().async { opened.resume(returning: open()) }
        }
        let sighup = reloadOnSIGHUP(server)
        defer { sighup?.cancel() }
        readiness.serving(server.executor)
        try await server.run()
    }
}
