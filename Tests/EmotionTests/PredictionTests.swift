import Emotion
import Testing

let ravdessLabels = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
let ravdessMapping: [String: EmotionLabel] = Dictionary(uniqueKeysWithValues: ravdessLabels.enumerated().map { index, label in
    (label, RavdessEmotion(rawValue: index + 1)!.canonical)
})
let canonicalLabels = EmotionLabel.allCases.map(\.rawValue)
let canonicalMapping = Dictionary(uniqueKeysWithValues: EmotionLabel.allCases.map { ($0.rawValue, $0) })

@Suite struct PredictionTests {
    @Test func softmaxIsStableAndSumsToOne() {
        let probabilities = softmax([1000, 1000, 999])
        #expect(abs(probabilities.reduce(0, +) - 1) < 1e-6)
        #expect(abs(probabilities[0] - probabilities[1]) < 1e-7)
        #expect(probabilities[2] < probabilities[0])
    }

    @Test func argmaxTakesTheFirstOnTies() {
        #expect(argmax([1, 3, 3, 2]) == 1)
        #expect(argmax([Int]()) == nil)
    }

    @Test func clipLogitsAverageTheFrames() throws {
        let logits = try #require(clipLogits(frames: [[1, 2], [3, 6]]))
        #expect(logits == [2, 4])
        #expect(clipLogits(frames: []) == nil)
    }

    @Test func calmAndNeutralProbabilitiesAreSummed() {
        // neutral and calm each a bit below happy, but together above it.
        let logits: [Float] = [2, 2, 2.5, -9, -9, -9, -9, -9]
        let prediction = StreamPrediction(labels: ravdessLabels, logits: logits, mapping: ravdessMapping)
        #expect(prediction.label == .neutral)
        #expect(abs(prediction.probabilities.reduce(0, +) - 1) < 1e-5)
        let raw = softmax(logits)
        #expect(abs(prediction.probabilities[EmotionLabel.neutral.index] - (raw[0] + raw[1])) < 1e-6)
        #expect(abs(prediction.probabilities[EmotionLabel.fear.index] - raw[5]) < 1e-9)
    }
}

@Suite struct LateFusionTests {
    let fusion = LateFusion(audioWeight: 0.6, videoWeight: 0.4)

    func prediction(peak label: EmotionLabel, strength: Float = 3) -> StreamPrediction {
        var logits = [Float](repeating: 0, count: 7)
        logits[label.index] = strength
        return StreamPrediction(labels: canonicalLabels, logits: logits, mapping: canonicalMapping)
    }

    @Test func answersFromTheOnlyStreamAndSaysSo() throws {
        let audioOnly = try #require(fusion.fuse(audio: prediction(peak: .sad), video: nil))
        #expect(audioOnly.basis == .audioOnly)
        #expect(audioOnly.label == .sad)
        let videoOnly = try #require(fusion.fuse(audio: nil, video: prediction(peak: .happy)))
        #expect(videoOnly.basis == .videoOnly)
        #expect(videoOnly.label == .happy)
        #expect(fusion.fuse(audio: nil, video: nil) == nil)
    }

    @Test func agreeingStreamsReinforceEachOther() throws {
        let fused = try #require(fusion.fuse(audio: prediction(peak: .angry), video: prediction(peak: .angry)))
        #expect(fused.basis == .both)
        #expect(fused.label == .angry)
        #expect(fused.confidence > prediction(peak: .angry).confidence)
    }

    @Test func theHeavierStreamWinsAnEvenDisagreement() throws {
        let fused = try #require(fusion.fuse(audio: prediction(peak: .angry), video: prediction(peak: .happy)))
        #expect(fused.label == .angry)
        let flipped = LateFusion(audioWeight: 0.4, videoWeight: 0.6)
        #expect(flipped.fuse(audio: prediction(peak: .angry), video: prediction(peak: .happy))?.label == .happy)
    }

    @Test func aZeroProbabilityDoesNotVetoTheOtherStream() throws {
        var logits = [Float](repeating: -200, count: 7)
        logits[EmotionLabel.sad.index] = 0
        let certain = StreamPrediction(labels: canonicalLabels, logits: logits, mapping: canonicalMapping)
        let fused = try #require(fusion.fuse(audio: certain, video: prediction(peak: .sad)))
        #expect(fused.probabilities.allSatisfy { $0.isFinite })
        #expect(fused.label == .sad)
    }
}
