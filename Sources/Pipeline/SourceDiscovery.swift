import Analysis
import Media
import Foundation

/// Turns the Coordinator's inputs — folders, manifests, URLs, files — into media sources.
public struct SourceDiscovery: Sendable {
    /// File extensions (lower case, no dot) counted as media when scanning folders.
    public var mediaExtensions: Set<String>
    /// Extensions read as manifests.
    public static let manifestExtensions: Set<String> = ["txt", "csv", "lst", "manifest"]
    public static let defaultMediaExtensions = MediaExtensions.video

    public init(mediaExtensions: Set<String> = SourceDiscovery.defaultMediaExtensions) {
        self.mediaExtensions = mediaExtensions
    }

    /// Why an input could not be read.
    public struct InputError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The sources named by `inputs`, in order, without duplicates.
    ///
    /// A folder is scanned recursively for files with a media extension; a `.txt`/`.lst` manifest lists one path
    /// or URL per line (`#` comments allowed), a `.csv` manifest has a `path` (or `source`/`url`) column;
    /// relative manifest entries are relative to the manifest. Any other file or an `http(s)` URL is a source.
    public func sources(from inputs: [String]) throws -> [String] {
        var seen = Set<String>()
        var found: [String] = []
        func add(_ source: String) {
            if seen.insert(source).inserted { found.append(source) }
        }
        for input in inputs {
            if isURL(input) {
                add(input)
                continue
            }
            let path = URL(fileURLWithPath: input).standardizedFileURL.path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw InputError(description: "\(input): no such file or folder")
            }
            if isDirectory.boolValue {
                scan(path).forEach(add)
            } else if Self.manifestExtensions.contains((path as NSString).pathExtension.lowercased()) {
                try manifest(path).forEach(add)
            } else {
                add(path)
            }
        }
        return found
    }

    func isURL(_ input: String) -> Bool {
        let lower = input.lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://")
    }

    func scan(_ folder: String) -> [String] {
        FileTree.regularFiles(under: URL(fileURLWithPath: folder))
            .filter { mediaExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
    }

    func manifest(_ path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw InputError(description: "\(path): cannot read the manifest")
        }
        let folder = (path as NSString).deletingLastPathComponent
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        if (path as NSString).pathExtension.lowercased() == "csv", let header = lines.first {
            let columns = Self.csvFields(header).map { $0.lowercased() }
            guard let column = ["path", "source", "url", "file"].lazy.compactMap({ columns.firstIndex(of: $0) }).first else {
                throw InputError(description: "\(path): the CSV manifest needs a 'path', 'source', 'url' or 'file' column")
            }
            lines = lines.dropFirst().compactMap { line in
                let fields = Self.csvFields(line)
                return column < fields.count ? fields[column] : nil
            }
        }
        return lines.filter { !$0.isEmpty }.map { entry in
            if isURL(entry) || entry.hasPrefix("/") { return entry }
            return URL(fileURLWithPath: folder).appendingPathComponent(entry).standardizedFileURL.path
        }
    }

    /// Splits one CSV line, honouring double-quoted fields with doubled quotes inside.
    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var iterator = line.makeIterator()
        while let character = iterator.next() {
            switch (character, quoted) {
            case ("\"", true):
                // A doubled quote inside a quoted field is a literal quote.
                var lookahead = iterator
                if lookahead.next() == "\"" { field.append("\""); iterator = lookahead } else { quoted = false }
            case ("\"", false) where field.isEmpty: quoted = true
            case (",", false): fields.append(field.trimmingCharacters(in: .whitespaces)); field = ""
            default: field.append(character)
            }
        }
        fields.append(field.trimmingCharacters(in: .whitespaces))
        return fields
    }
}
