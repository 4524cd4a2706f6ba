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

    public init() {}

    /// The folder as a URL.
    public var folder: URL { URL(fileURLWithPath: directory) }

    /// Prints `report` as JSON or as text titled with the model and protocol.
    public func print(_ report: EvaluationReport, model: String) {
        Swift.print(json ? ReportPrinter.jsonLine(report)
                    : ReportPrinter.text(report, title: "\(model) on \(directory) (\(evaluationProtocol.rawValue))"))
    }
}
