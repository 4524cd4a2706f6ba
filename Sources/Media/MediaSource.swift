import Foundation

/// Where media comes from: a local file or a URL that libavformat opens itself.
public struct MediaSource: Sendable, Hashable, CustomStringConvertible {
    /// The path or URL as given.
    public let location: String

    /// Creates a source from a local path or an `http(s)://` (or `file:`) URL.
    public init(_ location: String) {
        self.location = location
    }

    /// The URL scheme (`http`, `https`, `file`), or `nil` for a plain path.
    public var scheme: String? {
        guard let colon = location.firstIndex(of: ":"), location[location.startIndex..<colon].count > 1 else { return nil }
        let candidate = location[location.startIndex..<colon]
        guard candidate.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }),
              location[colon...].hasPrefix("://") || candidate.lowercased() == "file"
        else { return nil }
        return candidate.lowercased()
    }

    /// The local file path, for plain paths and `file:` URLs.
    public var localPath: String? {
        switch scheme {
        case nil: return location
        case "file": return URL(string: location)?.path
        default: return nil
        }
    }

    public var description: String { location }
}
