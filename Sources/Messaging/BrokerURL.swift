import Foundation

/// Where the broker is and how to log in: `amqp[s]://user:password@host:port/vhost`.
public struct BrokerURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    /// The virtual host (`/` by default; `%2f` in the URL).
    public var virtualHost: String
    /// Whether to use TLS (`amqps`).
    public var usesTLS: Bool

    /// The environment variable that names the broker.
    public static let environmentKey = "ER_AMQP_URL"
    /// The local stack's broker (`scripts/stack up`).
    public static let localDefault = "amqp://er:er@127.0.0.1:5673/%2f"

    /// Parses an AMQP URL.
    public init(_ string: String) throws(MessagingError) {
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased(),
              ["amqp", "amqps"].contains(scheme), let host = components.host, !host.isEmpty else {
            throw MessagingError(.invalidURL, reason: "expected amqp[s]://user:password@host:port/vhost, got \(Self.mask(string))")
        }
        self.host = host
        usesTLS = scheme == "amqps"
        port = components.port ?? (usesTLS ? 5671 : 5672)
        user = components.user ?? "guest"
        password = components.password ?? "guest"
        let path = components.percentEncodedPath
        let encodedHost = path.hasPrefix("/") ? String(path.dropFirst()) : path
        virtualHost = encodedHost.isEmpty ? "/" : (encodedHost.removingPercentEncoding ?? encodedHost)
    }

    /// The environment variable that names a file holding the broker URL (a mounted secret), read when
    /// `ER_AMQP_URL` is absent or empty.
    public static let fileEnvironmentKey = "ER_AMQP_URL_FILE"

    /// The URL from `explicit`, else `$ER_AMQP_URL`, else the file named by `$ER_AMQP_URL_FILE`, else the local
    /// stack's.
    ///
    /// - Throws: `.invalidURL` when the URL is malformed or `$ER_AMQP_URL_FILE` cannot be read (never the
    ///   password: the message masks it).
    public static func resolve(_ explicit: String?) throws(MessagingError) -> BrokerURL {
        if let explicit { return try BrokerURL(explicit) }
        let environment = ProcessInfo.processInfo.environment
        if let value = environment[environmentKey], !value.isEmpty { return try BrokerURL(value) }
        if let path = environment[fileEnvironmentKey], !path.isEmpty {
            let value: String
            do {
                value = try readSecret(path)
            } catch {
                throw MessagingError(.invalidURL, reason: "cannot read \(fileEnvironmentKey) \(path): \(error)")
            }
            return try BrokerURL(value)
        }
        return try BrokerURL(localDefault)
    }

    /// The first non-empty line of a secret file, without surrounding white space (files written by `echo`
    /// or editors end with a newline).
    static func readSecret(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let line = text.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { !$0.isEmpty }) else {
            throw SecretFileError(reason: "the file is empty")
        }
        return line
    }

    /// The URL with the password masked, safe to log.
    public var description: String {
        let vhost = virtualHost == "/" ? "%2f" : (virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost)
        return "\(usesTLS ? "amqps" : "amqp")://\(user):***@\(host):\(port)/\(vhost)"
    }

    /// Masks the password of any URL-shaped string (`scheme://user:password@…`), up to the last `@` so that a
    /// password with a stray `@` is still hidden whole (masking too much is harmless in a log).
    public static func mask(_ string: String) -> String {
        guard let schemeEnd = string.range(of: "://"),
              let at = string[schemeEnd.upperBound...].lastIndex(of: "@"),
              let colon = string[schemeEnd.upperBound..<at].firstIndex(of: ":") else { return string }
        return String(string[..<string.index(after: colon)]) + "***" + String(string[at...])
    }
}

/// Why a secret file could not be used.
struct SecretFileError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
