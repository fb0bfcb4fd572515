import ArgumentParser
import FlatVecStorage
import FlatVecCore
import FlatVecPostgres
import FlatVecProtocol
import FlatVecServer
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// `flatvec serve`: the TCP server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve collections over FlatVec's binary protocol (proto-spec/PROTOCOL.md).",
        discussion: """
            With no arguments: listens on 127.0.0.1:7070 without authentication and serves the sample \
            catalogue as the collection 'products', in memory only (the catalogue is found in ./data, \
            beside or above the executable, or in the checkout it was built from; --sample-data names \
            another). SIGTERM or SIGINT stops accepting, answers every request already read, compacts a \
            --data directory's log (the next start replays nothing), and exits 0.
            """
    )

    @Option(name: .long, help: "Address to bind.") var host: String = "127.0.0.1"
    @Option(name: .long, help: "Port.") var port: Int = 7070
    @Option(name: .long, help: "Local data directory (durable store).") var data: String?
    @Flag(name: .long, help: ArgumentHelp(
        "With --data: if the log is damaged in the middle, cut it at the damage (dropping every write after it) instead of refusing to start.",
        discussion: "Only a torn tail is cut without it. The cut is logged with the offset and the bytes dropped."
    ))
    var truncateCorruptLog = false
    @Option(name: .long, help: "PostgreSQL URL (pgvector mirror as the durable store).") var postgres: String?
    @Flag(name: .long, help: "Wait (with backoff) for PostgreSQL to come up instead of exiting.") var waitForPostgres = false
    @Option(name: .long, help: ArgumentHelp(
        "With --postgres: seconds the change log keeps a change (servers follow it; one away longer reloads).",
        valueName: "seconds"
    ))
    var changeLogMaxAge: Int = 86_400
    @Option(name: .long, help: ArgumentHelp("With --postgres: changes the change log keeps at most.", valueName: "rows"))
    var changeLogMaxRows: Int = 1_000_000
    @Option(name: .long, help: "PEM certificate chain: serve the protocol over TLS (with --tls-key-file).") var tlsCertFile: String?
    @Option(name: .long, help: "PEM private key of --tls-cert-file.") var tlsKeyFile: String?
    @Option(name: .long, help: ArgumentHelp(
        "PEM CA certificates: clients must present a certificate they signed (mutual TLS).",
        discussion: "SIGHUP reads the three TLS files again; new connections use them, open ones keep theirs."
    ))
    var tlsClientCaFile: String?
    @Option(name: .long, help: "Serve Prometheus metrics over HTTP on this port (GET /metrics).") var metricsPort: Int?
    @Option(name: .long, help: "Address the metrics port binds.") var metricsHost: String = "127.0.0.1"
    @Option(name: .long, help: "A follower whose lag behind the change log exceeds this many milliseconds answers GET /readyz with 503.")
    var readyMaxLagMs: UInt64?
    @Option(name: .long, help: "File with the admin tokens, one a line (read again on SIGHUP).") var adminTokenFile: String?
    @Option(name: .long, help: "File with the reader tokens, one a line (read again on SIGHUP).") var readerTokenFile: String?
    @Option(name: .long, help: "Largest frame in bytes.") var maxFrameBytes: UInt32 = 64 << 20
    @Option(name: .long, help: "Most hits a range search (k = 0, --k all) returns per query; more are cut and the reply says so (1 to 100000).")
    var maxRangeHits: UInt32 = UInt32(FlatVecLimits.defaultRangeHits)
    @Option(name: .long, help: ArgumentHelp(
        "In memory mode (no --data or --postgres): the directory of the sample catalogue to serve, or 'none'.",
        discussion: "By default ./data, then data/ beside the executable or above it, then the checkout it was built from."
    ))
    var sampleData: String?
    @Option(name: .long, help: "Seconds a connection may stall mid-frame.") var frameTimeout: Int64 = 10
    @Option(name: .long, help: "Seconds an idle connection is kept (0: forever).") var idleTimeout: Int64 = 600
    @Option(name: .long, help: "With tokens: seconds a connection may take to authenticate.") var authTimeout: Int64 = 10
    @Option(name: .long, help: "Connections open at once; more are refused with limit_exceeded.") var maxConnections: Int = 1024
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"
    @Option(name: .long, help: ArgumentHelp(
        "How searches read the vectors: float32, int8 or auto (int8 where the CPU has a fast int8 kernel).",
        discussion: "Both are exact: int8 returns the float32 hits and scores of each query searched alone, reading a quarter of the bytes, and keeps codes taking about half as much memory again (in blocks for scans, row by row for filtered scans)."
    ))
    var scan: String = "auto"
    @Option(name: .long, help: ArgumentHelp(
        "NAME=MODE: the scan mode of one collection, overriding --scan (repeatable).",
        valueName: "name=mode"
    ))
    var scanCollection: [String] = []

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { fail("unknown --log-level '\(logLevel)'") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "flatvec")
        guard maxFrameBytes >= 1024 else { fail("--max-frame-bytes must be at least 1024") }
        guard (1...UInt32(FlatVecLimits.maximumRangeHits)).contains(maxRangeHits) else {
            fail("--max-range-hits must be 1 to \(FlatVecLimits.maximumRangeHits)")
        }
        let accessTokens: AccessTokens
        do {
            let admin = try adminTokenFile.map { (path) throws(FlatVecError) in try AccessTokens.read(file: path) } ?? []
            let reader = try readerTokenFile.map { (path) throws(FlatVecError) in try AccessTokens.read(file: path) } ?? []
            if !admin.isEmpty || !reader.isEmpty { try AccessTokens.check(admin: admin, reader: reader) }
            accessTokens = AccessTokens(admin: admin, reader: reader)
        } catch {
            fail(error.message)
        }
        // One index configuration for every collection: those the store loads and those created later.
        let indexConfiguration = parseScanOptions()
        var configuration = ServerConfiguration(
            host: host, port: port,
            limits: ProtocolLimits(maxFrameBytes: maxFrameBytes, maxRangeHits: maxRangeHits),
            frameTimeout: .seconds(max(1, frameTimeout)),
            authenticationTimeout: .seconds(max(1, authTimeout)),
            maxConnections: max(1, maxConnections),
            idleTimeout: idleTimeout > 0 ? .seconds(idleTimeout) : nil
        )
        configuration.workerThreads = FlatIndex.defaultSearchThreads
        configuration.accessTokens = accessTokens
        switch (tlsCertFile, tlsKeyFile) {
        case (nil, nil):
            if tlsClientCaFile != nil { fail("--tls-client-ca-file needs --tls-cert-file and --tls-key-file") }
        case (let certificate?, let key?):
            configuration.tls = TLSFiles(certificateFile: certificate, keyFile: key, clientCAFile: tlsClientCaFile)
        default:
            fail("--tls-cert-file and --tls-key-file go together")
        }
        if let metricsPort, !(1...65_535).contains(metricsPort) { fail("--metrics-port must be from 1 to 65535") }
        if metricsPort == port { fail("--metrics-port must differ from --port") }
        if data != nil && postgres != nil { fail("give at most one of --data and --postgres") }
        let metrics = metricsPort.map { _ in ServerMetrics() }
        let isLoopback = host == "127.0.0.1" || host == "::1" || host == "localhost"
        if !isLoopback && !configuration.requiresAuthentication {
            logger.warning("listening on \(host) without tokens: anyone who can reach this port can change the data; use --admin-token-file")
        }
        if !isLoopback && configuration.requiresAuthentication && configuration.tls == nil {
            logger.warning("listening on \(host) with tokens but without TLS: tokens cross the network in clear text; use --tls-cert-file and --tls-key-file")
        }
        // The metrics port (and its /readyz, 503 meanwhile) answers while the store opens and the
        // collections load; the protocol port opens once they are loaded.
        let readiness = Readiness(maximumLagMillis: readyMaxLagMs)
        let settings = configuration
        let open: @Sendable () -> FlatVecServer = { [self] in
            openServer(configuration: settings, indexConfiguration: indexConfiguration, metrics: metrics, logger: logger)
        }
        let reload: @Sendable (FlatVecServer) -> (any DispatchSourceSignal)? = { [adminTokenFile, readerTokenFile] server in
            guard settings.tls != nil || settings.requiresAuthentication else { return nil }
            return reloadOnSIGHUP(server, tokenFiles: (adminTokenFile, readerTokenFile), logger: logger)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: LoadThenServe(open: open, readiness: readiness, reloadOnSIGHUP: reload, what: storeDescription)),
        ]
        if let metricsPort, let metrics {
            services.append(.init(service: MetricsEndpoint(host: metricsHost, port: metricsPort, metrics: metrics, readiness: readiness, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch let error as FlatVecError {
            fail(error.description)
        }
    }

    /// What the store will be, for the readiness message while it opens.
    private var storeDescription: String {
        if let data { return "local directory \(data)" }
        if postgres != nil { return "PostgreSQL" }
        return "memory"
    }

    /// Opens the store, loads its collections (and in memory the sample catalogue) and makes the
    /// server; exits with a message if it cannot. Slow (it reads every vector): runs off the event loops.
    private func openServer(
        configuration: ServerConfiguration, indexConfiguration: FlatIndex.Configuration, metrics: ServerMetrics?, logger: Logger
    ) -> FlatVecServer {
        let store: any DurableStore
        do {
            store = try makeStore(indexConfiguration: indexConfiguration, logger: logger)
        } catch {
            fail("\(error)")
        }
        let registry = CollectionRegistry()
        loadCollections(into: registry, from: store, indexConfiguration: indexConfiguration, logger: logger)
        let executor = RequestExecutor(
            registry: registry, store: store, statistics: ServerStatistics(metrics: metrics),
            indexConfiguration: indexConfiguration, logger: logger
        )
        let server: FlatVecServer
        do {
            server = try FlatVecServer(configuration: configuration, executor: executor, logger: logger)
        } catch {
            fail(error.description)
        }
        let blas = BLASRuntime.info
        Task {
            guard let address = await server.listeningAddress() else { return }
            let collections = registry.all.map {
                "\($0.name) (\($0.index.count) x \($0.index.dimension), \($0.index.metric), \($0.index.configuration.effectiveScan) scan)"
            }
            logger.info("""
                flatvec \(FlatVecVersion.string) listening on \(address); store: \(store.description); \
                auth: \(configuration.requiresAuthentication ? "tokens" : "off"); \
                tls: \(configuration.tls == nil ? "off" : configuration.tls?.clientCAFile == nil ? "on" : "on, client certificates required"); \
                collections: \(collections.isEmpty ? "none" : collections.joined(separator: ", ")); \
                BLAS kernel: \(blas.kernel ?? "unknown"); int8 kernel: \(blas.int8Kernel)
                """)
        }
        return server
    }

    /// Loads the store's collections (and, in memory, the sample catalogue) into `registry`; exits
    /// with a message if it cannot.
    private func loadCollections(
        into registry: CollectionRegistry, from store: any DurableStore, indexConfiguration: FlatIndex.Configuration, logger: Logger
    ) {
        do {
            for collection in try store.loadCollections() { try registry.insert(collection) }
        } catch {
            fail("cannot load collections from \(store.description): \(error)")
        }
        if store is MemoryOnlyStore, sampleData != "none" {
            if let sampleData = sampleData ?? SampleCatalogue.locate(), SampleCatalogue.exists(in: sampleData) {
                do {
                    let batch = try SampleCatalogue.load(from: sampleData)
                    let index = try FlatIndex(
                        dimension: batch.dimension, configuration: indexConfiguration.forCollection(SampleCatalogue.collectionName),
                        attributes: SampleCatalogue.attributes
                    )
                    try index.add(batch)
                    try registry.insert(NamedIndex(name: SampleCatalogue.collectionName, index: index))
                } catch {
                    fail("cannot load the sample catalogue from \(sampleData): \(error)")
                }
            } else {
                let looked = sampleData.map { "'\($0)'" } ?? SampleCatalogue.candidates().prefix(3).joined(separator: ", ") + ", ..."
                logger.notice("no sample catalogue in \(looked); starting with no collections (give one with --sample-data PATH)")
            }
        }

    }

    /// The index configuration from --scan and --scan-collection; exits with a message naming a bad value.
    private func parseScanOptions() -> FlatIndex.Configuration {
        guard let mode = ScanMode(name: scan) else { fail("unknown --scan '\(scan)': use float32, int8 or auto") }
        var configuration = FlatIndex.Configuration(scan: mode)
        for entry in scanCollection {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                fail("--scan-collection '\(entry)' is not NAME=MODE (e.g. products=float32)")
            }
            guard let collectionMode = ScanMode(name: parts[1]) else {
                fail("--scan-collection '\(entry)': unknown mode '\(parts[1])': use float32, int8 or auto")
            }
            configuration.scanByCollection[parts[0]] = collectionMode
        }
        return configuration
    }

    private func makeStore(indexConfiguration: FlatIndex.Configuration, logger: Logger) throws -> any DurableStore {
        if data != nil && postgres != nil { fail("give at most one of --data and --postgres") }
        if truncateCorruptLog && data == nil { fail("--truncate-corrupt-log needs --data") }
        if let data { return try openLocalStore(directory: data, truncateCorruptLog: truncateCorruptLog, indexConfiguration: indexConfiguration, logger: logger) }
        guard changeLogMaxAge >= 1, changeLogMaxRows >= 1 else { fail("--change-log-max-age and --change-log-max-rows must be at least 1") }
        if let postgres {
            return try openPostgresStore(
                url: postgres, wait: waitForPostgres, indexConfiguration: indexConfiguration,
                retention: ChangeLogRetention(maximumAgeSeconds: changeLogMaxAge, maximumRows: changeLogMaxRows), logger: logger
            )
        }
        return MemoryOnlyStore()
    }
}

/// Reads the TLS files and the token files again on every SIGHUP: new connections use them, open
/// ones keep what they have (their TLS session, their role). What cannot be used is refused with a
/// log line, and what was in force stays.
/// - Returns: The signal source; it must stay alive for the reloads to happen.
func reloadOnSIGHUP(
    _ server: FlatVecServer, tokenFiles: (admin: String?, reader: String?), logger: Logger
) -> any DispatchSourceSignal {
    signal(SIGHUP, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
    source.setEventHandler {
        if server.configuration.tls != nil {
            do throws(FlatVecError) {
                try server.reloadTLS()
                logger.notice("reloaded the TLS certificate, key and client CA files (SIGHUP)")
            } catch {
                logger.error("SIGHUP: kept the TLS files in force: \(error.message)")
            }
        }
        let tokens = server.configuration.accessTokens
        guard tokens.isRequired else { return }
        do throws(FlatVecError) {
            let admin = try tokenFiles.admin.map { (path) throws(FlatVecError) in try AccessTokens.read(file: path) } ?? []
            let reader = try tokenFiles.reader.map { (path) throws(FlatVecError) in try AccessTokens.read(file: path) } ?? []
            try tokens.replace(admin: admin, reader: reader)
            logger.notice("reloaded the token files (SIGHUP): \(admin.count) admin and \(reader.count) reader tokens in force")
        } catch {
            logger.error("SIGHUP: kept the tokens in force: \(error.message)")
        }
    }
    source.resume()
    return source
}
