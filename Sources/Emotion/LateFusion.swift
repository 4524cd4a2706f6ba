import Foundation

/// Which streams a fused answer rests on.
public enum FusionBasis: String, Sendable, Codable, Equatable {
    case both
    case audioOnly = "audio_only"
    case videoOnly = "video_only"
    /// A long clip's answer: the emotion that takes most of its analysed windows.
    case segments
}

/// The fused answer for a clip.
public struct FusedPrediction: Sendable, Equatable, Codable {
    /// Probabilities over `EmotionLabel.allCases`.
    public var probabilities: [Float]
    /// Which streams contributed.
    public var basis: FusionBasis

    public init(probabilities: [Float], basis: FusionBasis) {
        self.probabilities = probabilities
        self.basis = basis
    }

    public var label: EmotionLabel { EmotionLabel.allCases[argmax(probabilities) ?? 0] }
    public var confidence: Float { probabilities[label.index] }
}

/// Late fusion of the two streams' canonical probabilities: a weighted geometric mean (a weighted sum of
/// log-probabilities), renormalised. With one stream missing it answers from the other and says so.
public struct LateFusion: Sendable, Equatable {
    /// Weight of the speech stream (from its model card).
    public var audioWeight: Double
    /// Weight of the face stream (from its model card).
    public var videoWeight: Double

    public init(audioWeight: Double, videoWeight: Double) {
        precondition(audioWeight >= 0 && videoWeight >= 0 && audioWeight + videoWeight > 0, "weights must be non-negative, not both zero")
        self.audioWeight = audioWeight
        self.videoWeight = videoWeight
    }

    /// Probabilities below this floor are raised to it, so one stream's zero cannot veto the other.
    static let floor = 1e-6

    /// Fuses whatever streams are present; `nil` when neither is.
    public func fuse(audio: StreamPrediction?, video: StreamPrediction?) -> FusedPrediction? {
        switch (audio, video) {
        case (nil, nil):
            return nil
        case (let audio?, nil):
            return FusedPrediction(probabilities: audio.probabilities, basis: .audioOnly)
        case (nil, let video?):
            return FusedPrediction(probabilities: video.probabilities, basis: .videoOnly)
        case (let audio?, let video?):
            let total = audioWeight + videoWeight
            let scores = zip(audio.probabilities, video.probabilities).map { a, v in
                (audioWeight * log(max(Double(a), Self.floor)) + videoWeight * log(max(Double(v), Self.floor))) / total
            }
            let peak = scores.max() ?? 0
            let exponentials = scores.map { exp($0 - peak) }
            let sum = exponentials.reduce(0, +)
            return FusedPrediction(probabilities: exponentials.map { Float($0 / sum) }, basis: .both)
        }
    }
}
