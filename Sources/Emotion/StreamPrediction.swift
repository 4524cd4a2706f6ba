/// One stream's answer for a clip: the model's raw logits and their canonical probabilities.
public struct StreamPrediction: Sendable, Equatable, Codable {
    /// The model's own labels, in output order.
    public var labels: [String]
    /// The model's raw outputs (before softmax), one per label.
    public var logits: [Float]
    /// Probabilities over `EmotionLabel.allCases`, summed over the model card's label mapping.
    public var probabilities: [Float]

    /// Builds a prediction, mapping the softmax of `logits / temperature` onto the canonical labels.
    ///
    /// - Parameters:
    ///   - labels: The model's labels in output order.
    ///   - logits: One value per label.
    ///   - mapping: Each model label's canonical label (e.g. RAVDESS `calm` → `neutral`).
    ///   - temperature: The model card's calibration (1 leaves the softmax as it is).
    public init(labels: [String], logits: [Float], mapping: [String: EmotionLabel], temperature: Double = 1) {
        precondition(labels.count == logits.count, "one logit per label")
        precondition(temperature > 0, "a positive temperature")
        self.labels = labels
        self.logits = logits
        var canonical = [Float](repeating: 0, count: EmotionLabel.allCases.count)
        for (label, probability) in zip(labels, softmax(logits.map { Float(Double($0) / temperature) })) {
            if let target = mapping[label] { canonical[target.index] += probability }
        }
        let total = canonical.reduce(0, +)
        probabilities = total > 0 ? canonical.map { $0 / total } : canonical
    }

    /// Restores a prediction whose canonical probabilities were computed before (e.g. read from a message).
    public init(labels: [String], logits: [Float], probabilities: [Float]) {
        precondition(labels.count == logits.count && probabilities.count == EmotionLabel.allCases.count)
        self.labels = labels
        self.logits = logits
        self.probabilities = probabilities
    }

    /// The most probable canonical label.
    public var label: EmotionLabel { EmotionLabel.allCases[argmax(probabilities) ?? 0] }
    /// Its probability.
    public var confidence: Float { probabilities[label.index] }
}
