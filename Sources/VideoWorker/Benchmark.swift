import Analysis
import ArgumentParser
import CommandSupport
import Foundation
import Media
import Vision

extension VideoWorker {
    /// Measures the video worker's processing without the broker, side by side with decode-only.
    struct Benchmark: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time the video processing of every video under a folder against a decode-only pass of the same clips (1 thread)."
        )

        @Argument(help: "Folder of videos (searched recursively).")
        var directory: String

        @Flag(help: "Print the figures as JSON.")
        var json = false

        @OptionGroup var models: ModelOptions
        @OptionGroup var sampling: SamplingOptions

        func run() throws {
            NeuralNetwork.setThreadCount(1)
            let recognizer = try FaceEmotionRecognizer(modelsDirectory: try models.resolve())
            let clips = FileTree.regularFiles(under: URL(fileURLWithPath: directory))
                .filter { MediaExtensions.video.contains(($0 as NSString).pathExtension.lowercased()) }
            guard !clips.isEmpty else { throw ValidationError("no videos under \(directory)") }
            var timings: [[String: Double]] = []
            var workerSeconds = 0.0
            var decodeSeconds = 0.0
            var failures = 0
            for clip in clips {
                let source = MediaSource(clip)
                // Alternate the two passes clip by clip so that both see the same machine load.
                decodeSeconds += (try? measure { try MediaFile(source).decodeAllFrames() })?.seconds ?? 0
                do {
                    let (analysis, seconds) = try measure { try recognizer.analyze(source, sampling: sampling.sampling) }
                    workerSeconds += seconds
                    timings.append(analysis.timings)
                } catch {
                    failures += 1
                }
            }
            let report = BenchmarkReport(timings: timings, seconds: workerSeconds, failures: failures, decodeOnlySeconds: decodeSeconds)
            print(json ? ReportPrinter.jsonLine(report) : "video worker (no broker)\n" + report.text)
        }
    }
}
