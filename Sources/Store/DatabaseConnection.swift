internal import CLibPQ
import Foundation

/// One row of a result, as text values (`nil` for SQL NULL) with each column's kind.
public struct Row: Sendable, Equatable {
    public var columns: [String]
    public var values: [String?]
    /// Each column's kind of value, from the server's type.
    public var types: [ColumnType]

    public init(columns: [String], values: [String?], types: [ColumnType]? = nil) {
        self.columns = columns
        self.values = values
        self.types = types ?? columns.map { _ in .text }
    }

    /// The value in `column` typed for JSON: numbers as numbers, booleans as booleans, json as json, NULL as null.
    public func typedValue(at index: Int) -> TypedValue {
        guard let text = values[index] else { return .null }
        switch types[index] {
        case .integer: return Int64(text).map(TypedValue.integer) ?? .text(text)
        case .real: return Double(text).map(TypedValue.real) ?? .text(text)
        case .boolean: return .boolean(text == "t")
        case .json: return (try? JSONDecoder().decode(TypedValue.self, from: Data(text.utf8))) ?? .text(text)
        case .text: return .text(text)
        }
    }

    /// The text value of `column`, or `nil` for NULL.
    public subscript(_ column: String) -> String? {
        guard let index = columns.firstIndex(of: column) else { return nil }
        return values[index]
    }

    /// A required integer column.
    public func int(_ column: String) throws(DatabaseError) -> Int64 {
        guard let text = self[column], let value = Int64(text) else {
            throw DatabaseError(.decodingFailed, message: "column '\(column)' is not an integer")
        }
        return value
    }

    /// An optional floating-point column.
    public func double(_ column: String) -> Double? { self[column].flatMap(Double.init) }
}

/// Writes rows of one query as JSON objects (keys sorted), typed as `Row.typedValue(at:)` types them: numbers as
/// numbers, booleans as booleans, json as json, NULL as null. Works from the server's text directly (the key
/// order and the keys' text are prepared once), for exports of millions of rows.
public struct JSONRowFormatter: Sendable {
    private let order: [Int]
    private let keys: [String]

    public init(columns: [String]) {
        order = columns.indices.sorted { columns[$0] < columns[$1] }
        keys = order.enumerated().map { position, index in
            var key = position == 0 ? "{" : ","
            Self.appendString(columns[index], to: &key)
            return key + ":"
        }
    }

    /// One row as a JSON object (the row must have the columns the formatter was made for).
    public func object(_ row: Row) -> String {
        var text = ""
        text.reserveCapacity(512)
        for (position, index) in order.enumerated() {
            text += keys[position]
            guard let value = row.values[index] else {
                text += "null"
                continue
            }
            switch row.types[index] {
            case .integer where Int64(value) != nil: text += value
            case .real where Double(value)?.isFinite == true: text += value
            case .boolean: text += value == "t" ? "true" : "false"
            case .json: text += value
            default: Self.appendString(value, to: &text)
            }
        }
        return text.isEmpty ? "{}" : text + "}"
    }

    /// Appends `value` as a JSON string (quotes, backslashes and control characters escaped).
    static func appendString(_ value: String, to text: inout String) {
        text += "\""
        guard value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            text += value
            text += "\""
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20: text += String(format: "\\u%04x", scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}

/// A PostgreSQL connection through libpq. The corresponding C type is `PGconn`.
///
/// Belongs to one thread. Every statement is sent with `PQexecParams`: values travel as parameters, never
/// spliced into SQL. Owns its connection and closes it in `deinit`.
public final class DatabaseConnection {
    private var connection: OpaquePointer?
    /// Where it is connected (its `description` masks the password).
    public let url: DatabaseURL
    /// Whether `transaction` has begun one that is still open.
    private var inTransaction = false

    /// Network timeouts used unless the URL sets its own: a server that stops answering (a host gone from the
    /// network) fails a call within about a minute instead of blocking it for ever.
    static let networkDefaults: KeyValuePairs<String, String> = [
        "connect_timeout": "10", "keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10",
        "keepalives_count": "3", "tcp_user_timeout": "60000",
    ]

    /// Connects to `url`, with `networkDefaults` for what the URL leaves unset.
    public init(url: DatabaseURL) throws(DatabaseError) {
        self.url = url
        let displayURL = url.description
        // With expand_dbname, the URL given as dbname is expanded in place: its settings override the defaults
        // listed before it.
        let keywords = Self.networkDefaults.map(\.key) + ["dbname"]
        let values = Self.networkDefaults.map(\.value) + [url.connectionString]
        connection = Self.withCStrings(keywords) { keywordPointers in
            Self.withCStrings(values) { valuePointers in PQconnectdbParams(keywordPointers, valuePointers, 1) }
        }
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(connection)
            self.connection = nil
            throw DatabaseError(.connectionFailed, message: "\(displayURL): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        // Server notices ("relation already exists, skipping") would go to stderr; warnings and errors still come
        // back through results.
        try query("SET client_min_messages TO warning")
    }

    deinit {
        PQfinish(connection)
    }

    /// Calls `body` with a NULL-terminated array of C strings.
    private static func withCStrings<Result>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> Result) -> Result {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return body(copies.map { UnsafePointer($0) } + [nil])
    }

    /// Whether the connection is still usable.
    public var isHealthy: Bool { connection.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Runs one statement with text parameters (`$1`, `$2`, …) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(DatabaseError) -> [Row] {
        guard let connection else { throw DatabaseError(.connectionLost, message: "connection is closed") }
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        // Without parameters the simple protocol runs the text, which may hold several statements (migrations).
        let result = parameters.isEmpty ? PQexec(connection, sql) : copies.withUnsafeBufferPointer { values in
            values.withMemoryRebound(to: UnsafePointer<CChar>?.self) { pointers in
                PQexecParams(connection, sql, Int32(parameters.count), nil, pointers.baseAddress, nil, nil, 0)
            }
        }
        defer { PQclear(result) }
        guard let result else {
            throw DatabaseError(.connectionLost, message: String(cString: PQerrorMessage(connection)))
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK:
            return []
        case PGRES_TUPLES_OK:
            let columnCount = PQnfields(result)
            let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
            let types = (0..<columnCount).map { ColumnType(oid: PQftype(result, $0)) }
            return (0..<PQntuples(result)).map { row in
                Row(columns: columns, values: (0..<columnCount).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                }, types: types)
            }
        default:
            let state = PQresultErrorField(result, er_pg_diag_sqlstate()).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            let lost = PQstatus(connection) != CONNECTION_OK
            throw DatabaseError(lost ? .connectionLost : .statementFailed, sqlState: state, message: message)
        }
    }

    /// Runs a query through a server-side cursor, handing `body` at most `fetch` rows at a time, so that memory stays
    /// the same however many rows it gives. Runs in a transaction (its own, or the one in progress). Returns the
    /// number of rows.
    @discardableResult
    public func cursor(_ sql: String, _ parameters: [String?] = [], fetch: Int, _ body: ([Row]) throws -> Void) throws -> Int {
        try transaction { database in
            try database.query("DECLARE er_rows NO SCROLL CURSOR FOR " + sql, parameters)
            var total = 0
            while true {
                let rows = try database.query("FETCH FORWARD \(max(fetch, 1)) FROM er_rows")
                if rows.isEmpty { break }
                total += rows.count
                try body(rows)
            }
            try database.query("CLOSE er_rows")
            return total
        }
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws. Inside another
    /// transaction it runs as part of that one (which commits or rolls back as a whole).
    public func transaction<Result>(_ body: (DatabaseConnection) throws -> Result) throws -> Result {
        if inTransaction { return try body(self) }
        try query("BEGIN")
        inTransaction = true
        defer { inTransaction = false }
        do {
            let result = try body(self)
            try query("COMMIT")
            return result
        } catch {
            if isHealthy { _ = try? query("ROLLBACK") }
            throw error
        }
    }
}

/// The kinds of column value a result can hold, by PostgreSQL type.
public enum ColumnType: Sendable, Equatable {
    case integer, real, boolean, json, text

    /// The kind of a built-in type OID (`pg_type.oid`): int2/int4/int8/oid, float4/float8/numeric, bool,
    /// json/jsonb; anything else is text.
    init(oid: UInt32) {
        switch oid {
        case 20, 21, 23, 26: self = .integer
        case 700, 701, 1700: self = .real
        case 16: self = .boolean
        case 114, 3802: self = .json
        default: self = .text
        }
    }
}

/// A column value for JSON output.
public indirect enum TypedValue: Sendable, Equatable, Codable {
    case null
    case integer(Int64)
    case real(Double)
    case boolean(Bool)
    case text(String)
    case array([TypedValue])
    case object([String: TypedValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .boolean(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .real(value)
        } else if let value = try? container.decode(String.self) {
            self = .text(value)
        } else if let value = try? container.decode([TypedValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: TypedValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .integer(let value): try container.encode(value)
        case .real(let value): try container.encode(value)
        case .boolean(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
