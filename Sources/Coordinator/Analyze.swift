import Analysis
import ArgumentParser
import CommandSupport
import Emotion
import Foundation
import Media

extension Coordinator {
    /// Both streams and fusion in process, no broker or database: the quick way to look at a few files.
    struct Analyze: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Analyse files in process (no broker, no database) and print audio, video and fused emotions."
        )

        @Argument(help: "Media files (local paths or http(s) URLs).")
        var files: [String]

        @Flag(help: "Print one JSON object per file instead of a table.")
        var json = false

        @OptionGroup var models: ModelOptions
        @OptionGroup var sampling: SamplingOptions

        func run() async throws {
            let analyzer = try ClipAnalyzer(modelsDirectory: try models.resolve(), sampling: sampling.sampling)
            var rows: [[String]] = []
            var failed = 0
            for file in files {
                let result = analyzer.analyze(MediaSource(file))
                if result.fused == nil { failed += 1 }
                if json {
                    print(ReportPrinter.jsonLine(AnalyzeLine(result)))
                } else {
                    rows.append(Self.row(result))
                }
            }
            if !json {
                print(ReportPrinter.table(
                    header: ["file", "audio", "video", "fused", "frames/faces", "faces in view (* speaks)"],
                    rows: rows
                ))
                print("audio weight \(analyzer.fusion.audioWeight) (\(analyzer.speech.card.identifier)), "
                      + "video weight \(analyzer.fusion.videoWeight) (\(analyzer.face.card.identifier))")
            }
            if failed > 0 { throw ExitCode(1) }
        }

        static func row(_ result: ClipAnalysis) -> [String] {
            func describe(_ prediction: StreamPrediction?, _ failure: StreamFailure?) -> String {
                if let prediction { return String(format: "%@ %.2f", prediction.label.rawValue, prediction.confidence) }
                return "- (\(failure?.code ?? "none"))"
            }
            let fused: String
            if let value = result.fused {
                fused = String(format: "%@ %.2f", value.label.rawValue, value.confidence)
                    + (value.basis == .both ? "" : " [\(value.basis.rawValue)\(value.reason.map { ": \($0)" } ?? "")]")
                    + (value.streamsDisagree ? " [voice and face disagree]" : "")
            } else {
                fused = "FAILED: \(result.failure?.description ?? "no stream")"
            }
            let frames = result.video.map { "\($0.framesSampled)/\($0.facesFound)" } ?? "-"
            var faces = result.video.map { video in
                video.faces.map { "#\($0.track) \($0.prediction.label.rawValue)\($0.track == video.speaker ? "*" : "")" }
                    .joined(separator: " ")
            } ?? "-"
            if result.video?.speakerStatus == .notVisible { faces += " (speaker not in view)" }
            return [(result.source as NSString).lastPathComponent, describe(result.audio?.prediction, result.audioFailure),
                    describe(result.video?.prediction, result.videoFailure), fused, frames, faces]
        }
    }
}

/// The JSON shape of one `analyze --json` line.
struct AnalyzeLine: Encodable {
    struct Stream: Encodable {
        var label: String?
        var confidence: Float?
        var probabilities: [String: Float]?
        var error: StreamFailure?
    }
    struct Fused: Encodable {
        var label: String
        var confidence: Float
        var basis: String
        var reason: String?
        var probabilities: [String: Float]
    }
    /// One face track.
    struct Face: Encodable {
        var track: Int
        var box: [Double]
        var start: Double
        var end: Double
        var frames: Int
        var speaking: Double?
        var video: Stream
    }

    var file: String
    var audio: Stream
    var video: Stream
    var fused: Fused?
    var error: StreamFailure?
    var framesSampled: Int?
    var facesFound: Int?
    var faces: [Face]?
    /// The speaking face's track (encoded as `null` when none in view speaks).
    var speaker: Int?
    var speakerStatus: String?

    enum CodingKeys: String, CodingKey {
        case file, audio, video, fused, error, framesSampled = "frames_sampled", facesFound = "faces_found", faces, speaker
        case speakerStatus = "speaker_status"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(file, forKey: .file)
        try container.encode(audio, forKey: .audio)
        try container.encode(video, forKey: .video)
        try container.encodeIfPresent(fused, forKey: .fused)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encodeIfPresent(framesSampled, forKey: .framesSampled)
        try container.encodeIfPresent(facesFound, forKey: .facesFound)
        try container.encode(faces ?? [], forKey: .faces)
        try container.encode(speaker, forKey: .speaker)
        try container.encodeIfPresent(speakerStatus, forKey: .speakerStatus)
    }

    init(_ result: ClipAnalysis) {
        func named(_ probabilities: [Float]) -> [String: Float] {
            Dictionary(uniqueKeysWithValues: zip(EmotionLabel.allCases.map(\.rawValue), probabilities))
        }
        func stream(_ prediction: StreamPrediction?, _ failure: StreamFailure?) -> Stream {
            guard let prediction else { return Stream(error: failure) }
            return Stream(label: prediction.label.rawValue, confidence: prediction.confidence,
                          probabilities: named(prediction.probabilities))
        }
        file = result.source
        audio = stream(result.audio?.prediction, result.audioFailure)
        video = stream(result.video?.prediction, result.videoFailure)
        fused = result.fused.map { Fused(label: $0.label.rawValue, confidence: $0.confidence, basis: $0.basis.rawValue,
                                         reason: $0.reason, probabilities: named($0.probabilities)) }
        faces = result.video?.faces.map {
            Face(track: $0.track, box: $0.box, start: $0.start, end: $0.end, frames: $0.frames, speaking: $0.speaking,
                 video: stream($0.prediction, nil))
        }
        speaker = result.video?.speaker
        speakerStatus = result.video?.speakerStatus.rawValue
        error = result.failure
        framesSampled = result.video?.framesSampled
        facesFound = result.video?.facesFound
    }
}
