import Analysis
import ArgumentParser
import CommandSupport
import Foundation
import Media
import Vision

extension AudioWorker {
    /// Measures the audio worker's processing without the broker.
    struct Benchmark: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time the audio processing (decode, resample, front end, inference) of every media file under a folder (1 thread)."
        )

        @Argument(help: "Folder of audio or video files (searched recursively).")
        var directory: String

        @Flag(help: "Print the figures as JSON.")
        var json = false

        @OptionGroup var models: ModelOptions

        func run() throws {
            NeuralNetwork.setThreadCount(1)
            let recognizer = try SpeechEmotionRecognizer(modelsDirectory: try models.resolve())
            let files = FileTree.regularFiles(under: URL(fileURLWithPath: directory))
                .filter { MediaExtensions.withAudio.contains(($0 as NSString).pathExtension.lowercased()) }
            guard !files.isEmpty else { throw ValidationError("no media under \(directory)") }
            var timings: [[String: Double]] = []
            var seconds = 0.0
            var failures = 0
            for file in files {
                do {
                    let (analysis, elapsed) = try measure { try recognizer.analyze(MediaSource(file)) }
                    seconds += elapsed
                    timings.append(analysis.timings)
                } catch {
                    failures += 1
                }
            }
            let report = BenchmarkReport(timings: timings, seconds: seconds, failures: failures)
            print(json ? ReportPrinter.jsonLine(report) : "audio worker (no broker)\n" + report.text)
        }
    }
}
