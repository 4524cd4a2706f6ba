import Foundation

/// Finds the folder that holds the model cards and ONNX files.
public enum ModelDirectory {
    /// The environment variable that names the models folder.
    public static let environmentKey = "ER_MODELS_DIR"

    /// The models folder: `explicit` if given, else `$ER_MODELS_DIR`, else `./Models`, else a `Models` or
    /// `share/emotion-recognition/models` folder near the executable (a build tree or an install prefix).
    public static func resolve(_ explicit: String? = nil) throws(AnalysisError) -> URL {
        if let explicit { return try checked(URL(fileURLWithPath: explicit)) }
        if let fromEnvironment = ProcessInfo.processInfo.environment[environmentKey], !fromEnvironment.isEmpty {
            return try checked(URL(fileURLWithPath: fromEnvironment))
        }
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Models")]
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(folder.appendingPathComponent("Models"))
            candidates.append(folder.appendingPathComponent("share/emotion-recognition/models"))
            folder = folder.deletingLastPathComponent()
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("ser.json").path) }) {
            return found
        }
        throw AnalysisError(.modelsNotFound, reason: "no models folder found; set \(environmentKey) or pass --models")
    }

    private static func checked(_ url: URL) throws(AnalysisError) -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AnalysisError(.modelsNotFound, reason: "\(url.path) is not a folder")
        }
        return url
    }
}
