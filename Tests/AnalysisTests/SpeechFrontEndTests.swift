import Analysis
import Foundation
import Media
import Testing
import TestSupport

/// The Python training front end's output on real clips (`training/ser/frontend.py`, written by the training run).
struct FrontEndReference: Decodable {
    struct Clip: Decodable {
        var path: String
        var n_samples: Int
        var n_frames: Int
        var start: Int
        var raw_mean: Double
        var raw_std: Double
        var logits: [Float]
    }
    struct FullInput: Decodable {
        var path: String
        var values: [Float]
    }
    var clips: [Clip]
    var full_input: FullInput

    static func load() throws -> FrontEndReference {
        let url = try #require(Bundle.module.url(forResource: "ser-frontend-reference", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(FrontEndReference.self, from: Data(contentsOf: url))
    }
}

@Suite(.enabled(if: TestData.available && TestData.modelsAvailable, Comment(rawValue: TestData.missingReason + " and the committed models")))
struct SpeechFrontEndTests {
    /// Largest difference allowed between the Swift and Python log-mel inputs (normalised units).
    static let inputTolerance: Float = 2e-3
    /// Largest difference allowed between logits computed from the Swift front end and the Python reference.
    static let logitTolerance: Float = 1e-2

    let recognizer: SpeechEmotionRecognizer
    let reference: FrontEndReference
    let speech = TestData.sharedData.appendingPathComponent("ravdess/speech-16k")

    init() throws {
        recognizer = try SpeechEmotionRecognizer(modelsDirectory: TestData.models)
        reference = try FrontEndReference.load()
    }

    @Test func swiftFrontEndMatchesTrainingOnRealClips() throws {
        for clip in reference.clips {
            let audio = try MediaFile(MediaSource(speech.appendingPathComponent(clip.path).path)).decodeAudio(sampleRate: 16_000)
            #expect(audio.samples.count == clip.n_samples, "\(clip.path)")
            let window = recognizer.frontEnd.window(for: audio.samples)
            #expect(window.clipFrames == clip.n_frames, "\(clip.path)")
            #expect(window.start == clip.start, "\(clip.path)")
            #expect(abs(window.mean - clip.raw_mean) < 1e-3, "\(clip.path)")
            #expect(abs(window.standardDeviation - clip.raw_std) < 1e-3, "\(clip.path)")
            let logits = try recognizer.logits(for: window)
            let difference = zip(logits, clip.logits).map { abs($0 - $1) }.max() ?? .infinity
            #expect(difference < Self.logitTolerance, "\(clip.path): logits differ by \(difference)")
        }
    }

    @Test func swiftInputMatchesTrainingValueByValue() throws {
        let path = speech.appendingPathComponent(reference.full_input.path).path
        let audio = try MediaFile(MediaSource(path)).decodeAudio(sampleRate: 16_000)
        let window = recognizer.frontEnd.window(for: audio.samples)
        #expect(window.values.count == reference.full_input.values.count)
        let difference = zip(window.values, reference.full_input.values).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference < Self.inputTolerance, "max abs difference \(difference)")
    }

    @Test func theCardMatchesItsModelFile() throws {
        let card = recognizer.card
        let onnx = TestData.models.appendingPathComponent(card.onnx).path
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha256sum", onnx]
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(output.hasPrefix(card.sha256))
        #expect(card.labels.count == 8 && card.fusionWeight > 0)
    }
}
