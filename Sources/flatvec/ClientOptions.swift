import ArgumentParser
import FlatVecClient
import FlatVecCore

#if canImport(Glibc)
import Glibc
#endif

/// Options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "Server address, host:port.")
    var server: String = "127.0.0.1:7070"

    @Option(name: .long, help: "File holding the token (first line). Default: the FLATVEC_TOKEN environment variable.")
    var tokenFile: String?

    func token() -> String? {
        if let tokenFile { return readToken(tokenFile) }
        if let value = getenv("FLATVEC_TOKEN") { return String(cString: value) }
        return nil
    }

    /// `--server` as host and port; exits with a clear error when it is not `host:port` with a port
    /// in 1...65535 (an IPv6 address goes in brackets: `[::1]:7070`).
    func address() -> (host: String, port: Int) {
        guard let colon = server.lastIndex(of: ":") else { fail("--server must be host:port, got '\(server)'") }
        var host = String(server[..<colon])
        let portText = server[server.index(after: colon)...]
        guard let port = Int(portText), (1...65_535).contains(port) else {
            fail("--server '\(server)': the port must be a number from 1 to 65535, got '\(portText)'")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }),
              host.contains(":") == server.hasPrefix("[")
        else { fail("--server '\(server)': '\(host)' is not a host name or address (IPv6 goes in brackets: [::1]:7070)") }
        return (host, port)
    }

    func connect() async -> FlatVecClient {
        let (host, port) = address()
        do {
            return try await FlatVecClient.connect(host: host, port: port, token: token(), clientName: "flatvec-cli")
        } catch where error.code == .unavailable && error.message.hasPrefix("cannot connect") {
            fail("\(error.message) (is flatvec serve running there?)")
        } catch {
            fail(error.description)
        }
    }
}

/// The first line of a token file, trimmed; exits on a missing or empty file.
func readToken(_ path: String) -> String {
    guard let file = fopen(path, "r") else { fail("cannot read token file \(path)") }
    defer { fclose(file) }
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    guard getline(&line, &capacity, file) > 0, let line else { fail("token file \(path) is empty") }
    let token = String(cString: line).trimmingWhitespace()
    guard !token.isEmpty else { fail("token file \(path) is empty") }
    return token
}

/// Runs a client call, turning its error into a one-line failure.
func orFail<T>(_ body: () async throws -> T) async -> T {
    do {
        return try await body()
    } catch let error as FlatVecError {
        fail(error.description)
    } catch {
        fail("\(error)")
    }
}
