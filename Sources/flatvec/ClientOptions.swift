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

    @Flag(name: .long, help: "Connect with TLS (also FLATVEC_TLS=1; implied by the other --tls options).")
    var tls = false

    @Option(name: .long, help: "PEM file of the CAs to trust for the server's certificate (default: FLATVEC_TLS_CA_FILE, else the system's roots).")
    var tlsCaFile: String?

    @Option(name: .long, help: "PEM client certificate, for a server that requires one (default: FLATVEC_TLS_CERT_FILE).")
    var tlsCertFile: String?

    @Option(name: .long, help: "PEM key of the client certificate (default: FLATVEC_TLS_KEY_FILE).")
    var tlsKeyFile: String?

    /// The TLS settings from the flags, then the FLATVEC_TLS* environment variables; nil for plain TCP.
    func tlsSettings() -> ClientTLS? {
        func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        let ca = tlsCaFile ?? environment("FLATVEC_TLS_CA_FILE")
        let certificate = tlsCertFile ?? environment("FLATVEC_TLS_CERT_FILE")
        let key = tlsKeyFile ?? environment("FLATVEC_TLS_KEY_FILE")
        let wanted = tls || ["1", "true", "yes"].contains(environment("FLATVEC_TLS")?.lowercased() ?? "")
        guard wanted || ca != nil || certificate != nil || key != nil else { return nil }
        if (certificate == nil) != (key == nil) { fail("--tls-cert-file and --tls-key-file go together") }
        return ClientTLS(caFile: ca, certificateFile: certificate, keyFile: key)
    }

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
            return try await FlatVecClient.connect(host: host, port: port, token: token(), clientName: "flatvec-cli", tls: tlsSettings())
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
