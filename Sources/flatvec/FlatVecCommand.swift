import ArgumentParser

/// The `flatvec` command line.
struct FlatVecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flatvec",
        abstract: "FlatVec: exact vector search (flat inner product / cosine) with live add and remove.",
        subcommands: [
            ServeCommand.self, CreateCommand.self, AddCommand.self, SearchCommand.self, RemoveCommand.self,
            GetCommand.self, SetCommand.self, AttributeCommand.self, DescribeCommand.self, ListCommand.self, StatsCommand.self, DropCommand.self, RebuildCommand.self, KnnCommand.self, InfoCommand.self, DuplicatesCommand.self, PingCommand.self, VerifyCommand.self, BackupCommand.self,
        ]
    )
}
