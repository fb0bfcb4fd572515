import ArgumentParser

/// The `flatvec` command line.
struct FlatVecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flatvec",
        abstract: "FlatVec: exact vector search (flat inner product / cosine) with live add and remove.",
        subcommands: [KnnCommand.self, InfoCommand.self]
    )
}
