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

    @Test func frameAggregations() throws {
        func frame(_ logits: [Float], score: Double = 0.9) -> FrameEvidence { FrameEvidence(logits: logits, detectionScore: score, faceSize: 100) }
        #expect(FrameAggregation.meanLogits.clipLogits([frame([1, 2]), frame([3, 6])]) == [2, 4])
        for method in FrameAggregation.allCases { #expect(method.clipLogits([]) == nil) }
        // The detector's weak frame counts for less.
        let weighted = try #require(FrameAggregation.detectionWeighted.clipLogits([frame([4, 0], score: 0.9), frame([0, 4], score: 0.1)]))
        #expect(weighted[0] > weighted[1])
        // An outlying frame is dropped by the trimmed mean and outvoted in probability space.
        let frames = [frame([2, 0]), frame([2.2, 0]), frame([1.8, 0]), frame([-30, 0])]
        #expect(try #require(FrameAggregation.meanLogits.clipLogits(frames))[0] < 0)
        #expect(try #require(FrameAggregation.trimmedMean.clipLogits(frames)) == [2, 0])
        let probabilities = try #require(FrameAggregation.meanProbabilities.clipLogits(frames))
        #expect(probabilities[0] > probabilities[1])
        // The most confident half: the two frames with the largest top probability.
        let confident = [frame([5, 0]), frame([0.1, 0]), frame([0, 6]), frame([0, 0.2])]
        #expect(try #require(FrameAggregation.topHalf.clipLogits(confident)) == [2.5, 3])
    }

    @Test func departureAggregationsFindTheExpressionBetweenNeutralFrames() throws {
        func frame(_ logits: [Float]) -> FrameEvidence { FrameEvidence(logits: logits, detectionScore: 0.9, faceSize: 100) }
        // A posed take: [surprise, neutral] logits; six neutral frames around three surprised ones.
        let resting = (0..<6).map { _ in frame([0, 3]) }
        let expression = (0..<3).map { _ in frame([2.5, 0]) }
        let take = Array(resting.prefix(3)) + expression + Array(resting.suffix(3))
        let mean = try #require(FrameAggregation.meanLogits.clipLogits(take, neutral: 1))
        #expect(mean[0] < mean[1])  // the mean of logits says neutral
        let weighted = try #require(FrameAggregation.baselineDeparture.clipLogits(take, neutral: 1))
        #expect(weighted[0] > weighted[1])
        #expect(try #require(FrameAggregation.peakDeparture.clipLogits(take, neutral: 1)) == [2.5, 0])
        // A face that never moves is weighed evenly: the same answer as the mean.
        let steady = (0..<6).map { _ in frame([1, 2]) }
        #expect(FrameAggregation.baselineDeparture.clipLogits(steady, neutral: 1) == [1, 2])
        // Without a neutral output the baseline is the median frame.
        let withoutNeutral = try #require(FrameAggregation.baselineDeparture.clipLogits(take))
        #expect(withoutNeutral[0] > withoutNeutral[1])
    }

    @Test func apexReadsTheFewHundredMillisecondsOfExpression() throws {
        func frame(_ logits: [Float], at time: Double?) -> FrameEvidence {
            FrameEvidence(logits: logits, detectionScore: 0.9, faceSize: 100, time: time)
        }
        // 3 s at 10 frames per second: [surprise, neutral] logits, the expression in 3 frames (0.3 s) of 30, the
        // first of them weaker.
        let logits: [[Float]] = (0..<30).map { index -> [Float] in
            switch index {
            case 12: [1, 0]
            case 13, 14: [2.5, 0]
            default: [0, 3]
            }
        }
        let take = logits.enumerated().map { frame($0.element, at: Double($0.offset) / 10) }
        #expect(try #require(FrameAggregation.peakDeparture.clipLogits(take, neutral: 1))[0] < 1)  // diluted: neutral
        // The apex is the 0.4 s departing most: the three frames of expression and one resting frame.
        let apex = try #require(FrameAggregation.apex.clipLogits(take, neutral: 1))
        #expect(apex == [1.5, 0.75])
        #expect(FrameAggregation.apex.clipLogits(take.map { frame($0.logits, at: nil) }, neutral: 1) == apex)  // 10 fps assumed
        // At 5 frames per second the same 0.4 s is two frames: both read the expression.
        let sparse = take.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        #expect(FrameAggregation.apex.clipLogits(sparse, neutral: 1) == [1.75, 0])
        // A face that never moves reads as itself.
        #expect(FrameAggregation.apex.clipLogits((0..<10).map { frame([1, 2], at: Double($0) / 10) }, neutral: 1) == [1, 2])
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

    @Test func aVoiceOverIsNotFusedWithAnyFace() throws {
        let fused = try #require(fusion.fuse(audio: prediction(peak: .sad), video: prediction(peak: .happy, strength: 9),
                                             speakerVisible: false))
        #expect(fused.basis == .audioOnly && fused.reason == LateFusion.speakerNotVisible && fused.label == .sad)
        // With no voice there is no voice-over: the face answers.
        #expect(fusion.fuse(audio: nil, video: prediction(peak: .happy), speakerVisible: false)?.basis == .videoOnly)
        #expect(fusion.fuse(audio: prediction(peak: .sad), video: prediction(peak: .sad))?.reason == nil)
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

    @Test func aNeutralFaceLeavesTheVoiceToDecide() throws {
        // A face that reads neutral, sure or not, leaves the voice to decide; a sure face that reads an expression and
        // an unsure voice go the face's way (weights 1, 1); without a voice the face answers, neutral or not.
        let product = LateFusion(audioWeight: 1, videoWeight: 1)
        let voice = prediction(peak: .sad, strength: 2.5)
        for neutralFace in [prediction(peak: .neutral, strength: 0.8), prediction(peak: .neutral, strength: 6)] {
            let gated = try #require(product.fuse(audio: voice, video: neutralFace))
            #expect(gated.label == .sad && gated.basis == .both && gated.probabilities == voice.probabilities)
            #expect(gated.disagreement != nil)
            let faceAlone = try #require(product.fuse(audio: nil, video: neutralFace))
            #expect(faceAlone.label == .neutral && faceAlone.basis == .videoOnly)
        }
        #expect(try #require(product.fuse(audio: prediction(peak: .sad, strength: 0.5), video: prediction(peak: .surprise, strength: 3))).label == .surprise)
        // A voice that reads neutral with a face that does too: neutral.
        #expect(product.fuse(audio: prediction(peak: .neutral), video: prediction(peak: .neutral, strength: 6))?.label == .neutral)
    }

    @Test func anUnsureFaceThatReadsAnExpressionStillVotes() throws {
        // Unsure, but not neutral: evidence, weighed with the voice (the product). It tips an unsure voice; a sure
        // voice keeps its answer.
        let product = LateFusion(audioWeight: 1, videoWeight: 1)
        let unsureSurprise = prediction(peak: .surprise, strength: 0.9)
        #expect(unsureSurprise.confidence < 0.6)
        let unsureVoice = prediction(peak: .sad, strength: 0.5)
        let fused = try #require(product.fuse(audio: unsureVoice, video: unsureSurprise))
        #expect(fused.label == .surprise && fused.probabilities != unsureVoice.probabilities)
        #expect(try #require(product.fuse(audio: prediction(peak: .sad, strength: 4), video: unsureSurprise)).label == .sad)
    }

    @Test func aZeroProbabilityDoesNotVetoTheOtherStream() throws {
        var logits = [Float](repeating: -200, count: 7)
        logits[EmotionLabel.sad.index] = 0
        let certain = StreamPrediction(labels: canonicalLabels, logits: logits, mapping: canonicalMapping)
        let fused = try #require(fusion.fuse(audio: certain, video: prediction(peak: .sad)))
        #expect(fused.probabilities.allSatisfy { $0.isFinite })
        #expect(fused.label == .sad)
    }

    @Test func saysWhenTheStreamsDisagreeStrongly() throws {
        let agree = try #require(fusion.fuse(audio: prediction(peak: .angry), video: prediction(peak: .angry, strength: 2)))
        #expect((agree.disagreement ?? 1) < 0.05 && !agree.streamsDisagree)
        let clash = try #require(fusion.fuse(audio: prediction(peak: .angry, strength: 6), video: prediction(peak: .happy, strength: 6)))
        #expect((clash.disagreement ?? 0) > 0.8 && clash.streamsDisagree)
        // Two unsure streams with different favourites are not a strong disagreement.
        let unsure = try #require(fusion.fuse(audio: prediction(peak: .angry, strength: 0.5), video: prediction(peak: .happy, strength: 0.5)))
        #expect(!unsure.streamsDisagree)
        #expect(try #require(fusion.fuse(audio: prediction(peak: .sad), video: nil)).disagreement == nil)
    }

    @Test func temperatureSoftensWithoutChangingTheLabel() {
        let logits: [Float] = [3, 1, 0, 0, 0, 0, 0]
        let sharp = StreamPrediction(labels: canonicalLabels, logits: logits, mapping: canonicalMapping)
        let soft = StreamPrediction(labels: canonicalLabels, logits: logits, mapping: canonicalMapping, temperature: 2)
        #expect(soft.label == sharp.label && soft.confidence < sharp.confidence)
        #expect(abs(soft.confidence - softmax(logits.map { $0 / 2 })[0]) < 1e-6)
    }
}

@Suite struct ClipDecisionTests {
    func state(_ outcome: StreamOutcome, _ label: EmotionLabel? = nil, weight: Double = 0.5, error: String? = nil) -> StreamState {
        let prediction = label.map { label -> StreamPrediction in
            var logits = [Float](repeating: 0, count: 7)
            logits[label.index] = 4
            return StreamPrediction(labels: canonicalLabels, logits: logits, mapping: canonicalMapping)
        }
        return StreamState(outcome: outcome, prediction: prediction, fusionWeight: weight, error: error)
    }

    @Test func waitsForTheOtherStream() {
        #expect(ClipDecision.decide(audio: state(.ok, .sad), video: nil) == .waiting)
        #expect(ClipDecision.decide(audio: nil, video: state(.absent)) == .waiting)
    }

    @Test func fusesWhenOneStreamIsKnownAbsent() {
        guard case .fused(let fused) = ClipDecision.decide(audio: state(.absent, error: "no_audio_stream"), video: state(.ok, .happy)) else {
            Issue.record("expected a fused answer"); return
        }
        #expect(fused.basis == .videoOnly && fused.label == .happy)
    }

    @Test func fusesAroundAFailedStream() {
        guard case .fused(let fused) = ClipDecision.decide(audio: state(.ok, .angry), video: state(.failed, error: "truncated: x")) else {
            Issue.record("expected a fused answer"); return
        }
        #expect(fused.basis == .audioOnly && fused.label == .angry)
    }

    @Test func failsWhenNeitherStreamAnswersAndSaysWhyFailuresFirst() {
        let decision = ClipDecision.decide(audio: state(.absent, error: "silent_audio_track: silent"),
                                           video: state(.failed, error: "not_media_file: empty file"))
        #expect(decision == .failed(reason: "video: not_media_file: empty file; audio: silent_audio_track: silent"))
    }

    @Test func aFaceThatDoesNotSpeakLeavesTheVoiceAlone() {
        var video = state(.ok, .happy)
        video.speakerVisible = false
        guard case .fused(let fused) = ClipDecision.decide(audio: state(.ok, .angry), video: video) else {
            Issue.record("expected a fused answer"); return
        }
        #expect(fused.basis == .audioOnly && fused.label == .angry && fused.reason == LateFusion.speakerNotVisible)
    }

    @Test func theDecisionDoesNotDependOnArrivalOrRepeats() {
        let audio = state(.ok, .fear, weight: 0.7)
        let video = state(.ok, .surprise, weight: 0.3)
        let first = ClipDecision.decide(audio: audio, video: video)
        #expect(first == ClipDecision.decide(audio: audio, video: video))
        guard case .fused(let fused) = first else { Issue.record("expected fused"); return }
        #expect(fused.label == .fear)
    }
}

@Suite struct MessageCodecTests {
    let job = JobMessage(clipID: 7, batchID: 2, source: "/media/a b.mp4", stream: .video)

    @Test func jobsRoundTrip() throws {
        let decoded = try MessageCodec.decodeJob(MessageCodec.encode(job), limit: 1 << 20)
        #expect(decoded == job)
    }

    @Test func resultsRoundTripWithTheirPrediction() throws {
        var result = ResultMessage(job: job, outcome: .ok, model: ModelIdentity(name: "fer", sha256: "ab", fusionWeight: 0.6), worker: "h:1")
        let prediction = StreamPrediction(labels: canonicalLabels, logits: [1, 0, 0, 3, 0, 0, 0], mapping: canonicalMapping)
        result.labels = prediction.labels
        result.logits = prediction.logits
        result.probabilities = prediction.probabilities
        let decoded = try MessageCodec.decodeResult(MessageCodec.encode(result), limit: 1 << 20)
        #expect(decoded == result)
        #expect(decoded.prediction?.label == .happy)
    }

    @Test func videoResultsCarryTheirFacesAndSpeaker() throws {
        var result = ResultMessage(job: job, outcome: .ok, model: ModelIdentity(name: "fer", sha256: "ab", fusionWeight: 0.6), worker: "h:1")
        let prediction = StreamPrediction(labels: canonicalLabels, logits: [1, 0, 0, 3, 0, 0, 0], mapping: canonicalMapping)
        result.labels = prediction.labels
        result.logits = prediction.logits
        result.probabilities = prediction.probabilities
        result.faces = [FaceTrackResult(track: 0, box: [0.1, 0.2, 0.3, 0.4], start: 0, end: 2.5, frames: 12, speaking: 0.8, prediction: prediction),
                        FaceTrackResult(track: 2, box: [0.6, 0.2, 0.3, 0.4], start: 1, end: 2.5, frames: 8, speaking: nil, prediction: prediction)]
        result.speaker = 0
        result.speakerStatus = "detected"
        let decoded = try MessageCodec.decodeResult(MessageCodec.encode(result), limit: 1 << 20)
        #expect(decoded == result)
        #expect(decoded.faces?.map(\.track) == [0, 2] && decoded.faces?[0].prediction.label == .happy)
        // A result from a worker before face tracks decodes with none.
        var old = result
        old.faces = nil
        old.speaker = nil
        old.speakerStatus = nil
        #expect(try MessageCodec.decodeResult(MessageCodec.encode(old), limit: 1 << 20).faces == nil)
    }

    @Test(arguments: [
        ("{not json", "not a message"),
        ("{\"schema\": 99}", "unknown schema version 99"),
        ("{\"schema\": 1, \"clip_id\": 3}", "missing field"),
    ])
    func refusesBrokenJobs(_ body: String, _ expected: String) {
        let error = #expect(throws: MessageDecodingError.self) { try MessageCodec.decodeJob(Array(body.utf8), limit: 1 << 20) }
        #expect(error?.reason.contains(expected) == true, "\(error?.reason ?? "")")
    }

    @Test func refusesOversizedMessages() {
        let error = #expect(throws: MessageDecodingError.self) { try MessageCodec.decodeJob(MessageCodec.encode(job), limit: 10) }
        #expect(error?.reason.contains("exceeds") == true)
    }

    /// A window that is not finite and positive would overflow the worker's arithmetic: the job is refused.
    @Test(arguments: [(-1.0, 5.0), (0.0, 0.0), (0.0, -3.0)])
    func refusesJobsWithImpossibleWindows(_ start: Double, _ duration: Double) {
        var windowed = job
        windowed.segment = Segment(index: 3, start: start, duration: duration)
        #expect(throws: MessageDecodingError.self) { try MessageCodec.decodeJob(MessageCodec.encode(windowed), limit: 1 << 20) }
    }

    @Test func refusesAJobWhoseWindowOverflows() {
        let body = #"{"schema": 1, "job_id": "6F9619FF-8B86-D011-B42D-00C04FC964FF", "clip_id": 1, "batch_id": 1, "source": "/a.mp4", "#
            + #""stream": "audio", "attempt": 1, "segment": {"index": 0, "start": 0, "duration": 1e400}}"#
        #expect(throws: MessageDecodingError.self) { try MessageCodec.decodeJob(Array(body.utf8), limit: 1 << 20) }
    }

    @Test func refusesAnOkResultWithoutAPrediction() {
        let result = ResultMessage(job: job, outcome: .ok, model: ModelIdentity(name: "m", sha256: "s", fusionWeight: 1), worker: "w")
        #expect(throws: MessageDecodingError.self) { try MessageCodec.decodeResult(MessageCodec.encode(result), limit: 1 << 20) }
    }
}
