import Emotion
import Testing

@Suite struct ConfusionMatrixTests {
    @Test func accuracyAndMacroF1() {
        var matrix = ConfusionMatrix(labels: ["a", "b"])
        for _ in 0..<3 { matrix.add(truth: "a", prediction: "a") }
        matrix.add(truth: "a", prediction: "b")
        matrix.add(truth: "b", prediction: "b")
        #expect(matrix.total == 5)
        #expect(matrix.accuracy == 0.8)
        // a: precision 1, recall 0.75 -> F1 6/7; b: precision 0.5, recall 1 -> F1 2/3.
        #expect(abs(matrix.macroF1 - (6.0 / 7 + 2.0 / 3) / 2) < 1e-12)
        #expect(matrix.recall[0] == 0.75)
    }

    @Test func classesWithoutExamplesDoNotCountInMacroF1() {
        var matrix = ConfusionMatrix(labels: ["a", "b", "c"])
        matrix.add(truth: "a", prediction: "a")
        #expect(matrix.macroF1 == 1)
        #expect(matrix.recall[2] == nil)
    }

    @Test func reportEncodesTheDocumentedKeys() throws {
        var matrix = ConfusionMatrix(labels: ["a"])
        matrix.add(truth: "a", prediction: "a")
        let report = EvaluationReport(matrix: matrix)
        #expect(report.n == 1 && report.accuracy == 1 && report.macroF1 == 1 && report.confusion == [[1]])
    }
}

@Suite struct EvaluationProtocolTests {
    @Test func ravdess7SkipsNeutralTakesAndKeepsCalm() {
        #expect(EvaluationProtocol.ravdess7.truth(RavdessEmotion.neutral) == nil)
        #expect(EvaluationProtocol.ravdess7.truth(RavdessEmotion.calm) == "calm")
        #expect(EvaluationProtocol.ravdess7.truth(RavdessEmotion.fearful) == "fear")
        #expect(EvaluationProtocol.canonical.truth(RavdessEmotion.calm) == "neutral")
        #expect(EvaluationProtocol.ravdess7.labels == ["angry", "calm", "disgust", "fear", "happy", "sad", "surprise"])
    }

    @Test func ravdess7IgnoresTheNeutralLogitOfARavdessModel() {
        // neutral is the overall argmax, calm second: ravdess7 must answer calm.
        let prediction = StreamPrediction(labels: ravdessLabels, logits: [5, 4, 1, 1, 1, 1, 1, 1], mapping: ravdessMapping)
        #expect(EvaluationProtocol.ravdess7.prediction(prediction, mapping: ravdessMapping) == "calm")
        #expect(EvaluationProtocol.canonical.prediction(prediction, mapping: ravdessMapping) == "neutral")
    }

    @Test func ravdess7ReadsACanonicalModelsNeutralAsCalm() {
        var logits = [Float](repeating: 0, count: 7)
        logits[EmotionLabel.neutral.index] = 4
        let prediction = StreamPrediction(labels: canonicalLabels, logits: logits, mapping: canonicalMapping)
        #expect(EvaluationProtocol.ravdess7.prediction(prediction, mapping: canonicalMapping) == "calm")
    }

    @Test func ravdess7RestrictsTheArgmaxToItsClasses() {
        let prediction = StreamPrediction(labels: ravdessLabels, logits: [9, 1, 1, 1, 1, 3, 1, 1], mapping: ravdessMapping)
        #expect(EvaluationProtocol.ravdess7.prediction(prediction, mapping: ravdessMapping) == "fear")
    }
}

@Suite struct SegmentTests {
    @Test func shortClipsAreNotSplit() {
        #expect(SegmentPlan(threshold: 60, length: 5).segments(forDuration: 59).isEmpty)
    }

    @Test func longClipsGetBackToBackWindowsEndingAtTheEnd() {
        let segments = SegmentPlan(threshold: 10, length: 5).segments(forDuration: 21.5)
        #expect(segments.map(\.start) == [0, 5, 10, 15])
        #expect(segments.last?.end == 21.5)
        #expect(segments.map(\.index) == [0, 1, 2, 3])
        let tail = SegmentPlan(threshold: 10, length: 5).segments(forDuration: 23)
        #expect(tail.count == 5 && tail.last?.duration == 3)
    }

    @Test func overlappingWindowsFollowTheHop() {
        let segments = SegmentPlan(threshold: 0, length: 4, hop: 2).segments(forDuration: 10)
        #expect(segments.map(\.start) == [0, 2, 4, 6])
        #expect(segments.last?.end == 10)
    }

    @Test func summaryCountsTimeSharesDominanceAndDisagreement() {
        func window(_ index: Int, _ fused: EmotionLabel?, _ audio: EmotionLabel?, _ video: EmotionLabel?, seconds: Double = 5) -> SegmentOutcome {
            SegmentOutcome(segment: Segment(index: index, start: Double(index) * 5, duration: seconds), fused: fused, audio: audio, video: video)
        }
        let summary = ClipSummary([
            window(0, .angry, .angry, .angry),
            window(1, .angry, .angry, .neutral),
            window(2, .sad, .sad, nil),
            window(3, nil, nil, nil),
        ])
        #expect(summary.dominant == .angry)
        #expect(abs(summary.shares[EmotionLabel.angry.index] - 2.0 / 3) < 1e-12)
        #expect(abs(summary.disagreement - 0.5) < 1e-12)
        #expect(summary.analysedSeconds == 15)
        #expect(ClipSummary([]).dominant == nil)
    }

    @Test func segmentsTravelInJobsAndResults() throws {
        let job = JobMessage(clipID: 1, batchID: 1, source: "/long.mp4", stream: .audio, segment: Segment(index: 3, start: 15, duration: 5))
        let decoded = try MessageCodec.decodeJob(MessageCodec.encode(job), limit: 1 << 20)
        #expect(decoded.segment == job.segment)
        let result = ResultMessage(job: job, outcome: .absent, model: ModelIdentity(name: "m", sha256: "s", fusionWeight: 1), worker: "w")
        #expect(result.segment?.index == 3)
        // A job without a segment (older producers) still decodes.
        let plain = #"{"schema":1,"job_id":"7C2D6A0E-7A49-4C38-9E7C-1E2B5B6F0A11","clip_id":1,"batch_id":1,"source":"/a.mp4","stream":"video","attempt":1}"#
        #expect(try MessageCodec.decodeJob(Array(plain.utf8), limit: 1 << 20).segment == nil)
    }
}
