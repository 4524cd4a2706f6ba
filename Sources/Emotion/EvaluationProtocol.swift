/// How predictions on RAVDESS-labelled data are scored.
public enum EvaluationProtocol: String, Sendable, CaseIterable, Codable {
    /// All takes; truth mapped to the canonical labels (calm → neutral); prediction is the argmax of the
    /// canonical probabilities.
    case canonical
    /// The reference project's: neutral takes skipped; classes `angry calm disgust fear happy sad surprise`;
    /// prediction is the argmax of the logits restricted to labels that map to those classes.
    case ravdess7

    /// The classes scored, in confusion-matrix order.
    public var labels: [String] {
        switch self {
        case .canonical: EmotionLabel.allCases.map(\.rawValue)
        case .ravdess7: ["angry", "calm", "disgust", "fear", "happy", "sad", "surprise"]
        }
    }

    /// The class a RAVDESS take counts as, or `nil` when the protocol skips it.
    public func truth(_ emotion: RavdessEmotion) -> String? {
        switch self {
        case .canonical: return emotion.canonical.rawValue
        case .ravdess7:
            switch emotion {
            case .neutral: return nil
            case .calm: return "calm"
            default: return emotion.canonical.rawValue
            }
        }
    }

    /// The class a canonical-label truth counts as (FER-style data), or `nil` when skipped.
    public func truth(_ label: EmotionLabel) -> String? {
        switch self {
        case .canonical: label.rawValue
        case .ravdess7: label == .neutral ? nil : label.rawValue
        }
    }

    /// The predicted class for one stream's output under this protocol.
    public func prediction(_ prediction: StreamPrediction, mapping: [String: EmotionLabel]) -> String {
        switch self {
        case .canonical:
            return prediction.label.rawValue
        case .ravdess7:
            let hasCalm = prediction.labels.contains(RavdessEmotion.calm.name)
            var best: (label: String, logit: Float)?
            for (label, logit) in zip(prediction.labels, prediction.logits) {
                guard let target = ravdess7Class(of: label, mapping: mapping, modelHasCalm: hasCalm) else { continue }
                if best == nil || logit > best!.logit { best = (target, logit) }
            }
            return best?.label ?? prediction.label.rawValue
        }
    }

    /// The predicted class from fused canonical probabilities (neutral reads as calm under `ravdess7`).
    public func prediction(_ fused: FusedPrediction) -> String {
        switch self {
        case .canonical: return fused.label.rawValue
        case .ravdess7: return fused.label == .neutral ? "calm" : fused.label.rawValue
        }
    }

    /// A model label's `ravdess7` class: `calm` stays calm; `neutral` is calm only for a model without `calm`
    /// (a canonical-label model), and is excluded otherwise.
    private func ravdess7Class(of label: String, mapping: [String: EmotionLabel], modelHasCalm: Bool) -> String? {
        if label == RavdessEmotion.calm.name { return "calm" }
        guard let canonical = mapping[label] else { return nil }
        if canonical == .neutral { return modelHasCalm ? nil : "calm" }
        return canonical.rawValue
    }
}

/// The outcome of an evaluation run, as printed by the `evaluate` commands.
public struct EvaluationReport: Sendable, Equatable, Encodable {
    public var n: Int
    public var accuracy: Double
    public var macroF1: Double
    public var labels: [String]
    public var confusion: [[Int]]
    /// Files that could not be processed, with the reason.
    public var failures: [String: String]
    /// Face stream: what the detector found.
    public var detection: DetectionSummary?
    /// Face stream: accuracy of each way of aggregating frames into a clip (`FrameAggregation` names).
    public var aggregations: [String: Double]?

    enum CodingKeys: String, CodingKey {
        case n, accuracy, macroF1 = "macro_f1", labels, confusion, failures, detection, aggregations
    }

    public init(matrix: ConfusionMatrix, failures: [String: String] = [:]) {
        n = matrix.total
        accuracy = matrix.accuracy
        macroF1 = matrix.macroF1
        labels = matrix.labels
        confusion = matrix.counts
        self.failures = failures
    }
}

/// What the face detector found over an evaluation's clips.
public struct DetectionSummary: Sendable, Equatable, Encodable {
    /// Clips analysed, and those where a face was found.
    public var clips = 0
    public var clipsWithFace = 0
    /// Sampled frames, and those showing the clip's face.
    public var framesSampled = 0
    public var framesWithFace = 0
    /// Clips by the most faces seen in one frame, and by display rotation (keys as text for JSON).
    public var facesSeen: [String: Int] = [:]
    public var rotations: [String: Int] = [:]
    /// Each clip's face height, as a fraction of the frame height, over the clips with a face.
    public private(set) var faceHeights: [Double] = []

    enum CodingKeys: String, CodingKey {
        case clips, clipsWithFace = "clips_with_face", framesSampled = "frames_sampled", framesWithFace = "frames_with_face"
        case facesSeen = "faces_seen", rotations, medianFaceHeight = "median_face_height", smallestFaceHeight = "smallest_face_height"
    }

    public init() {}

    /// Median and smallest of `faceHeights` (0 without clips with a face).
    public var medianFaceHeight: Double { faceHeights.isEmpty ? 0 : faceHeights.sorted()[faceHeights.count / 2] }
    public var smallestFaceHeight: Double { faceHeights.min() ?? 0 }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(clips, forKey: .clips)
        try container.encode(clipsWithFace, forKey: .clipsWithFace)
        try container.encode(framesSampled, forKey: .framesSampled)
        try container.encode(framesWithFace, forKey: .framesWithFace)
        try container.encode(facesSeen, forKey: .facesSeen)
        try container.encode(rotations, forKey: .rotations)
        try container.encode(medianFaceHeight, forKey: .medianFaceHeight)
        try container.encode(smallestFaceHeight, forKey: .smallestFaceHeight)
    }

    /// Share of sampled frames where the clip's face was found.
    public var faceFrameRate: Double { framesSampled > 0 ? Double(framesWithFace) / Double(framesSampled) : 0 }

    /// Records one analysed clip (`faceHeight` 0 and `facesFound` 0 when no face was found).
    public mutating func record(framesSampled sampled: Int, facesFound: Int, facesSeen seen: Int, rotation: Int, faceHeight: Double) {
        clips += 1
        framesSampled += sampled
        framesWithFace += facesFound
        facesSeen[String(seen), default: 0] += 1
        rotations[String(rotation), default: 0] += 1
        guard facesFound > 0 else { return }
        clipsWithFace += 1
        faceHeights.append(faceHeight)
    }
}
