import FlatVecModel
import FlatVecProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The tokens that grant the admin and reader roles at HELLO. Several of each may be valid at once
/// (old and new overlap during a rotation), and ``replace(admin:reader:)`` swaps them while the server
/// runs: connections already authenticated keep their role.
public final class AccessTokens: Sendable {
    private let tokens: Mutex<(admin: [String], reader: [String])>
    /// Whether connections must authenticate: some token was given at start. A reload never turns
    /// authentication on or off.
    public let isRequired: Bool

    /// Creates the token sets (both empty: no authentication).
    /// - Parameters:
    ///   - admin: Tokens that grant the admin role.
    ///   - reader: Tokens that grant the reader role.
    public init(admin: [String] = [], reader: [String] = []) {
        tokens = Mutex((admin, reader))
        isRequired = !admin.isEmpty || !reader.isEmpty
    }

    /// The admin tokens in force.
    public var admin: [String] { tokens.withLock { $0.admin } }
    /// The reader tokens in force.
    public var reader: [String] { tokens.withLock { $0.reader } }

    /// The role a presented token grants (`none` for no match). Every token in force is compared,
    /// each in time that does not depend on where it differs.
    func role(for presented: String) -> Role {
        let (admin, reader) = tokens.withLock { ($0.admin, $0.reader) }
        var isAdmin = false
        var isReader = false
        for token in admin { isAdmin = tokensMatch(presented, token) || isAdmin }
        for token in reader { isReader = tokensMatch(presented, token) || isReader }
        return isAdmin ? .admin : isReader ? .reader : .none
    }

    /// Puts new token sets in force (both at once, or neither).
    /// - Throws: ``FlatVecError/Code/invalidArgument`` when the server runs without tokens, when both
    ///   sets are empty, or when a token is in both.
    public func replace(admin: [String], reader: [String]) throws(FlatVecError) {
        guard isRequired else { throw FlatVecError(.invalidArgument, "this server runs without tokens; it cannot start using them") }
        try Self.check(admin: admin, reader: reader)
        tokens.withLock { $0 = (admin, reader) }
    }

    /// Checks token sets before they are put in force.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` naming the problem.
    public static func check(admin: [String], reader: [String]) throws(FlatVecError) {
        guard !admin.isEmpty || !reader.isEmpty else { throw FlatVecError(.invalidArgument, "no token left: every connection would be refused") }
        guard Set(admin).isDisjoint(with: reader) else { throw FlatVecError(.invalidArgument, "a token may not be both an admin and a reader token") }
    }

    /// The tokens of a token file: one a line, surrounding white space ignored, blank lines skipped.
    /// - Throws: ``FlatVecError/Code/ioError`` if it cannot be read; ``FlatVecError/Code/invalidArgument``
    ///   if it holds no token, or one longer than ``HelloRequest/maximumTokenBytes`` bytes.
    public static func read(file path: String) throws(FlatVecError) -> [String] {
        guard let file = fopen(path, "r") else {
            throw FlatVecError(.ioError, "cannot read token file \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var tokens: [String] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let token = String(cString: line).trimmingWhitespace()
            guard !token.isEmpty else { continue }
            guard token.utf8.count <= HelloRequest.maximumTokenBytes else {
                throw FlatVecError(.invalidArgument, "token file \(path): a token is longer than \(HelloRequest.maximumTokenBytes) bytes")
            }
            tokens.append(token)
        }
        guard !tokens.isEmpty else { throw FlatVecError(.invalidArgument, "token file \(path) holds no token") }
        return tokens
    }
}
