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

    /// The URL from `explicit`, else `$ER_AMQP_URL`, else the local stack's.
    public static func resolve(_ explicit: String?) throws(MessagingError) -> BrokerURL {
        let environment = ProcessInfo.processInfo.environment[environmentKey]
        return try BrokerURL(explicit ?? (environment?.isEmpty == false ? environment! : localDefault))
    }

    /// The URL with the password masked, safe to log.
    public var description: String {
        let vhost = virtualHost == "/" ? "%2f" : (virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost)
        return "\(usesTLS ? "amqps" : "amqp")://\(user):***@\(host):\(port)/\(vhost)"
    }

    /// Masks the password of any URL-shaped string (`scheme://user:password@…`).
    public static func mask(_ string: String) -> String {
        guard let schemeEnd = string.range(of: "://"),
              let at = string[schemeEnd.upperBound...].firstIndex(of: "@"),
              let colon = string[schemeEnd.upperBound..<at].firstIndex(of: ":") else { return string }
        return String(string[..<string.index(after: colon)]) + "***" + String(string[at...])
    }
}
