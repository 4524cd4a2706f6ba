import Analysis
import ArgumentParser
import CommandSupport
import Emotion
import Foundation
import Media

extension AudioWorker {
    /// Scores the speech model on RAVDESS-named files through the production decoding and inference.
    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score the speech model on every RAVDESS-named audio or video file under a folder (label from the name)."
        )

        @OptionGroup var options: EvaluationOptions
        @OptionGroup var models: ModelOptions

        func run() async throws {
            let recognizer = try SpeechEmotionRecognizer(modelsDirectory: try models.resolve())
            let evaluationProtocol = options.evaluationProtocol
            let files = LabelledFiles.ravdess(under: options.folder,
                                              extensions: MediaExtensions.withAudio)
            guard !files.isEmpty else { throw ValidationError("no RAVDESS-named audio or video files under \(options.directory)") }
            var evaluation = Evaluation(evaluationProtocol)
            let log = try options.predictionLog()
            for (path, name) in files {
                guard let truth = evaluationProtocol.truth(name.emotion) else { continue }
                do {
                    let prediction = try recognizer.analyze(MediaSource(path)).prediction
                    evaluation.record(truth: truth, predicted: evaluationProtocol.prediction(prediction, mapping: recognizer.mapping))
                    log?.write(PredictionRecord(path: path, truth: truth, labels: prediction.labels, logits: prediction.logits))
                } catch {
                    evaluation.recordFailure(path, StreamFailure(error))
                }
            }
            options.print(evaluation.report, model: recognizer.card.identifier)
        }
    }
}
