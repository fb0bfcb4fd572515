// swift-tools-version: 6.1
import PackageDescription

// A program that embeds FlatVec as any other package would: by URL and version. FLATVEC_URL points it
// at another copy (scripts/test.sh points it at a tagged clone of the checkout under test).
let flatvecURL = Context.environment["FLATVEC_URL"] ?? "https://github.com/flatvec/flatvec.git"

let package = Package(
    name: "EmbeddedExample",
    dependencies: [
        .package(url: flatvecURL, from: "0.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "EmbeddedExample",
            dependencies: [.product(name: "FlatVecEngine", package: "flatvec")]
        ),
    ]
)
