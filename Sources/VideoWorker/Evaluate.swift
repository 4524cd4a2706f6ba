import Analysis
import ArgumentParser
import CommandSupport
import Emotion
import Foundation
import Media
import Vision

extension VideoWorker {
    /// Scores the face model on RAVDESS-named videos through the production decoding, face search and inference.
    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score the face model on every RAVDESS-named video under a folder (label from the name)."
        )

        @OptionGroup var options: EvaluationOptions
        @OptionGroup var models: ModelOptions
        @OptionGroup var sampling: SamplingOptions

        func run() async throws {
            let recognizer = try FaceEmotionRecognizer(modelsDirectory: try models.resolve())
            let evaluationProtocol = options.evaluationProtocol
            let files = LabelledFiles.ravdess(under: options.folder, extensions: ["mp4", "mov", "mkv", "avi", "webm"])
            guard !files.isEmpty else { throw ValidationError("no RAVDESS-named video files under \(options.directory)") }
            var evaluation = Evaluation(evaluationProtocol)
            for (path, name) in files {
                guard let truth = evaluationProtocol.truth(name.emotion) else { continue }
                do {
                    let prediction = try recognizer.analyze(MediaSource(path), sampling: sampling.sampling).prediction
                    evaluation.record(truth: truth, predicted: evaluationProtocol.prediction(prediction, mapping: recognizer.mapping))
                } catch {
                    evaluation.recordFailure(path, StreamFailure(error))
                }
            }
            options.print(evaluation.report, model: recognizer.card.identifier)
        }
    }

    /// Scores the face model on face images sorted into one folder per class (the FER2013 layout).
    struct EvaluateFaces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "evaluate-faces",
            abstract: "Score the face model on face images in one folder per class (angry, disgust, fear, happy, sad, surprise, neutral)."
        )

        @Argument(help: "Folder holding one sub-folder per class.")
        var directory: String

        @Flag(help: "Print the report as JSON.")
        var json = false

        @OptionGroup var models: ModelOptions

        func run() async throws {
            let recognizer = try FaceEmotionRecognizer(modelsDirectory: try models.resolve())
            let images = LabelledFiles.faceImages(under: URL(fileURLWithPath: directory))
            guard !images.isEmpty else { throw ValidationError("no class folders with images under \(directory)") }
            var evaluation = Evaluation(.canonical)
            for (path, label) in images {
                do {
                    let prediction = try recognizer.predict(face: try GrayImage(contentsOf: path))
                    evaluation.record(truth: label.rawValue, predicted: prediction.label.rawValue)
                } catch {
                    evaluation.recordFailure(path, StreamFailure(error))
                }
            }
            let report = evaluation.report
            print(json ? ReportPrinter.jsonLine(report)
                  : ReportPrinter.text(report, title: "\(recognizer.card.identifier) on \(directory)"))
        }
    }
}
