import Foundation

/// Service credentials as deployments hand them over: a value in an environment variable, or a file that a secret
/// store mounts and an environment variable names. Shared by the broker and database URL types.
public enum Credentials {
    /// The value from `explicit`, else `$environmentKey`, else the first non-empty line of the file named by
    /// `$fileEnvironmentKey`; `nil` when none is set (empty variables count as unset).
    ///
    /// - Throws: `SecretFileError` when the named file is missing, unreadable or empty: never a silent fall back to
    ///   another server.
    public static func lookup(explicit: String?, environmentKey: String, fileEnvironmentKey: String,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws(SecretFileError) -> String? {
        if let explicit { return explicit }
        if let value = environment[environmentKey], !value.isEmpty { return value }
        guard let path = environment[fileEnvironmentKey], !path.isEmpty else { return nil }
        return try readSecretFile(path, variable: fileEnvironmentKey)
    }

    /// The first non-empty line of a secret file, without surrounding white space (files written by `echo` or
    /// editors end with a newline).
    public static func readSecretFile(_ path: String, variable: String) throws(SecretFileError) -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SecretFileError(variable: variable, path: path, reason: (error as NSError).localizedDescription)
        }
        guard let line = text.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { !$0.isEmpty }) else {
            throw SecretFileError(variable: variable, path: path, reason: "the file is empty")
        }
        return line
    }

    /// `string` with its passwords masked, safe to log: the `user:password@` of a URL (up to the last `@`, so that
    /// a password with a stray `@` is still hidden whole) and libpq's `password=…`.
    public static func mask(_ string: String) -> String {
        var masked = string.replacingOccurrences(of: #"(?i)(password\s*=\s*)('(\\.|[^'])*'|[^\s&]+)"#, with: "$1***",
                                                 options: .regularExpression)
        if let schemeEnd = masked.range(of: "://"),
           let at = masked[schemeEnd.upperBound...].lastIndex(of: "@"),
           let colon = masked[schemeEnd.upperBound..<at].firstIndex(of: ":") {
            masked = String(masked[..<masked.index(after: colon)]) + "***" + String(masked[at...])
        }
        return masked
    }
}

/// A secret file that names no usable value.
public struct SecretFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The environment variable that named the file.
    public var variable: String
    public var path: String
    public var reason: String

    public var description: String { "cannot read \(variable) \(path): \(reason)" }
}
