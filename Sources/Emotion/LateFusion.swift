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
    /// With both streams: how far apart their (calibrated) answers are, 0 (the same distribution) to 1 (no label
    /// both find possible); `1 - sum(sqrt(p_audio * p_video))`, one minus the Bhattacharyya coefficient.
    public var disagreement: Float?
    /// Why a stream was left out although it answered, e.g. `speaker_not_visible`: the voice belongs to nobody in view.
    public var reason: String?

    public init(probabilities: [Float], basis: FusionBasis, disagreement: Float? = nil, reason: String? = nil) {
        self.probabilities = probabilities
        self.basis = basis
        self.disagreement = disagreement
        self.reason = reason
    }

    /// Whether voice and face disagree strongly (`disagreement` at least `LateFusion.strongDisagreement`): the
    /// fused label then rests on the more confident stream and deserves a look.
    public var streamsDisagree: Bool { (disagreement ?? 0) >= LateFusion.strongDisagreement }

    public var label: EmotionLabel { EmotionLabel.allCases[argmax(probabilities) ?? 0] }
    public var confidence: Float { probabilities[label.index] }
}

/// Late fusion of the two streams' calibrated canonical probabilities: a weighted geometric mean (a weighted sum of
/// log-probabilities), renormalised. Each stream is calibrated in its serving domain and the weights come from the
/// model cards (`training/fusion/fit.py`, `Models/FUSION.md`); they are not normalised, so they also set how sharp
/// the fused distribution is (weights 1 and 1: the product of the calibrated posteriors).
/// With one stream missing it answers from the other and says so; a face stream that reads `neutral` leaves the voice
/// to decide (the fused probabilities are the voice's; basis `both`, since both streams answered, and the
/// disagreement measured as usual).
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
    /// `FusedPrediction.disagreement` from which the streams count as disagreeing strongly: on the validation
    /// pairs (`Models/FUSION.md`) 7 % of pairs, where the two streams tell different stories and the fused label
    /// rests on the more confident one.
    public static let strongDisagreement: Float = 0.5
    /// `FusedPrediction.reason` when the voice belongs to nobody in view and no face is fused with it.
    public static let speakerNotVisible = "speaker_not_visible"

    /// Fuses whatever streams are present; `nil` when neither is. With `speakerVisible` false (several faces in view,
    /// none of them speaking: a voice-over) a voice is not fused with any face.
    public func fuse(audio: StreamPrediction?, video: StreamPrediction?, speakerVisible: Bool = true) -> FusedPrediction? {
        if !speakerVisible, let audio {
            return FusedPrediction(probabilities: audio.probabilities, basis: .audioOnly, reason: Self.speakerNotVisible)
        }
        switch (audio, video) {
        case (nil, nil):
            return nil
        case (let audio?, nil):
            return FusedPrediction(probabilities: audio.probabilities, basis: .audioOnly)
        case (nil, let video?):
            return FusedPrediction(probabilities: video.probabilities, basis: .videoOnly)
        case (let audio?, let video?):
            let overlap = zip(audio.probabilities, video.probabilities).map { (Double($0) * Double($1)).squareRoot() }.reduce(0, +)
            let disagreement = Float(max(0, 1 - overlap))
            // A face that reads `neutral` saw no expression even at its apex: on video of people the face model has
            // not seen that is as often a brief or subtle expression missed as a neutral face, and as sure either way
            // (`Models/FUSION.md`), so it does not vote against a voice. A face that reads an expression votes.
            guard video.label != .neutral else {
                return FusedPrediction(probabilities: audio.probabilities, basis: .both, disagreement: disagreement)
            }
            let scores = zip(audio.probabilities, video.probabilities).map { a, v in
                audioWeight * log(max(Double(a), Self.floor)) + videoWeight * log(max(Double(v), Self.floor))
            }
            let peak = scores.max() ?? 0
            let exponentials = scores.map { exp($0 - peak) }
            let sum = exponentials.reduce(0, +)
            return FusedPrediction(probabilities: exponentials.map { Float($0 / sum) }, basis: .both, disagreement: disagreement)
        }
    }
}
