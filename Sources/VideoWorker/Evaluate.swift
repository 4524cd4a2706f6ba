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

        @Option(help: "The model head to score (default: the card's served head).")
        var head: String?

        func run() async throws {
            let recognizer = try FaceEmotionRecognizer(modelsDirectory: try models.resolve(), head: head)
            let evaluationProtocol = options.evaluationProtocol
            let files = LabelledFiles.ravdess(under: options.folder, extensions: MediaExtensions.video)
            guard !files.isEmpty else { throw ValidationError("no RAVDESS-named video files under \(options.directory)") }
            var evaluation = Evaluation(evaluationProtocol)
            var byAggregation = Dictionary(uniqueKeysWithValues: FrameAggregation.allCases.map { ($0, Evaluation(evaluationProtocol)) })
            var detection = DetectionSummary()
            let log = try options.predictionLog()
            for (path, name) in files {
                guard let truth = evaluationProtocol.truth(name.emotion) else { continue }
                do {
                    let analysis = try recognizer.analyze(MediaSource(path), sampling: sampling.sampling)
                    evaluation.record(truth: truth, predicted: evaluationProtocol.prediction(analysis.prediction, mapping: recognizer.mapping))
                    for method in FrameAggregation.allCases {
                        guard let logits = method.clipLogits(analysis.frames, neutral: recognizer.neutralIndex) else { continue }
                        byAggregation[method]?.record(truth: truth, predicted: evaluationProtocol.prediction(
                            recognizer.prediction(logits: logits), mapping: recognizer.mapping))
                    }
                    detection.record(framesSampled: analysis.framesSampled, facesFound: analysis.facesFound, facesSeen: analysis.facesSeen,
                                     rotation: analysis.rotation, faceHeight: analysis.faceHeightFraction)
                    log?.write(PredictionRecord(path: path, truth: truth, labels: analysis.prediction.labels,
                                                logits: analysis.prediction.logits, frames: analysis.frames))
                } catch {
                    evaluation.recordFailure(path, StreamFailure(error))
                    detection.record(framesSampled: 0, facesFound: 0, facesSeen: 0, rotation: 0, faceHeight: 0)
                }
            }
            var report = evaluation.report
            report.detection = detection
            report.aggregations = Dictionary(uniqueKeysWithValues: byAggregation.map { ($0.key.rawValue, $0.value.report.accuracy) })
            options.print(report, model: recognizer.card.identifier + (recognizer.head.map { " head \($0)," } ?? "")
                          + " (frames: \(recognizer.aggregation.rawValue))")
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

        @Option(help: "Score against the FER+ majority vote from this votes file (`ferplus_votes.csv`: split, path relative to the folder's parent, then the vote counts) instead of the folder's label; images without a usable majority are skipped.")
        var ferplusVotes: String?

        @Option(help: "The model head to score (default: the card's vote head with --ferplus-votes, which predicts crowd votes, else its served head).")
        var head: String?

        @Flag(help: "Print the report as JSON.")
        var json = false

        @Option(help: "Also write one JSON line per image (path, truth, labels, logits) to this file.")
        var predictions: String?

        @OptionGroup var models: ModelOptions

        func run() async throws {
            let modelsDirectory = try models.resolve()
            let card = try ModelCard.load("fer.json", in: modelsDirectory)
            let recognizer = try FaceEmotionRecognizer(modelsDirectory: modelsDirectory, head: head ?? (ferplusVotes == nil ? nil : card.voteHead))
            let folder = URL(fileURLWithPath: directory)
            let images = LabelledFiles.faceImages(under: folder)
            guard !images.isEmpty else { throw ValidationError("no class folders with images under \(directory)") }
            let majority = try ferplusVotes.map { try FERPlusVotes(contentsOf: $0).majorities(under: folder) }
            var evaluation = Evaluation(.canonical)
            let log = try predictions.map { try PredictionLog(path: $0) }
            for (path, label) in images {
                let truth: EmotionLabel
                if let majority {
                    guard let vote = majority[URL(fileURLWithPath: path).standardizedFileURL.path] else { continue }
                    truth = vote
                } else {
                    truth = label
                }
                do {
                    let prediction = try recognizer.predict(faceImage: try GrayImage(contentsOf: path))
                    evaluation.record(truth: truth.rawValue, predicted: prediction.label.rawValue)
                    log?.write(PredictionRecord(path: path, truth: truth.rawValue, labels: prediction.labels, logits: prediction.logits))
                } catch {
                    evaluation.recordFailure(path, StreamFailure(error))
                }
            }
            let report = evaluation.report
            let labels = majority == nil ? "folder labels" : "FER+ majority"
            print(json ? ReportPrinter.jsonLine(report)
                  : ReportPrinter.text(report, title: "\(recognizer.card.identifier)\(recognizer.head.map { " head \($0)" } ?? "") on \(directory) (\(labels))"))
        }
    }
}
