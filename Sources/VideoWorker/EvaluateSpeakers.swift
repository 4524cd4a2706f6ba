import Analysis
import ArgumentParser
import CommandSupport
import Emotion
import Foundation
import Media
import Vision

extension VideoWorker {
    /// Scores the active speaker decision and each face's label on several-people composites.
    struct EvaluateSpeakers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "evaluate-speakers",
            abstract: "Score who-speaks decisions and per-face labels on composites made by scripts/speaker-composites (1 thread)."
        )

        @Argument(help: "Folder holding the composites and their manifest.csv.")
        var directory: String

        @Option(help: "Folder of the takes the composites were made from (each face's label is compared with its take's label alone).")
        var takes: String?

        @Flag(help: "Print one JSON line per composite, then the summary as JSON.")
        var json = false

        @OptionGroup var models: ModelOptions
        @OptionGroup var sampling: SamplingOptions

        func run() async throws {
            NeuralNetwork.setThreadCount(1)  // as in the worker, so the cost figures are the worker's
            let recognizer = try FaceEmotionRecognizer(modelsDirectory: try models.resolve())
            guard recognizer.speakers != nil else { throw ValidationError("the models folder has no active speaker card (asd.json)") }
            let composites = try SpeakerComposite.manifest(in: URL(fileURLWithPath: directory))
            guard !composites.isEmpty else { throw ValidationError("no composites listed in \(directory)/manifest.csv") }
            var aloneLabels: [String: String] = [:]
            if let takes {
                for take in Set(composites.flatMap(\.takes)).sorted() {
                    let path = URL(fileURLWithPath: takes).appendingPathComponent(take + ".mp4").path
                    if let analysis = try? recognizer.analyze(MediaSource(path), sampling: sampling.sampling) {
                        aloneLabels[take] = analysis.prediction.label.rawValue
                    }
                }
            }
            var evaluation = SpeakerEvaluation()
            var rows: [[String]] = []
            for composite in composites {
                do {
                    let analysis = try recognizer.analyze(MediaSource(composite.file), sampling: sampling.sampling)
                    let positions = Dictionary(analysis.faces.map { ($0.track, composite.position(ofBox: $0.box)) }) { a, _ in a }
                    let found = analysis.speaker.flatMap { positions[$0] }
                    var labels: [Int: String] = [:]
                    for face in analysis.faces.sorted(by: { $0.frames > $1.frames }) where labels[positions[face.track] ?? -1] == nil {
                        labels[positions[face.track] ?? -1] = face.prediction.label.rawValue
                    }
                    let duration = (try? MediaFile(MediaSource(composite.file)).info.duration) ?? 0
                    let speakerTime = (analysis.timings["speaker_decode"] ?? 0) + (analysis.timings["speaker_inference"] ?? 0)
                    evaluation.record(composite, speakerPosition: found, labels: labels, aloneLabels: aloneLabels,
                                      duration: duration, speakerTime: speakerTime)
                    let name = (composite.file as NSString).lastPathComponent
                    let shares = analysis.faces.map { "\(positions[$0.track] ?? -1):\(String(format: "%.2f", $0.speaking ?? 0))" }
                    rows.append([name, composite.speakerPosition.map(String.init) ?? "none", found.map(String.init) ?? "none",
                                 analysis.speakerStatus.rawValue, shares.joined(separator: " "),
                                 (0..<composite.takes.count).map { labels[$0] ?? "-" }.joined(separator: " "),
                                 String(format: "%.0f", 1000 * speakerTime)])
                    if json {
                        print(ReportPrinter.jsonLine(CompositeLine(file: name, expected: composite.speakerPosition, found: found,
                                                                   status: analysis.speakerStatus.rawValue, labels: labels.values.sorted(),
                                                                   speakerMilliseconds: 1000 * speakerTime)))
                    }
                } catch {
                    evaluation.failures += 1
                    rows.append([(composite.file as NSString).lastPathComponent, "-", "-", "FAILED: \(StreamFailure(error))", "", "", ""])
                }
            }
            if json {
                print(ReportPrinter.jsonLine(evaluation))
            } else {
                print(ReportPrinter.table(header: ["composite", "speaker", "found", "status", "speaking by position", "labels by position", "ms"],
                                          rows: rows))
                print(evaluation.summary)
            }
        }
    }
}

private struct CompositeLine: Encodable {
    var file: String
    var expected: Int?
    var found: Int?
    var status: String
    var labels: [String]
    var speakerMilliseconds: Double
}
