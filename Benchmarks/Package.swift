// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so the benchmark dependency stays out of FlatVec's graph.
// Run from this directory: swift package benchmark
let package = Package(
    name: "FlatVecBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        // By name, not by the path's last component: a clone may sit in a directory of any name.
        .package(name: "FlatVec", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(name: "BenchmarkData", path: "Support/BenchmarkData"),
        .executableTarget(
            name: "FlatIndexBenchmarks",
            dependencies: [
                .product(name: "FlatVecCore", package: "FlatVec"),
                .product(name: "Benchmark", package: "benchmark"),
                "BenchmarkData",
            ],
            path: "FlatIndexBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ServerBenchmarks",
            dependencies: [
                .product(name: "FlatVecCore", package: "FlatVec"),
                .product(name: "FlatVecStorage", package: "FlatVec"),
                .product(name: "FlatVecServer", package: "FlatVec"),
                .product(name: "FlatVecClient", package: "FlatVec"),
                .product(name: "Benchmark", package: "benchmark"),
                "BenchmarkData",
            ],
            path: "ServerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "PersistenceBenchmarks",
            dependencies: [
                .product(name: "FlatVecCore", package: "FlatVec"),
                .product(name: "FlatVecStorage", package: "FlatVec"),
                .product(name: "FlatVecEngine", package: "FlatVec"),
                .product(name: "FlatVecPostgres", package: "FlatVec"),
                .product(name: "Benchmark", package: "benchmark"),
                "BenchmarkData",
            ],
            path: "PersistenceBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
