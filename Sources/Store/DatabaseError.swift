/// Why a database operation failed. `sqlState` is PostgreSQL's five-character code where the server gave one.
///
/// `description` names the code and SQLSTATE only; the server's message (which may quote data) is in
/// `message`, for logs at debug level.
public struct DatabaseError: Error, Sendable, Equatable, CustomStringConvertible {
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
        "\(code.rawValue)\(sqlState.map { " (SQLSTATE \($0))" } ?? ""): \(message)"
    }

    /// Whether retrying on a new connection may succeed (connection loss, server shutting down, serialization).
    public var isTransient: Bool {
        switch code {
        case .connectionFailed, .connectionLost: return true
        case .statementFailed:
            guard let sqlState else { return false }
            return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState == SQLState.serializationFailure
                || sqlState == SQLState.deadlockDetected
        case .invalidURL, .decodingFailed: return false
        }
    }
}

/// SQLSTATE codes this project reacts to.
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let adminShutdown = "57P01"
}

extension DatabaseError.Code {
    /// Lets `catch DatabaseError.Code.x` style matching work on any error.
    public static func ~= (code: Self, error: any Error) -> Bool {
        (error as? DatabaseError)?.code == code
    }
}
