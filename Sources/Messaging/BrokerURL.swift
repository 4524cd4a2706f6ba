import Credentials
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
            throw MessagingError(.invalidURL, reason: "expected amqp[s]://user:password@host:port/vhost, got \(Credentials.mask(string))")
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
    public static func resolve(_ explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(MessagingError) -> BrokerURL {
        let value: String?
        do {
            value = try Credentials.lookup(explicit: explicit, environmentKey: environmentKey, fileEnvironmentKey: fileEnvironmentKey,
                                           environment: environment)
        } catch {
            throw MessagingError(.invalidURL, reason: error.description)
        }
        return try BrokerURL(value ?? localDefault)
    }

    /// The URL with the password masked, safe to log.
    public var description: String {
        let vhost = virtualHost == "/" ? "%2f" : (virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost)
        return "\(usesTLS ? "amqps" : "amqp")://\(user):***@\(host):\(port)/\(vhost)"
    }
}
