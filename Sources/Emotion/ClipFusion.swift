/// One stream's stored outcome for a clip, as Fusion sees it.
public struct StreamState: Sendable, Equatable {
    public var outcome: StreamOutcome
    public var prediction: StreamPrediction?
    public var fusionWeight: Double
    /// `code: reason` when there is no prediction.
    public var error: String?
    /// Video: whether the voice may be fused with this face (false when several faces are in view and none speaks).
    public var speakerVisible: Bool

    public init(outcome: StreamOutcome, prediction: StreamPrediction?, fusionWeight: Double, error: String?,
                speakerVisible: Bool = true) {
        self.outcome = outcome
        self.prediction = prediction
        self.fusionWeight = fusionWeight
        self.error = error
        self.speakerVisible = speakerVisible
    }
}

/// What Fusion does for a clip once a stream result is stored.
public enum ClipDecision: Sendable, Equatable {
    /// The other stream has not reported yet.
    case waiting
    /// Both streams reported (or one is known absent) and at least one answered.
    case fused(FusedPrediction)
    /// Both streams reported and neither answered.
    case failed(reason: String)

    /// Decides from the streams stored so far. Pure and order-independent: redelivered or reordered results
    /// lead to the same decision.
    public static func decide(audio: StreamState?, video: StreamState?) -> ClipDecision {
        guard let audio, let video else { return .waiting }
        let audioPrediction = audio.outcome == .ok ? audio.prediction : nil
        let videoPrediction = video.outcome == .ok ? video.prediction : nil
        guard audioPrediction != nil || videoPrediction != nil else {
            let reasons = [("audio", audio), ("video", video)]
                .sorted { ($0.1.outcome == .failed ? 0 : 1) < ($1.1.outcome == .failed ? 0 : 1) }
                .map { "\($0.0): \($0.1.error ?? $0.1.outcome.rawValue)" }
            return .failed(reason: reasons.joined(separator: "; "))
        }
        let fusion = LateFusion(audioWeight: max(audio.fusionWeight, 1e-3), videoWeight: max(video.fusionWeight, 1e-3))
        guard let fused = fusion.fuse(audio: audioPrediction, video: videoPrediction, speakerVisible: video.speakerVisible) else {
            return .waiting
        }
        return .fused(fused)
    }
}
