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
    static let inputTolerance: Float = 1e-4
    /// Largest difference allowed between logits computed from the Swift front end and the Python reference.
    static let logitTolerance: Float = 1e-3

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

@Suite(.enabled(if: TestData.modelsAvailable, "needs the committed models"))
struct SpeechFrontEndPaddingTests {
    @Test func shortClipsArePaddedAtTheEndWithTheLogFloor() throws {
        let card = try ModelCard.load("ser.json", in: TestData.models)
        let frontEnd = try SpeechFrontEnd(parameters: SpeechFrontEnd.Parameters(card: card))
        let p = frontEnd.parameters
        // One second of a 440 Hz tone: 98 frames, far fewer than the window's 300.
        let samples = (0..<p.sampleRate).map { Float(0.3 * sin(2 * Double.pi * 440 * Double($0) / Double(p.sampleRate))) }
        let window = frontEnd.window(for: samples)
        #expect(window.clipFrames == 1 + (samples.count - p.frameLength) / p.hopLength)
        #expect(window.start == 0)
        #expect(window.values.count == p.melBands * p.frames)
        // Every padded column holds the same normalised floor value, below every real value.
        let floor = Float((log(p.logOffset) - window.mean) / (window.standardDeviation + p.normEpsilon))
        for band in 0..<p.melBands {
            for column in window.clipFrames..<p.frames {
                #expect(abs(window.values[band * p.frames + column] - floor) < 1e-4)
            }
        }
        let normalisedMean = window.values.reduce(0, +) / Float(window.values.count)
        #expect(abs(normalisedMean) < 1e-3)
        // Silence (no frames at all) still gives a full, finite window.
        let silent = frontEnd.window(for: [])
        #expect(silent.values.allSatisfy { $0.isFinite })
    }
}
