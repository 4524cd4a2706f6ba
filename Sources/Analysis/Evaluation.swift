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

/// The FER+ re-labelling of FER2013 (Barsoum et al. 2016): ten annotators' votes per image
/// (`ferplus_votes.csv`: split, path relative to the FER2013 folder, name, match error, then the votes for neutral,
/// happiness, surprise, sadness, anger, disgust, fear, contempt, unknown and not-a-face).
public struct FERPlusVotes: Sendable {
    /// Votes per image path (relative to the FER2013 folder), in the file's column order.
    public var votes: [String: [Double]]

    /// The vote columns for each canonical label.
    static let columns: [EmotionLabel: Int] = [.neutral: 0, .happy: 1, .surprise: 2, .sad: 3, .angry: 4, .disgust: 5, .fear: 6]
    /// contempt, unknown, not a face.
    static let unusable = [7, 8, 9]

    public init(contentsOf path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var votes: [String: [Double]] = [:]
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 14 else {
                throw AnalysisError(.emptyInput, reason: "\(path): a FER+ row has 14 fields, not \(fields.count)")
            }
            let counts = fields[4...].compactMap(Double.init)
            guard counts.count == 10 else { throw AnalysisError(.emptyInput, reason: "\(path): vote counts must be numbers") }
            votes[fields[1]] = counts
        }
        self.votes = votes
    }

    /// The majority label of one image: the most-voted canonical label (the first in canonical order on ties),
    /// or `nil` when contempt, unknown or not-a-face has at least as many votes.
    public static func majority(_ counts: [Double]) -> EmotionLabel? {
        let ranked = EmotionLabel.allCases.map { ($0, counts[columns[$0]!]) }
        guard let best = ranked.max(by: { $0.1 < $1.1 }).map({ top in ranked.first { $0.1 == top.1 }! }), best.1 > 0,
              unusable.allSatisfy({ counts[$0] < best.1 }) else { return nil }
        return best.0
    }

    /// Majority labels keyed by absolute path, for the images under `folder` (a split folder such as
    /// `fer2013/public_test`, whose parent the votes file's paths are relative to).
    public func majorities(under folder: URL) -> [String: EmotionLabel] {
        let root = folder.standardizedFileURL.deletingLastPathComponent()
        var result: [String: EmotionLabel] = [:]
        for (path, counts) in votes {
            if let label = Self.majority(counts) { result[root.appendingPathComponent(path).path] = label }
        }
        return result
    }
}
