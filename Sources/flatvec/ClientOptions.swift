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

    func connect() async -> FlatVecClient {
        guard let colon = server.lastIndex(of: ":"), let port = Int(server[server.index(after: colon)...]) else {
            fail("--server must be host:port, got '\(server)'")
        }
        let host = String(server[..<colon])
        do {
            return try await FlatVecClient.connect(host: host, port: port, token: token(), clientName: "flatvec-cli")
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
