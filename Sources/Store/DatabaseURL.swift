import Credentials
import Foundation

/// Where the database is and how to log in: a `postgresql://user:password@host:port/database?…` URL or a libpq
/// `key=value` string, handed to libpq as is. `description` masks the password.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    /// What libpq receives.
    public let connectionString: String

    /// The environment variable that names the database.
    public static let environmentKey = "ER_DATABASE_URL"
    /// The environment variable that names a file holding the database URL (a mounted secret), read when
    /// `ER_DATABASE_URL` is absent or empty.
    public static let fileEnvironmentKey = "ER_DATABASE_URL_FILE"
    /// The local stack's database (`scripts/stack up`).
    public static let localDefault = "postgresql://er:er@127.0.0.1:5433/emotions"

    /// Checks the form of `string`: a `postgresql://` (or `postgres://`) URL, or libpq `key=value` pairs.
    ///
    /// - Throws: `.invalidURL`, with the password masked.
    public init(_ string: String) throws(DatabaseError) {
        let trimmed = string.trimmingCharacters(in: .whitespacesAndNewlines)
        if let scheme = trimmed.range(of: #"^[A-Za-z][A-Za-z0-9+.-]*://"#, options: .regularExpression) {
            guard ["postgresql://", "postgres://"].contains(trimmed[scheme].lowercased()) else {
                throw DatabaseError(.invalidURL, message: "expected postgresql://user:password@host:port/database, got \(Credentials.mask(trimmed))")
            }
        } else if !trimmed.contains("=") {
            throw DatabaseError(.invalidURL, message: "expected a postgresql:// URL or libpq key=value pairs, got \(Credentials.mask(trimmed))")
        }
        connectionString = trimmed
    }

    /// The URL from `explicit`, else `$ER_DATABASE_URL`, else the file named by `$ER_DATABASE_URL_FILE` (its first
    /// non-empty line), else the local stack's.
    ///
    /// - Throws: `.invalidURL` when the URL is malformed or the file cannot be read (never a silent fall back to
    ///   another database).
    public static func resolve(_ explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(DatabaseError) -> DatabaseURL {
        let value: String?
        do {
            value = try Credentials.lookup(explicit: explicit, environmentKey: environmentKey, fileEnvironmentKey: fileEnvironmentKey,
                                           environment: environment)
        } catch {
            throw DatabaseError(.invalidURL, message: error.description)
        }
        return try DatabaseURL(value ?? localDefault)
    }

    /// The URL with its password masked, safe to log.
    public var description: String { Credentials.mask(connectionString) }
}
