/// Why a database operation failed. `sqlState` is PostgreSQL's five-character code where the server gave one.
///
/// `description` is safe to log: for a statement or decoding failure it names the code and SQLSTATE only, because
/// the server's message may quote row data; for URL and connection failures it adds the reason (built from the
/// masked URL and libpq's connection message, which hold no data). `debugDescription` always has the message.
public struct DatabaseError: Error, Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// The connection URL is malformed.
        case invalidURL = "invalid_url"
        /// The server could not be reached or refused the login.
        case connectionFailed = "connection_failed"
        /// The connection broke during a call.
        case connectionLost = "connection_lost"
        /// The server rejected a statement.
        case statementFailed = "statement_failed"
        /// A value could not be read as the expected type.
        case decodingFailed = "decoding_failed"
        /// A value could not be written as the column's type (a NaN in a JSON array).
        case encodingFailed = "encoding_failed"
        /// The database's schema is newer than this build knows (another version migrated it).
        case incompatibleSchema = "incompatible_schema"
    }

    public var code: Code
    /// SQLSTATE, e.g. `23505` for a unique violation.
    public var sqlState: String?
    public var message: String

    public init(_ code: Code, sqlState: String? = nil, message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        let head = "\(code.rawValue)\(sqlState.map { " (SQLSTATE \($0))" } ?? "")"
        switch code {
        case .invalidURL, .connectionFailed, .connectionLost, .incompatibleSchema: return "\(head): \(message)"
        case .statementFailed, .decodingFailed, .encodingFailed: return head
        }
    }

    /// Everything, the server's message included (it may quote data: for debug logs).
    public var debugDescription: String {
        "\(code.rawValue)\(sqlState.map { " (SQLSTATE \($0))" } ?? ""): \(message)"
    }

    /// Whether retrying on a new connection may succeed: connection loss, the server shutting down, a serialization
    /// failure or deadlock, and the server out of resources (class 53: disk full, out of memory, too many
    /// connections) or failing its own I/O (class 58): conditions an operator clears, after which the same
    /// statement succeeds.
    public var isTransient: Bool {
        switch code {
        case .connectionFailed, .connectionLost: return true
        case .statementFailed:
            guard let sqlState else { return false }
            return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState.hasPrefix("53") || sqlState.hasPrefix("58")
                || sqlState == SQLState.serializationFailure || sqlState == SQLState.deadlockDetected
        case .invalidURL, .decodingFailed, .encodingFailed, .incompatibleSchema: return false
        }
    }
}

/// SQLSTATE codes this project reacts to.
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let adminShutdown = "57P01"
    public static let diskFull = "53100"
}

extension DatabaseError.Code {
    /// Lets `catch DatabaseError.Code.x` style matching work on any error.
    public static func ~= (code: Self, error: any Error) -> Bool {
        (error as? DatabaseError)?.code == code
    }
}
