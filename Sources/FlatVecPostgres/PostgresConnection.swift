import CLibPQ
#if canImport(Glibc)
import Glibc
#endif
import FlatVecCore

/// A libpq connection. Not thread-safe: ``PostgresStore`` serialises its use. Every libpq call of
/// FlatVec is in this file.
final class PostgresConnection: @unchecked Sendable {
    // @unchecked: only ever used by one thread at a time, under PostgresStore's mutex.
    private var connection: OpaquePointer?

    /// Connects.
    /// - Throws: ``FlatVecError/Code/unavailable`` with libpq's message (which never holds the password).
    init(url: String) throws(FlatVecError) {
        connection = PQconnectdb(url)
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.message(connection)
            PQfinish(connection)
            connection = nil
            throw FlatVecError(.unavailable, "cannot connect to PostgreSQL: \(message)")
        }
        // Server notices ("relation already exists, skipping") are not errors; libpq would print them.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    /// Whether this session's temporary staging table exists (it lives as long as the connection).
    var hasStagingTable = false

    /// The OID of pgvector's `vector` type in this database, once looked up (``vectorTypeOID()``).
    private var vectorOID: UInt32?

    /// The OID of pgvector's `vector` type in this database (looked up once per connection; ``forgetVectorTypeOID()``
    /// after a statement that used it failed, in case the extension was recreated).
    func vectorTypeOID() throws(FlatVecError) -> UInt32 {
        if let vectorOID { return vectorOID }
        guard let oid = try query("SELECT 'vector'::regtype::oid").first?.first.flatMap({ $0 }).flatMap({ UInt32($0) }) else {
            throw FlatVecError(.unavailable, "PostgreSQL did not name the OID of the vector type")
        }
        vectorOID = oid
        return oid
    }

    /// Forgets the cached OID of `vector`.
    func forgetVectorTypeOID() { vectorOID = nil }

    /// A parameter of ``command(_:parameters:)``: text (nil: SQL NULL) or bytes in the type's binary form.
    enum Parameter {
        case text(String?)
        case binary([UInt8])
    }

    deinit { PQfinish(connection) }

    /// Whether the connection is usable.
    var isHealthy: Bool { connection != nil && PQstatus(connection) == CONNECTION_OK }

    private static func message(_ connection: OpaquePointer?) -> String {
        guard let c = connection, let m = PQerrorMessage(c) else { return "unknown error" }
        return oneLine(String(cString: m))
    }

    /// libpq's messages span lines ("connection to server ... failed:\n\tIs the server running ...?");
    /// errors here are one line each.
    static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The error for a failed statement, with PostgreSQL's SQLSTATE kept and mapped to a code by
    /// ``code(forSQLState:)``: a statement PostgreSQL refused is the request's fault, only a lost or
    /// refused connection makes the store `unavailable`.
    private func fail(_ result: OpaquePointer?, _ what: String) -> FlatVecError {
        var message = result.flatMap { PQresultErrorMessage($0) }.map { Self.oneLine(String(cString: $0)) } ?? ""
        if message.isEmpty { message = Self.message(connection) }
        let sqlState = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
        guard let sqlState, isHealthy else {
            return FlatVecError(.unavailable, "PostgreSQL \(what): \(message)", sqlState: sqlState)
        }
        return FlatVecError(Self.code(forSQLState: sqlState), "PostgreSQL \(what) (SQLSTATE \(sqlState)): \(message)", sqlState: sqlState)
    }

    /// The FlatVec code for a SQLSTATE, by its class (PostgreSQL's Appendix A): what the request
    /// asked for was refused (23 integrity, 42 syntax or name, 22 data, 2B/2F/38-39 routines and
    /// dependent objects) is `invalid_argument`, a table name in use (42P07) is `collection_exists`, a
    /// program limit (54) is `limit_exceeded`; the server cannot serve now (08 connection, 53
    /// resources, 57 operator intervention, 58 system, 40 rollback: serialization, deadlock) is
    /// `unavailable`; anything else is `internal`.
    static func code(forSQLState sqlState: String) -> FlatVecError.Code {
        if sqlState == "42P07" { return .collectionExists }  // duplicate_table
        switch sqlState.prefix(2) {
        case "22", "23", "2B", "2F", "38", "39", "42", "44": return .invalidArgument
        case "54": return .limitExceeded
        case "08", "40", "53", "55", "57", "58", "HV": return .unavailable
        default: return .internalError
        }
    }

    /// Runs SQL without results (several statements allowed).
    func execute(_ sql: String) throws(FlatVecError) {
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw fail(result, "failed") }
    }

    /// Runs a query with text parameters; returns rows of optional text values.
    func query(_ sql: String, _ parameters: [String] = []) throws(FlatVecError) -> [[String?]] {
        try query(sql, nullable: parameters.map { Optional($0) })
    }

    /// Runs a query with text parameters, nil ones sent as SQL NULL; returns rows of optional text values.
    func query(_ sql: String, nullable parameters: [String?]) throws(FlatVecError) -> [[String?]] {
        try run(sql, parameters).rows
    }

    /// Runs a command with text and binary parameters; returns how many rows it inserted, updated or
    /// deleted.
    func command(_ sql: String, parameters: [Parameter]) throws(FlatVecError) -> Int {
        try run(sql, parameters, prepared: false).affected
    }

    /// Runs a query with text parameters as a prepared statement of this connection (prepared at its
    /// first use here, then planned once for all calls: for statements run hundreds of times a second).
    func query(prepared sql: String, _ parameters: [String]) throws(FlatVecError) -> [[String?]] {
        try run(sql, parameters.map { .text($0) }, prepared: true).rows
    }

    /// The statements prepared on this connection, by SQL text.
    private var preparedStatements: [String: String] = [:]

    private func run(_ sql: String, _ parameters: [String?]) throws(FlatVecError) -> (rows: [[String?]], affected: Int) {
        try run(sql, parameters.map { .text($0) }, prepared: false)
    }

    private func run(_ sql: String, _ parameters: [Parameter], prepared: Bool) throws(FlatVecError) -> (rows: [[String?]], affected: Int) {
        var statement: String?
        if prepared {
            if let name = preparedStatements[sql] {
                statement = name
            } else {
                let name = "flatvec_\(preparedStatements.count)"
                let result = PQprepare(connection, name, sql, Int32(parameters.count), nil)
                defer { PQclear(result) }
                guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw fail(result, "failed to prepare a statement") }
                preparedStatements[sql] = name
                statement = name
            }
        }
        var values: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        for parameter in parameters {
            switch parameter {
            case .text(let text):
                values.append(text.map { strdup($0) } ?? nil)
                lengths.append(0)
                formats.append(0)
            case .binary(let bytes):
                let copy = malloc(max(1, bytes.count))!
                bytes.withUnsafeBytes { if let source = $0.baseAddress { _ = memcpy(copy, source, bytes.count) } }
                values.append(copy.assumingMemoryBound(to: CChar.self))
                lengths.append(Int32(bytes.count))
                formats.append(1)
            }
        }
        defer { for p in values { free(p) } }
        let result: OpaquePointer? = values.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                if let statement {
                    PQexecPrepared(connection, statement, Int32(parameters.count), values.baseAddress, lengths, formats, 0)
                } else {
                    PQexecParams(connection, sql, Int32(parameters.count), nil, values.baseAddress, lengths, formats, 0)
                }
            }
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw fail(result, "failed") }
        var rows: [[String?]] = []
        for r in 0..<PQntuples(result) {
            rows.append((0..<PQnfields(result)).map { c in
                PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c))
            })
        }
        return (rows, PQcmdTuples(result).map { Int(String(cString: $0)) ?? 0 } ?? 0)
    }

    /// Waits until PostgreSQL sends something (a notification) or `timeoutMillis` pass, then returns
    /// the channels of the notifications received (empty on a timeout).
    /// - Throws: ``FlatVecError/Code/unavailable`` if the connection is lost.
    func waitForNotifications(timeoutMillis: Int32) throws(FlatVecError) -> [String] {
        var channels = drainNotifications()
        guard channels.isEmpty else { return channels }
        var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        guard descriptor.fd >= 0 else { throw FlatVecError(.unavailable, "PostgreSQL connection lost") }
        let ready = poll(&descriptor, 1, timeoutMillis)
        if ready > 0 {
            guard PQconsumeInput(connection) == 1 else {
                throw FlatVecError(.unavailable, "PostgreSQL connection lost: \(Self.message(connection))")
            }
            channels = drainNotifications()
        }
        guard isHealthy else { throw FlatVecError(.unavailable, "PostgreSQL connection lost: \(Self.message(connection))") }
        return channels
    }

    private func drainNotifications() -> [String] {
        var channels: [String] = []
        while let notification = PQnotifies(connection) {
            channels.append(String(cString: notification.pointee.relname))
            PQfreemem(notification)
        }
        return channels
    }

    /// `COPY ... FROM STDIN` with the given bytes.
    func copyIn(_ sql: String, data: [UInt8]) throws(FlatVecError) {
        let start = PQexec(connection, sql)
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            defer { PQclear(start) }
            throw fail(start, "COPY failed to start")
        }
        PQclear(start)
        var offset = 0
        while offset < data.count {
            let n = min(1 << 20, data.count - offset)
            let rc = data.withUnsafeBytes { PQputCopyData(connection, $0.baseAddress!.assumingMemoryBound(to: CChar.self) + offset, Int32(n)) }
            guard rc == 1 else { throw FlatVecError(.unavailable, "PostgreSQL COPY: \(Self.message(connection))") }
            offset += n
        }
        guard PQputCopyEnd(connection, nil) == 1 else { throw FlatVecError(.unavailable, "PostgreSQL COPY: \(Self.message(connection))") }
        var failure: FlatVecError?
        while let result = PQgetResult(connection) {
            if PQresultStatus(result) != PGRES_COMMAND_OK { failure = fail(result, "COPY failed") }
            PQclear(result)
        }
        if let failure { throw failure }
    }

    /// `COPY ... TO STDOUT`, handing each chunk of bytes to `body`.
    func copyOut(_ sql: String, _ body: (UnsafeRawBufferPointer) throws(FlatVecError) -> Void) throws(FlatVecError) {
        let start = PQexec(connection, sql)
        guard PQresultStatus(start) == PGRES_COPY_OUT else {
            defer { PQclear(start) }
            throw fail(start, "COPY failed to start")
        }
        PQclear(start)
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(connection, &buffer, 0)
            if n == -1 { break }
            guard n >= 0, let buffer else { throw FlatVecError(.unavailable, "PostgreSQL COPY: \(Self.message(connection))") }
            defer { PQfreemem(buffer) }
            try body(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
        }
        var failure: FlatVecError?
        while let result = PQgetResult(connection) {
            if PQresultStatus(result) != PGRES_COMMAND_OK { failure = fail(result, "COPY failed") }
            PQclear(result)
        }
        if let failure { throw failure }
    }
}
