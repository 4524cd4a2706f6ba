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
