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
                } else if let failure = result.failure {
                    fused.recordFailure(path, failure)
                }
            }
            if options.json {
                print(ReportPrinter.jsonLine(["audio": audio.report, "video": video.report, "fused": fused.report]))
            } else {
                for (stream, evaluation) in [("audio only", audio), ("video only", video), ("fused", fused)] {
                    options.print(evaluation.report, model: stream)
                    print("")
                }
            }
        }
    }
}
