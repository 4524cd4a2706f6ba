import ArgumentParser
import Emotion
import Foundation

/// The arguments every RAVDESS `evaluate` command takes.
public struct EvaluationOptions: ParsableArguments {
    @Argument(help: "Folder to search recursively.")
    public var directory: String

    @Option(name: .customLong("protocol"), help: "Scoring protocol: \(EvaluationProtocol.allCases.map(\.rawValue).joined(separator: ", ")).")
    public var evaluationProtocol: EvaluationProtocol = .canonical

    @Flag(help: "Print the report as JSON.")
    public var json = false

    @Option(help: "Also write one JSON line per example (path, truth, labels, logits, ...) to this file.")
    public var predictions: String?

    public init() {}

    /// The writer for `--predictions`, if given.
    public func predictionLog() throws -> PredictionLog? {
        try predictions.map { try PredictionLog(path: $0) }
    }

    /// The folder as a URL.
    public var folder: URL { URL(fileURLWithPath: directory) }

    /// Prints `report` as JSON or as text titled with the model and protocol.
    public func print(_ report: EvaluationReport, model: String) {
        Swift.print(json ? ReportPrinter.jsonLine(report)
                    : ReportPrinter.text(report, title: "\(model) on \(directory) (\(evaluationProtocol.rawValue))"))
    }
}

/// One JSON object per line, for `--predictions`: what each example gave, for fitting calibration and fusion.
public final class PredictionLog {
    private let handle: FileHandle

    /// Creates (or truncates) `path`.
    public init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot write \(path)")
        }
        self.handle = handle
    }

    deinit {
        try? handle.close()
    }

    public func write<Value: Encodable>(_ value: Value) {
        handle.write(Data((ReportPrinter.jsonLine(value) + "\n").utf8))
    }
}

/// One example in a `--predictions` file.
public struct PredictionRecord: Encodable {
    public var path: String
    /// The label the protocol scores against (canonical or ravdess7 name).
    public var truth: String
    public var labels: [String]
    public var logits: [Float]
    /// Face clips: the clip's face in each frame where it was found.
    public var frames: [FrameEvidence]?

    public init(path: String, truth: String, labels: [String], logits: [Float], frames: [FrameEvidence]? = nil) {
        self.path = path
        self.truth = truth
        self.labels = labels
        self.logits = logits
        self.frames = frames
    }
}
