// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "FlatVec",
    products: [
        .library(name: "FlatVecModel", targets: ["FlatVecModel"]),
        .library(name: "FlatVecCore", targets: ["FlatVecCore"]),
        .library(name: "FlatVecFormats", targets: ["FlatVecFormats"]),
        .library(name: "FlatVecProtocol", targets: ["FlatVecProtocol"]),
        .library(name: "FlatVecStorage", targets: ["FlatVecStorage"]),
        .library(name: "FlatVecEngine", targets: ["FlatVecEngine"]),
        .library(name: "FlatVecServer", targets: ["FlatVecServer"]),
        .library(name: "FlatVecClient", targets: ["FlatVecClient"]),
        .library(name: "FlatVecPostgres", targets: ["FlatVecPostgres"]),
        .executable(name: "flatvec", targets: ["flatvec"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System BLAS (OpenBLAS on Debian through the libblas.so.3 alternative).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // libpq, for the PostgreSQL store.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // Small C kernels: CPU feature detection, CRC32C, threshold scans, OpenBLAS runtime queries.
        .target(
            name: "CFlatVecKernels",
            // No unsafe flags, so that other packages can depend on this one. At -O0 the kernels are
            // 20-50x slower: scripts/test.sh builds the tests with `-Xcc -O2`.
            linkerSettings: [.linkedLibrary("dl")]
        ),
        // The vocabulary every layer shares: batches, options, hits, metrics, errors, limits. No dependencies.
        .target(name: "FlatVecModel"),
        // The index: no networking, no I/O beyond snapshots.
        .target(
            name: "FlatVecCore",
            dependencies: ["FlatVecModel", "CBLAS", "CFlatVecKernels"]
        ),
        // Vector file formats: .npy, .fvecs, .ivecs.
        .target(name: "FlatVecFormats", dependencies: ["FlatVecModel"]),
        // The wire protocol: frames and messages, pure encode/decode (no sockets).
        .target(
            name: "FlatVecProtocol",
            dependencies: ["FlatVecModel", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Durability without networking: the store interface, the memory-only and local-directory
        // stores, the write-ahead log and its record format, the registry of named indexes.
        .target(
            name: "FlatVecStorage",
            dependencies: ["FlatVecCore", .product(name: "Logging", package: "swift-log")]
        ),
        // FlatVec in process: the index and a durable store behind one API, with the write path's
        // single owner (WritePath) below it. The server is one more user of it.
        .target(
            name: "FlatVecEngine",
            dependencies: ["FlatVecCore", "FlatVecStorage", .product(name: "Logging", package: "swift-log")]
        ),
        // The TCP server (SwiftNIO): connections, authentication, worker threads, statistics.
        .target(
            name: "FlatVecServer",
            dependencies: [
                "FlatVecCore",
                "FlatVecStorage",
                "FlatVecEngine",
                "FlatVecProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The PostgreSQL (pgvector) durable store; the only code that calls libpq.
        .target(
            name: "FlatVecPostgres",
            dependencies: ["CLibPQ", "FlatVecCore", "FlatVecStorage", .product(name: "Logging", package: "swift-log")]
        ),
        // The async Swift client.
        .target(
            name: "FlatVecClient",
            dependencies: [
                "FlatVecModel",
                "FlatVecProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "flatvec",
            dependencies: [
                "FlatVecCore",
                "FlatVecFormats",
                "FlatVecProtocol",
                "FlatVecStorage",
                "FlatVecServer",
                "FlatVecClient",
                "FlatVecPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Option parsing, seeded data and timing shared by the compare harness's benchmark programs.
        .target(name: "FlatVecBenchSupport", path: "Benchmarks/compare/support"),
        // In-process update timings for Benchmarks/compare/run.py (rebuild, add and remove against FAISS).
        .executableTarget(name: "flatvec-updates-bench", dependencies: ["FlatVecCore", "FlatVecBenchSupport"], path: "Benchmarks/compare/updates"),
        // In-process search timings against the machine's sgemm rate (Benchmarks/compare/run.py).
        .executableTarget(name: "flatvec-filter-bench", dependencies: ["FlatVecCore", "FlatVecFormats", "FlatVecBenchSupport"], path: "Benchmarks/compare/filter"),
        .executableTarget(name: "flatvec-search-bench", dependencies: ["FlatVecCore", "FlatVecFormats", "FlatVecBenchSupport", "CBLAS"], path: "Benchmarks/compare/search"),
        // Swift client round trips for Benchmarks/compare/checkout.py (beside the Python client's).
        .executableTarget(name: "flatvec-client-rtt", dependencies: ["FlatVecClient", "FlatVecBenchSupport"], path: "Benchmarks/compare/client-rtt"),
        // Replication lag between servers following one PostgreSQL, for Benchmarks/compare/followers.py.
        .executableTarget(name: "flatvec-follow-bench", dependencies: ["FlatVecClient", "FlatVecBenchSupport"], path: "Benchmarks/compare/follow"),
        // A program that uses only the client (it must link no BLAS).
        .executableTarget(name: "flatvec-client-example", dependencies: ["FlatVecClient"], path: "examples/swift-client"),
        // Helpers shared by the test targets: references, seeded data, directories, PostgreSQL, races
        // (no server, no networking).
        .target(
            name: "FlatVecTestSupport",
            dependencies: ["FlatVecModel", "FlatVecCore", "FlatVecEngine"],
            path: "Tests/FlatVecTestSupport"
        ),
        // Helpers for tests that speak the protocol over a socket.
        .target(
            name: "FlatVecServerTestSupport",
            dependencies: ["FlatVecProtocol", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/FlatVecServerTestSupport"
        ),
        .testTarget(name: "FlatVecCoreTests", dependencies: ["FlatVecCore", "FlatVecFormats", "FlatVecTestSupport"]),
        .testTarget(name: "FlatVecFormatsTests", dependencies: ["FlatVecFormats"]),
        .testTarget(
            name: "FlatVecProtocolTests",
            dependencies: [
                "FlatVecProtocol",
                "FlatVecTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FlatVecServerTests",
            dependencies: [
                "FlatVecStorage",
                "FlatVecEngine",
                "FlatVecServerTestSupport",
                "FlatVecServer",
                "FlatVecClient",
                "FlatVecProtocol",
                "FlatVecTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The stores and the write path without sockets: one contract run against every store
        // (memory, local directory, PostgreSQL: FLATVEC_TEST_POSTGRES_URL), and the lock order.
        .testTarget(
            name: "FlatVecStorageTests",
            dependencies: [
                "FlatVecStorage", "FlatVecEngine", "FlatVecPostgres", "FlatVecTestSupport",
                // LogRecordTests compare log records with the protocol's encodings of the same requests.
                "FlatVecProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Needs a real PostgreSQL with pgvector: FLATVEC_TEST_POSTGRES_URL (scripts/dev-postgres.sh start).
        .testTarget(
            name: "FlatVecPostgresTests",
            dependencies: [
                "FlatVecPostgres", "FlatVecStorage", "FlatVecEngine", "FlatVecServer", "FlatVecProtocol", "FlatVecCore", "FlatVecTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Runs the built `flatvec` binary as a user would.
        .testTarget(
            name: "FlatVecCLITests",
            dependencies: [
                "FlatVecFormats", "FlatVecClient", "FlatVecPostgres", "FlatVecTestSupport", "FlatVecServerTestSupport", "flatvec",
                "flatvec-client-example",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
