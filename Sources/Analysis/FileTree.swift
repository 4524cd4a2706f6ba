import Foundation

/// Walks folders the way people expect of a media archive: recursively, following symbolic links to folders
/// (each real folder once), skipping hidden entries.
public enum FileTree {
    /// Regular files under `root`, sorted by path. Paths keep the spelling under `root` (links are not resolved).
    public static func regularFiles(under root: URL) -> [String] {
        var found: [String] = []
        var visited = Set<String>()
        var pending = [root.standardizedFileURL]
        let manager = FileManager.default
        while let folder = pending.popLast() {
            guard visited.insert(folder.resolvingSymlinksInPath().path).inserted,
                  let entries = try? manager.contentsOfDirectory(atPath: folder.path) else { continue }
            for entry in entries where !entry.hasPrefix(".") {
                let url = folder.appendingPathComponent(entry)
                var isDirectory: ObjCBool = false
                guard manager.fileExists(atPath: url.path, isDirectory: &isDirectory) else { continue }
                if isDirectory.boolValue {
                    pending.append(url)
                } else {
                    found.append(url.path)
                }
            }
        }
        return found.sorted()
    }
}
