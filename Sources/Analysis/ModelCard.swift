import Emotion
import Foundation

/// The machine-readable part of a model card (`Models/<name>.json`): what the model is, how to feed it,
/// how its labels map to the canonical ones, its calibration and fusion weight.
public struct ModelCard: Sendable, Codable, Equatable {
    /// Which stream a model serves.
    public enum Task: String, Sendable, Codable {
        case speech, face
    }

    public var schema: Int
    /// Model name, e.g. `ser-cnn-v1`.
    public var name: String
    public var task: Task
    /// ONNX file name, relative to the card.
    public var onnx: String
    /// SHA-256 of the ONNX file, as written by the training code.
    public var sha256: String
    /// Output labels in order.
    public var labels: [String]
    /// Each label's canonical label name.
    public var canonical: [String: String]
    /// Front-end or preprocessing parameters (all numeric).
    public var input: [String: Double]
    /// Weight of this stream in late fusion (its log-probabilities are multiplied by it), fitted on validation data.
    public var fusionWeight: Double
    /// Temperature that calibrates the logits (`softmax(logits / temperature)`), fitted on the validation split.
    public var temperature: Double?
    /// Face models: the detector and the aligned crop the model was trained on.
    public var alignment: Alignment?
    /// Face models: how frame outputs become clip logits.
    public var aggregation: FrameAggregation?
    /// Models with several output heads: their names in output order, each giving `labels.count` logits
    /// (absent: one head).
    public var heads: [String]?
    /// The head served for clips and face images, and calibrated by `temperature` (one of `heads`).
    public var servedHead: String?
    /// The head trained on crowd votes (FER+), the one `evaluate-faces --ferplus-votes` scores by default.
    public var voteHead: String?

    /// The aligned face crop: the five landmarks (right eye, left eye, nose tip, right and left mouth corner)
    /// go to `template` in a `size` x `size` crop.
    public struct Alignment: Sendable, Codable, Equatable {
        /// The face detector's ONNX file, relative to the card.
        public var detector: String
        public var size: Int
        public var template: [[Double]]
    }

    enum CodingKeys: String, CodingKey {
        case schema, name, task, onnx, sha256, labels, canonical, input, fusionWeight = "fusion_weight"
        case temperature, alignment, aggregation, heads, servedHead = "served_head", voteHead = "vote_head"
    }

    /// A short identifier for result rows: the name and the first 12 hex digits of the hash.
    public var identifier: String { "\(name)@\(sha256.prefix(12))" }

    /// The label mapping as canonical labels; throws if a label maps to something unknown.
    public func canonicalMapping() throws(AnalysisError) -> [String: EmotionLabel] {
        var mapping: [String: EmotionLabel] = [:]
        for label in labels {
            guard let name = canonical[label], let target = EmotionLabel(rawValue: name) else {
                throw AnalysisError(.invalidModelCard, reason: "\(self.name): label '\(label)' has no canonical mapping")
            }
            mapping[label] = target
        }
        return mapping
    }

    /// A prediction from this model's logits, calibrated by the card's temperature.
    public func prediction(logits: [Float], mapping: [String: EmotionLabel]) -> StreamPrediction {
        StreamPrediction(labels: labels, logits: logits, mapping: mapping, temperature: temperature ?? 1)
    }

    /// The model's output count: `labels.count` logits per head.
    public var outputCount: Int { labels.count * max(heads?.count ?? 1, 1) }

    /// Where the logits of head `name` start in the model's output (`nil`: the served head, or the only one).
    public func headOffset(_ name: String?) throws(AnalysisError) -> Int {
        guard let heads, !heads.isEmpty else {
            guard name == nil else {
                throw AnalysisError(.invalidModelCard, reason: "\(self.name) has one head; there is no head '\(name ?? "")'")
            }
            return 0
        }
        guard let wanted = name ?? servedHead ?? heads.first, let index = heads.firstIndex(of: wanted) else {
            let asked = name ?? servedHead ?? ""
            throw AnalysisError(.invalidModelCard, reason: "\(self.name) has no head '\(asked)' (heads: \(heads.joined(separator: ", ")))")
        }
        return index * labels.count
    }

    /// A required numeric input parameter.
    func parameter(_ key: String) throws(AnalysisError) -> Double {
        guard let value = input[key] else {
            throw AnalysisError(.invalidModelCard, reason: "\(name): input parameter '\(key)' is missing")
        }
        return value
    }

    /// Loads `<directory>/<file>`.
    public static func load(_ file: String, in directory: URL) throws(AnalysisError) -> ModelCard {
        let url = directory.appendingPathComponent(file)
        do {
            let data = try Data(contentsOf: url)
            return try JSONDecoder().decode(ModelCard.self, from: data)
        } catch {
            throw AnalysisError(.invalidModelCard, reason: "\(url.path): \(error)")
        }
    }
}
