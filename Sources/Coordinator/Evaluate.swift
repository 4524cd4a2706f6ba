import Analysis
import ArgumentParser
import CommandSupport
import Emotion
import Foundation
import Media

extension Coordinator {
    /// Scores audio-only, video-only and fused predictions on RAVDESS-named clips, in process.
    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score audio, video and fused predictions on every RAVDESS-named video under a folder (label from the name)."
        )

        @OptionGroup var options: EvaluationOptions
        @OptionGroup var models: ModelOptions
        @OptionGroup var sampling: SamplingOptions

        func run() async throws {
            let analyzer = try ClipAnalyzer(modelsDirectory: try models.resolve(), sampling: sampling.sampling)
            let evaluationProtocol = options.evaluationProtocol
            let files = LabelledFiles.ravdess(under: options.folder, extensions: MediaExtensions.video)
            guard !files.isEmpty else { throw ValidationError("no RAVDESS-named video files under \(options.directory)") }
            var audio = Evaluation(evaluationProtocol)
            var video = Evaluation(evaluationProtocol)
            var fused = Evaluation(evaluationProtocol)
            var disagreements = Disagreements()
            for (path, name) in files {
                guard let truth = evaluationProtocol.truth(name.emotion) else { continue }
                let result = analyzer.analyze(MediaSource(path))
                if let prediction = result.audio?.prediction {
                    audio.record(truth: truth, predicted: evaluationProtocol.prediction(prediction, mapping: analyzer.speech.mapping))
                } else if let failure = result.audioFailure {
                    audio.recordFailure(path, failure)
                }
                if let prediction = result.video?.prediction {
                    video.record(truth: truth, predicted: evaluationProtocol.prediction(prediction, mapping: analyzer.face.mapping))
                } else if let failure = result.videoFailure {
                    video.recordFailure(path, failure)
                }
                if let prediction = result.fused {
                    fused.record(truth: truth, predicted: evaluationProtocol.prediction(prediction))
                    if prediction.basis == .both {
                        disagreements.bothStreams += 1
                        if prediction.streamsDisagree {
                            disagreements.clips += 1
                            if evaluationProtocol.prediction(prediction) == truth { disagreements.fusedRight += 1 }
                        }
                    }
                } else if let failure = result.failure {
                    fused.recordFailure(path, failure)
                }
            }
            if options.json {
                print(ReportPrinter.jsonLine(EvaluateLine(audio: audio.report, video: video.report, fused: fused.report,
                                                          disagreements: disagreements)))
            } else {
                for (stream, evaluation) in [("audio only", audio), ("video only", video), ("fused", fused)] {
                    options.print(evaluation.report, model: stream)
                    print("")
                }
                print("voice and face disagree strongly on \(disagreements.clips) of \(disagreements.bothStreams) clips with both streams"
                      + " (fused label right on \(disagreements.fusedRight) of them)")
            }
        }
    }
}

/// Clips where voice and face disagreed strongly (`FusedPrediction.streamsDisagree`).
struct Disagreements: Encodable {
    var bothStreams = 0
    var clips = 0
    var fusedRight = 0

    enum CodingKeys: String, CodingKey {
        case bothStreams = "both_streams", clips, fusedRight = "fused_right"
    }
}

/// The `evaluate --json` line.
struct EvaluateLine: Encodable {
    var audio: EvaluationReport
    var video: EvaluationReport
    var fused: EvaluationReport
    var disagreements: Disagreements
}
