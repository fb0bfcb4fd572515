import FlatVecCore
import FlatVecStorage
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL store (`flatvec serve --postgres URL`): ordinary pgvector tables are the durable copy.
///
/// Schema (version 2, migrated on start in one transaction under an advisory lock):
/// `flatvec_schema(version, applied_at)`, `flatvec_collections(name, dimension, metric, created_at)`,
/// `flatvec_attributes(collection, name, type, position)` (version 2), and per collection a table
/// `"fv_<name>"(id bigint primary key, label bigint, payload text, embedding vector(d), created_at,
/// updated_at)` plus one typed column per attribute (`boolean`, `bigint`, `double precision`, `text`).
/// A user's `SELECT id FROM "fv_products" WHERE visible AND category = 'shoes' ORDER BY embedding <#> '[...]' LIMIT 10`
/// gives FlatVec's filtered ids.
///
/// Each write is one transaction: upserts go through `COPY ... FROM STDIN (FORMAT binary)` into a
/// temporary table and one `INSERT ... ON CONFLICT DO UPDATE`. Loading streams
/// `COPY ... TO STDOUT (FORMAT binary)` straight into the index. A lost connection makes writes fail
/// with `unavailable`; the next write reconnects.
public final class PostgresStore: DurableStore, Sendable {
    private let url: String
    private let indexConfiguration: FlatIndex.Configuration
    private let logger: Logger
    private let connection: Mutex<PostgresConnection?>
    /// The URL with its password replaced by `***`, for logs.
    public let redactedURL: String
    /// This server's name in the change log (`flatvec_changes.origin`), random per process: its
    /// followers skip the changes it wrote itself, which it applied already.
    public let origin: String
    /// The change-log horizon read just before the last full load: every change below it is in the
    /// loaded indexes, so a follower starts there.
    let loadHorizon = Mutex<UInt64?>(nil)
    /// How long the change log keeps changes (servers trim it as they follow).
    public let changeLogRetention: ChangeLogRetention
    /// The attributes each collection had at its last upsert here: a small ADD is built for them and
    /// runs only if the table still has exactly these (see ``addInOneStatement(collection:batch:attributes:)``).
    private let knownAttributes = Mutex<[String: [AttributeDefinition]]>([:])

    /// Connects and applies the schema migrations.
    /// - Parameters:
    ///   - url: A libpq connection URL, e.g. `postgresql://user:password@127.0.0.1:5432/db`.
    ///   - waitForPostgres: Retry with backoff (up to about a minute) instead of failing at once.
    ///   - indexConfiguration: The tuning of the indexes it loads (search threads, chunk size).
    ///   - changeLogRetention: How long the change log keeps changes.
    ///   - logger: For connection events; the password never appears.
    /// - Throws: ``FlatVecError/Code/unavailable`` if PostgreSQL cannot be reached or migrated.
    public init(
        url: String, waitForPostgres: Bool = false, indexConfiguration: FlatIndex.Configuration = .init(),
        changeLogRetention: ChangeLogRetention = .init(), logger: Logger
    ) throws(FlatVecError) {
        self.indexConfiguration = indexConfiguration
        self.changeLogRetention = changeLogRetention
        self.url = url
        self.logger = logger
        self.redactedURL = Self.redact(url)
        self.origin = (0..<4).map { _ in String(UInt32.random(in: 0...UInt32.max), radix: 16) }.joined()
        var delay: UInt32 = 250_000
        var attempt = 0
        var opened: PostgresConnection?
        while opened == nil {
            do throws(FlatVecError) {
                opened = try Self.connect(url: url, origin: origin)
            } catch {
                attempt += 1
                guard waitForPostgres, attempt < 12 else { throw FlatVecError(.unavailable, "\(error.message) (\(Self.redact(url)))") }
                logger.notice("waiting for PostgreSQL", metadata: ["url": "\(Self.redact(url))", "attempt": "\(attempt)"])
                usleep(delay)
                delay = min(delay * 2, 8_000_000)
            }
        }
        connection = Mutex(opened)
        try withConnection { (c) throws(FlatVecError) in try Self.migrate(c) }
    }

    /// Describes the store without its password.
    public var description: String { "PostgreSQL \(redactedURL) (pgvector tables)" }

    /// The connection string with every password replaced by `***`, in each form libpq accepts: URL
    /// user info (`postgresql://u:pw@h/db`), URL query (`?password=pw`), and keyword/value
    /// (`host=h password=pw`, `password = 'p w'`).
    static func redact(_ url: String) -> String {
        var s = url
        if let scheme = s.firstRange(of: "://") {
            let rest = s[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                s = String(s[...colon]) + "***" + String(s[at...])
            }
        }
        // `password=` as a URL query parameter or a keyword: mask its value (up to `&`, or a space
        // unless quoted).
        var out = ""
        var i = s.startIndex
        while let found = s[i...].firstRange(of: "password") {
            out += s[i..<found.upperBound]
            var j = found.upperBound
            while j < s.endIndex, s[j] == " " { j = s.index(after: j) }
            guard j < s.endIndex, s[j] == "=" else {
                i = found.upperBound
                continue
            }
            j = s.index(after: j)
            while j < s.endIndex, s[j] == " " { j = s.index(after: j) }
            if j < s.endIndex, s[j] == "'" {
                j = s.index(after: j)
                while j < s.endIndex, s[j] != "'" {
                    if s[j] == "\\" { j = s.index(after: j) }
                    if j < s.endIndex { j = s.index(after: j) }
                }
                if j < s.endIndex { j = s.index(after: j) }
            } else {
                while j < s.endIndex, s[j] != "&", s[j] != " " { j = s.index(after: j) }
            }
            out += "=***"
            i = j
        }
        return out + s[i...]
    }

    static func table(_ name: String) -> String { "\"fv_\(name)\"" }

    /// Longest collection name, in bytes: its table `fv_<name>` must fit PostgreSQL's 63-byte
    /// identifiers (NAMEDATALEN - 1), which PostgreSQL would otherwise cut, so that two long names
    /// sharing their first 60 bytes would name one table.
    public static let maximumCollectionNameLength = 63 - "fv_".utf8.count

    /// Closes the connection (a later call would open a new one).
    public func close() {
        connection.withLock { $0 = nil }
    }

    /// The tables are the truth: PostgreSQL's own tools back them up.
    public func beginBackup() throws(FlatVecError) -> BackupPlan {
        throw FlatVecError(
            .invalidArgument,
            "with a PostgreSQL store the tables are the truth: back up the database with pg_dump and restore it with pg_restore (README, Operating FlatVec)"
        )
    }

    /// Reachable when a new connection answers `SELECT 1` (a connection of its own: a probe never
    /// waits behind a write).
    public func checkReachable() throws(FlatVecError) {
        do {
            try PostgresConnection(url: url).execute("SELECT 1")
        } catch {
            throw FlatVecError(.unavailable, "PostgreSQL does not answer: \(error.message)")
        }
    }

    /// Refuses names whose table name PostgreSQL would truncate.
    public func checkCollectionName(_ name: String) throws(FlatVecError) {
        guard name.utf8.count <= Self.maximumCollectionNameLength else {
            throw FlatVecError(
                .invalidArgument,
                "collection name '\(name)' is \(name.utf8.count) bytes; a PostgreSQL store holds names of at most "
                    + "\(Self.maximumCollectionNameLength) bytes (its table fv_<name> must fit PostgreSQL's 63-byte identifiers)"
            )
        }
    }

    /// Opens a connection whose writes the change log attributes to `origin`.
    static func connect(url: String, origin: String) throws(FlatVecError) -> PostgresConnection {
        let c = try PostgresConnection(url: url)
        try c.execute("SET flatvec.origin = '\(origin)'")
        return c
    }

    private func withConnection<T>(_ body: (PostgresConnection) throws(FlatVecError) -> T) throws(FlatVecError) -> T {
        try connection.withLock { slot throws(FlatVecError) -> T in
            if slot == nil || !(slot!.isHealthy) {
                slot = nil
                slot = try Self.connect(url: url, origin: origin)
                logger.info("connected to PostgreSQL", metadata: ["url": "\(redactedURL)"])
            }
            let c = slot!
            do throws(FlatVecError) {
                return try body(c)
            } catch {
                if c.isHealthy {
                    try? c.execute("ROLLBACK")
                    // The rollback may have undone the staging table's creation.
                    c.hasStagingTable = false
                } else {
                    slot = nil
                    logger.warning("lost the PostgreSQL connection; will reconnect", metadata: ["url": "\(redactedURL)"])
                }
                throw error
            }
        }
    }

    /// Runs `body` in one transaction. If the connection dies while COMMIT is on its way, the
    /// transaction may or may not have committed: that is reported as an outcome-unknown error, never
    /// as "nothing was changed". Any earlier failure aborts the transaction (nothing changed).
    private func transaction(_ body: (PostgresConnection) throws(FlatVecError) -> Void) throws(FlatVecError) {
        try withConnection { (c) throws(FlatVecError) in
            try c.execute("BEGIN")
            try body(c)
            do throws(FlatVecError) {
                try c.execute("COMMIT")
            } catch where !c.isHealthy && error.sqlState == nil {
                // No answer to the COMMIT: it may have committed. (An answer with a SQLSTATE, such as a
                // terminated backend's, means it did not.)
                throw FlatVecError.outcomeUnknown("the connection to PostgreSQL was lost during COMMIT (\(error.message))")
            }
        }
    }

    static let migrations: [String] = [
        """
        CREATE EXTENSION IF NOT EXISTS vector;
        CREATE TABLE flatvec_collections (
            name text PRIMARY KEY,
            dimension integer NOT NULL CHECK (dimension BETWEEN 1 AND 16000),
            metric text NOT NULL CHECK (metric IN ('ip', 'cosine')),
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """,
        """
        CREATE TABLE flatvec_attributes (
            collection text NOT NULL REFERENCES flatvec_collections (name) ON DELETE CASCADE,
            name text NOT NULL,
            type text NOT NULL CHECK (type IN ('bool', 'int64', 'float64', 'keyword')),
            position bigserial NOT NULL,
            PRIMARY KEY (collection, name)
        );
        """,
        changeLogMigration,
    ]

    /// The PostgreSQL column type of an attribute type.
    static func columnType(_ type: AttributeType) -> String {
        switch type {
        case .bool: "boolean"
        case .int64: "bigint"
        case .float64: "double precision"
        case .keyword: "text"
        }
    }

    /// The attributes of a collection, in declaration order.
    func attributes(of collection: String, on c: PostgresConnection) throws(FlatVecError) -> [AttributeDefinition] {
        var result: [AttributeDefinition] = []
        for row in try c.query("SELECT name, type FROM flatvec_attributes WHERE collection = $1 ORDER BY position", [collection]) {
            guard let name = row[0], let type = AttributeType(name: row[1] ?? "") else {
                throw FlatVecError(.corruptData, "flatvec_attributes holds a malformed row for \(collection)")
            }
            do {
                result.append(try AttributeDefinition(name: name, type: type))
            } catch {
                throw FlatVecError(.corruptData, "flatvec_attributes of \(collection): \(error.message)")
            }
        }
        return result
    }

    static func migrate(_ c: PostgresConnection) throws(FlatVecError) {
        try c.execute("BEGIN")
        try c.execute("SELECT pg_advisory_xact_lock(727374)")
        try c.execute("CREATE TABLE IF NOT EXISTS flatvec_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        let current = Int(try c.query("SELECT coalesce(max(version), 0) FROM flatvec_schema").first?.first??.description ?? "0") ?? 0
        for (i, sql) in migrations.enumerated() where i + 1 > current {
            try c.execute(sql)
            _ = try c.query("INSERT INTO flatvec_schema (version) VALUES ($1)", ["\(i + 1)"])
        }
        try c.execute("COMMIT")
    }

    /// Every collection, streamed from its table with binary COPY. A row the index cannot hold is
    /// skipped with a warning naming the table and id (and counted in the collection's
    /// ``NamedIndex/skippedRows``): one bad row written by another program does not stop the rest.
    public func loadCollections() throws(FlatVecError) -> [NamedIndex] {
        try withConnection { (c) throws(FlatVecError) -> [NamedIndex] in
            let (collections, horizon) = try loadAll(from: c)
            loadHorizon.withLock { $0 = horizon }
            return collections
        }
    }

    /// Every collection, and the change-log horizon read before loading them.
    func loadAll(from c: PostgresConnection) throws(FlatVecError) -> ([NamedIndex], UInt64) {
        let horizon = try Self.horizon(on: c)
        var result: [NamedIndex] = []
        for row in try c.query("SELECT name, dimension, metric FROM flatvec_collections ORDER BY name") {
            result.append(try load(row, from: c, where: nil))
        }
        return (result, horizon)
    }

    /// The oldest transaction id still running: every change below it has committed or never will.
    static func horizon(on c: PostgresConnection) throws(FlatVecError) -> UInt64 {
        guard let text = try c.query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").first?.first ?? nil,
              let value = UInt64(text)
        else { throw FlatVecError(.corruptData, "PostgreSQL returned no snapshot horizon") }
        return value
    }

    /// Loads one collection from its `flatvec_collections` row (optionally only some ids).
    /// Rows read back to be copied elsewhere (`filter` set) go into an index without int8 codes.
    func load(_ row: [String?], from c: PostgresConnection, where filter: String?) throws(FlatVecError) -> NamedIndex {
        guard let name = row[0], let dimension = Int(row[1] ?? ""), let metric = Metric(name: row[2] ?? "") else {
            throw FlatVecError(.corruptData, "flatvec_collections holds a malformed row")
        }
        let attributes = try attributes(of: name, on: c)
        var configuration = indexConfiguration.forCollection(name)
        if filter != nil { configuration.scan = .float32 }
        let index = try FlatIndex(dimension: dimension, metric: metric, configuration: configuration, attributes: attributes)
        var decoder = CopyBinaryDecoder(dimension: dimension, attributes: attributes)
        let condition = filter.map { " WHERE \($0)" } ?? ""
        let columns = (["id", "label", "payload", "embedding"] + attributes.map { "\"\($0.name)\"" }).joined(separator: ", ")
        try c.copyOut("COPY (SELECT \(columns) FROM \(Self.table(name))\(condition)) TO STDOUT (FORMAT binary)") { (chunk) throws(FlatVecError) in
            try decoder.feed(chunk)
            if decoder.pendingRows >= 8_192 { try decoder.flush(into: index) }
        }
        try decoder.flush(into: index)
        for (n, skipped) in decoder.skipped.enumerated() where n < 20 {
            logger.warning("skipped a row the index cannot hold", metadata: [
                "table": "\(Self.table(name))", "id": "\(skipped.id)", "reason": "\(skipped.reason)",
            ])
        }
        if decoder.skipped.count > 20 {
            logger.warning("skipped more rows the index cannot hold", metadata: [
                "table": "\(Self.table(name))", "rows": "\(decoder.skipped.count)",
            ])
        }
        return NamedIndex(name: name, index: index, skippedRows: decoder.skipped.count)
    }

    /// The store can be read back to reconcile writes of unknown outcome.
    public var canReadBack: Bool { true }

    /// The rows the table holds now for `ids` (rows the index could not hold are left out).
    public func fetch(collection: String, ids: [Int64]) throws(FlatVecError) -> [StoredVector] {
        guard !ids.isEmpty else { return [] }
        let loaded = try withConnection { (c) throws(FlatVecError) -> NamedIndex? in
            let rows = try c.query("SELECT name, dimension, metric FROM flatvec_collections WHERE name = $1", [collection])
            guard let row = rows.first else { return nil }
            return try load(row, from: c, where: "id = ANY('{\(ids.map(String.init).joined(separator: ","))}'::bigint[])")
        }
        guard let loaded else { return [] }
        var rows: [StoredVector] = []
        try loaded.index.forEachRow { id, label, vector, payload, attributes in
            rows.append(StoredVector(id: id, label: label, vector: Array(vector), payload: payload, attributes: attributes))
        }
        return rows
    }

    /// The collection as PostgreSQL holds it now, or nil if `flatvec_collections` has no such row.
    public func loadCollection(named name: String) throws(FlatVecError) -> NamedIndex? {
        try withConnection { (c) throws(FlatVecError) -> NamedIndex? in
            let rows = try c.query("SELECT name, dimension, metric FROM flatvec_collections WHERE name = $1", [name])
            return try rows.first.map { (row) throws(FlatVecError) in try load(row, from: c, where: nil) }
        }
    }

    /// The attributes `flatvec_attributes` declares now for a collection, or nil if
    /// `flatvec_collections` has no such row.
    public func attributes(of collection: String) throws(FlatVecError) -> [AttributeDefinition]? {
        try withConnection { (c) throws(FlatVecError) in try declaredAttributes(of: collection, on: c) }
    }

    /// ``attributes(of:)`` on a given connection.
    func declaredAttributes(of collection: String, on c: PostgresConnection) throws(FlatVecError) -> [AttributeDefinition]? {
        guard !(try c.query("SELECT 1 FROM flatvec_collections WHERE name = $1", [collection])).isEmpty else { return nil }
        return try attributes(of: collection, on: c)
    }

    /// Records a collection and its attributes, and creates its table with one column per attribute.
    public func createCollection(
        name: String, dimension: Int, metric: Metric, attributes: [AttributeDefinition]
    ) throws(FlatVecError) {
        try transaction { (c) throws(FlatVecError) in
            let columns = attributes.map { ",\n    \"\($0.name)\" \(Self.columnType($0.type))" }.joined()
            try c.execute("""
                CREATE TABLE \(Self.table(name)) (
                    id bigint PRIMARY KEY,
                    label bigint NOT NULL DEFAULT 0,
                    payload text,
                    embedding vector(\(dimension)) NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()\(columns)
                )
                """)
            // After the table: the row's trigger puts the change-log triggers on it.
            _ = try c.query("INSERT INTO flatvec_collections (name, dimension, metric) VALUES ($1, $2, $3)", [name, "\(dimension)", "\(metric)"])
            for definition in attributes {
                _ = try c.query(
                    "INSERT INTO flatvec_attributes (collection, name, type) VALUES ($1, $2, $3)",
                    [name, definition.name, "\(definition.type)"]
                )
            }
        }
    }

    /// Adds a nullable column and records the attribute.
    public func addAttribute(collection: String, definition: AttributeDefinition) throws(FlatVecError) {
        try transaction { (c) throws(FlatVecError) in
            _ = try c.query(
                "INSERT INTO flatvec_attributes (collection, name, type) VALUES ($1, $2, $3)",
                [collection, definition.name, "\(definition.type)"]
            )
            try c.execute("ALTER TABLE \(Self.table(collection)) ADD COLUMN \"\(definition.name)\" \(Self.columnType(definition.type))")
        }
    }

    /// Drops the attribute's column and record.
    public func dropAttribute(collection: String, name: String) throws(FlatVecError) {
        try transaction { (c) throws(FlatVecError) in
            _ = try c.query("DELETE FROM flatvec_attributes WHERE collection = $1 AND name = $2", [collection, name])
            try c.execute("ALTER TABLE \(Self.table(collection)) DROP COLUMN IF EXISTS \"\(name)\"")
        }
    }

    /// Applies partial updates in one transaction, one `UPDATE` per id.
    public func update(collection: String, updates: [RowUpdate]) throws(FlatVecError) {
        try transaction { (c) throws(FlatVecError) in
            let types = Dictionary(uniqueKeysWithValues: try attributes(of: collection, on: c).map { ($0.name, $0.type) })
            for update in updates {
                var assignments = ["updated_at = now()"]
                var parameters: [String?] = ["\(update.id)"]
                func assign(_ column: String, _ value: String?, cast: String) {
                    parameters.append(value)
                    assignments.append("\(column) = $\(parameters.count)::\(cast)")
                }
                if let label = update.label { assign("label", "\(label)", cast: "bigint") }
                switch update.payload {
                case .keep: break
                case .set(let payload): assign("payload", String(decoding: payload, as: UTF8.self), cast: "text")
                case .clear: assign("payload", nil, cast: "text")
                }
                for name in update.clear.sorted() {
                    guard let type = types[name] else { throw FlatVecError(.invalidArgument, "unknown attribute \"\(name)\"") }
                    assign("\"\(name)\"", nil, cast: Self.columnType(type))
                }
                for (name, value) in update.set.sorted(by: { $0.key < $1.key }) {
                    guard let type = types[name] else { throw FlatVecError(.invalidArgument, "unknown attribute \"\(name)\"") }
                    assign("\"\(name)\"", Self.text(of: value), cast: Self.columnType(type))
                }
                _ = try c.query(
                    "UPDATE \(Self.table(collection)) SET \(assignments.joined(separator: ", ")) WHERE id = $1::bigint",
                    nullable: parameters
                )
            }
        }
    }

    /// A value as PostgreSQL's text input reads it back exactly (doubles with 17 significant digits).
    static func text(of value: AttributeValue) -> String {
        switch value {
        case .bool(let b): b ? "true" : "false"
        case .int64(let i): "\(i)"
        case .float64(let d): d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : "\(d)"
        case .keyword(let k): k
        }
    }

    /// A PostgreSQL array literal of `elements` (nil: NULL), each quoted with `"` and `\\` escaped,
    /// for the element type's text input.
    static func arrayLiteral(_ elements: [String?]) -> String {
        var literal = "{"
        for (i, element) in elements.enumerated() {
            if i > 0 { literal += "," }
            guard let element else {
                literal += "NULL"
                continue
            }
            literal += "\""
            for character in element.unicodeScalars {
                if character == "\"" || character == "\\" { literal += "\\" }
                literal.unicodeScalars.append(character)
            }
            literal += "\""
        }
        return literal + "}"
    }

    /// Drops a collection's row and table.
    public func dropCollection(name: String) throws(FlatVecError) {
        try transaction { (c) throws(FlatVecError) in
            _ = try c.query("DELETE FROM flatvec_collections WHERE name = $1", [name])
            try c.execute("DROP TABLE IF EXISTS \(Self.table(name))")
        }
    }

    /// Upserts a batch in one transaction through binary COPY; a small one in one statement.
    public func add(collection: String, batch: VectorBatch) throws(FlatVecError) {
        if batch.count <= Self.statementRows, let attributes = knownAttributes.withLock({ $0[collection] }),
           try addInOneStatement(collection: collection, batch: batch, attributes: attributes) {
            return
        }
        try transaction { (c) throws(FlatVecError) in
            let attributes = try attributes(of: collection, on: c)
            knownAttributes.withLock { $0[collection] = attributes }
            if !attributes.isEmpty {
                try add(collection: collection, batch: batch, attributes: attributes, on: c)
                return
            }
            let data = CopyBinaryEncoder.encode(batch)
            if !c.hasStagingTable {
                try c.execute("CREATE TEMP TABLE IF NOT EXISTS flatvec_stage (id bigint, label bigint, payload text, embedding vector) ON COMMIT DELETE ROWS")
                c.hasStagingTable = true
            }
            try c.copyIn("COPY flatvec_stage (id, label, payload, embedding) FROM STDIN (FORMAT binary)", data: data)
            try c.execute("""
                INSERT INTO \(Self.table(collection)) AS t (id, label, payload, embedding)
                SELECT id, label, payload, embedding FROM flatvec_stage
                ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label, payload = EXCLUDED.payload,
                    embedding = EXCLUDED.embedding, updated_at = now()
                """)
        }
    }

    /// Upserts into a table with attribute columns: ADD replaces every attribute (null where absent).
    private func add(
        collection: String, batch: VectorBatch, attributes: [AttributeDefinition], on c: PostgresConnection
    ) throws(FlatVecError) {
        let quoted = attributes.map { "\"\($0.name)\"" }
        let columns = (["id", "label", "payload", "embedding"] + quoted).joined(separator: ", ")
        try c.execute("""
            CREATE TEMP TABLE flatvec_stage_attributes ON COMMIT DROP AS
            SELECT \(columns) FROM \(Self.table(collection)) WITH NO DATA
            """)
        try c.copyIn(
            "COPY flatvec_stage_attributes (\(columns)) FROM STDIN (FORMAT binary)",
            data: CopyBinaryEncoder.encode(batch, attributes: attributes)
        )
        let updates = (["label", "payload", "embedding"] + quoted).map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
        try c.execute("""
            INSERT INTO \(Self.table(collection)) AS t (\(columns))
            SELECT \(columns) FROM flatvec_stage_attributes
            ON CONFLICT (id) DO UPDATE SET \(updates), updated_at = now()
            """)
    }

    /// At most this many rows are upserted in one autocommit statement (larger batches go through a
    /// transaction and binary COPY).
    static let statementRows = 64

    /// Upserts up to ``statementRows`` rows in a single autocommit statement (one round trip instead
    /// of BEGIN, the attribute lookup, COPY into a staging table, INSERT and COMMIT; no transaction
    /// stays open across round trips, so followers reading below the oldest running transaction are
    /// not held back by it), built for `attributes`. The statement inserts nothing unless
    /// `flatvec_attributes` still lists exactly those (read in the statement's snapshot, taken after
    /// its table lock, so an attribute added or dropped meanwhile is seen).
    /// - Returns: false if it did nothing (the attributes changed, the statement failed, or a payload
    ///   that is not plain UTF-8 text): the caller takes the transaction path.
    /// - Throws: `unavailable` (nothing changed), or outcome unknown if the connection died meanwhile.
    private func addInOneStatement(collection: String, batch: VectorBatch, attributes: [AttributeDefinition]) throws(FlatVecError) -> Bool {
        var payloads: [String?] = []
        for bytes in batch.payloads {
            guard let bytes else {
                payloads.append(nil)
                continue
            }
            guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else { return false }
            payloads.append(text)
        }
        // The vectors go as one binary `vector[]` (no float printed or parsed); the rest as text arrays.
        var parameters: [PostgresConnection.Parameter] = [
            .text(Self.arrayLiteral(batch.ids.map { "\($0)" })),
            .text(Self.arrayLiteral(batch.labels.map { "\($0)" })),
            .text(Self.arrayLiteral(payloads)),
            .binary([]),
        ]
        var unnested = ["$1::bigint[]", "$2::bigint[]", "$3::text[]", "$4::vector[]"]
        for definition in attributes {
            parameters.append(.text(Self.arrayLiteral((0..<batch.count).map { r in
                (batch.attributes.isEmpty ? nil : batch.attributes[r][definition.name]).map(Self.text(of:))
            })))
            unnested.append("$\(parameters.count)::\(Self.columnType(definition.type))[]")
        }
        parameters.append(.text(collection))
        parameters.append(.text(attributes.map { "\($0.name):\($0.type)" }.joined(separator: ",")))
        let quoted = attributes.map { "\"\($0.name)\"" }
        let columns = (["id", "label", "payload", "embedding"] + quoted).joined(separator: ", ")
        let selected = (["u.id", "u.label", "u.payload", "u.embedding"] + quoted.map { "u.\($0)" }).joined(separator: ", ")
        let updates = (["label", "payload", "embedding"] + quoted).map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
        let sql = """
            INSERT INTO \(Self.table(collection)) AS t (\(columns))
            SELECT \(selected) FROM unnest(\(unnested.joined(separator: ", "))) AS u(\(columns))
            WHERE (SELECT coalesce(string_agg(name || ':' || type, ',' ORDER BY position), '') FROM flatvec_attributes
                   WHERE collection = $\(parameters.count - 1)) = $\(parameters.count)
            ON CONFLICT (id) DO UPDATE SET \(updates), updated_at = now()
            """
        // Whether a lost connection left the statement's outcome unknown: PostgreSQL answers a statement
        // it will not run (the backend terminated, the server shutting down) with an error that carries a
        // SQLSTATE, and an error answer means the statement did not commit; a connection that just
        // breaks gives no such answer.
        var unknown = false
        var lost = ""
        // nil: the connection was lost.
        func attempt() throws(FlatVecError) -> Int? {
            try withConnection { (c) throws(FlatVecError) -> Int? in
                do throws(FlatVecError) {
                    var parameters = parameters
                    parameters[3] = .binary(CopyBinaryEncoder.vectorArray(batch, vectorOID: try c.vectorTypeOID()))
                    return try c.command(sql, parameters: parameters)
                } catch where !c.isHealthy {
                    if error.sqlState == nil { unknown = true }
                    lost = error.message
                    return nil
                } catch {
                    c.forgetVectorTypeOID()
                    // The statement failed whole (a column dropped behind this server's back, ...): nothing
                    // changed; the transaction path reads the table's attributes and reports real errors.
                    return 0
                }
            }
        }
        var affected = try attempt()
        if affected == nil {
            // Usually a connection that died while idle, so the statement never left. The upsert is
            // idempotent: send it once more on a new connection, and the outcome is known either way.
            do throws(FlatVecError) {
                affected = try attempt()
            } catch {
                guard unknown else { throw error }
                throw FlatVecError.outcomeUnknown("the connection to PostgreSQL was lost during an upsert (\(lost); then \(error.message))")
            }
        }
        guard let affected else {
            guard unknown else { throw FlatVecError(.unavailable, "PostgreSQL closed the connection twice before running an upsert") }
            throw FlatVecError.outcomeUnknown("the connection to PostgreSQL was lost twice during an upsert")
        }
        if affected != batch.count { knownAttributes.withLock { $0[collection] = nil } }
        return affected == batch.count
    }

    /// Deletes ids in one transaction.
    public func remove(collection: String, ids: [Int64]) throws(FlatVecError) {
        try transaction { (c) throws(FlatVecError) in
            _ = try c.query("DELETE FROM \(Self.table(collection)) WHERE id = ANY($1::bigint[])", ["{" + ids.map(String.init).joined(separator: ",") + "}"])
        }
    }

    /// Reloads every collection from PostgreSQL (rows other programs wrote included).
    public func rebuildCollections() throws(FlatVecError) -> [NamedIndex] { try loadCollections() }

    /// A follower of the change log on a connection of its own, starting where the last full load
    /// left off.
    public func makeChangeFeed() throws(FlatVecError) -> (any ChangeFeed)? {
        PostgresChangeFeed(store: self, url: url, logger: logger)
    }
}
