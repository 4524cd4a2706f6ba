import Emotion
import Foundation

/// Finds labelled examples on disk for the `evaluate` commands.
public enum LabelledFiles {
    /// Every RAVDESS-named file under `directory` whose extension is in `extensions`, sorted by path.
    public static func ravdess(under directory: URL, extensions: Set<String>) -> [(path: String, name: RavdessName)] {
        FileTree.regularFiles(under: directory)
            .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .compactMap { path in RavdessName(path: path).map { (path, $0) } }
    }

    /// Images in one folder per canonical class (the FER2013 layout), sorted by path.
    public static func faceImages(under directory: URL) -> [(path: String, label: EmotionLabel)] {
        EmotionLabel.allCases.flatMap { label in
            FileTree.regularFiles(under: directory.appendingPathComponent(label.rawValue))
                .filter { ["jpg", "jpeg", "png", "bmp", "pgm"].contains(($0 as NSString).pathExtension.lowercased()) }
                .map { ($0, label) }
        }
    }
}

/// Scores one stream's predictions against labels, collecting failures by file.
public struct Evaluation: Sendable {
    public let evaluationProtocol: EvaluationProtocol
    public private(set) var matrix: ConfusionMatrix
    public private(set) var failures: [String: String] = [:]

    public init(_ evaluationProtocol: EvaluationProtocol) {
        self.evaluationProtocol = evaluationProtocol
        matrix = ConfusionMatrix(labels: evaluationProtocol.labels)
    }

    /// Records one example; `truth` is `nil` for an example the protocol skips.
    public mutating func record(truth: String?, predicted: String) {
        guard let truth else { return }
        matrix.add(truth: truth, prediction: predicted)
    }

    /// Records a file that could not be processed.
    public mutating func recordFailure(_ path: String, _ failure: StreamFailure) {
        failures[path] = failure.description
    }

    public var report: EvaluationReport { EvaluationReport(matrix: matrix, failures: failures) }
}
