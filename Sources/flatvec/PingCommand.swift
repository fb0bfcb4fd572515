import ArgumentParser
import FlatVecClient
import FlatVecCore

/// `flatvec ping`: whether a server answers, for scripts (exit status 0 or 1).
struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Check that a server answers: connect (HELLO with the token, if any), PING, exit 0; else exit 1.",
        discussion: """
            Prints the server's version and role and the round trip of the PING. A server that cannot \
            be reached, refuses the token, or does not answer within --timeout seconds fails with a \
            one-line reason and status 1.
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Seconds to wait for the connection and the reply.") var timeout: Double = 5

    func run() async throws {
        guard timeout > 0, timeout.isFinite else { fail("--timeout must be a positive number of seconds, got \(timeout)") }
        let client = self.client
        // The timer ends the process if the connection or the reply does not come in time (a
        // connection attempt does not stop for a task's cancellation).
        let timer = Task {
            try await Task.sleep(for: .seconds(timeout))
            fail("no reply from \(client.server) within \(timeout) s")
        }
        let c = await client.connect()
        let took = await orFail { try await c.ping() }
        timer.cancel()
        let hello = c.hello
        await c.close()
        let micros = took.components.seconds * 1_000_000 + took.components.attoseconds / 1_000_000_000_000
        let outcome = "pong from \(client.server): \(hello.server), protocol \(hello.version), role \(hello.role), \(micros) µs"
        print(outcome)
    }
}
