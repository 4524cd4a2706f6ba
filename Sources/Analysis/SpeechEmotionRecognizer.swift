import Emotion
import Foundation
import Media
import Vision

/// What the speech stream found in one clip (or one span of it).
public struct SpeechAnalysis: Sendable, Codable, Equatable {
    public var prediction: StreamPrediction
    /// What the speech-presence check measured.
    public var speech: SpeechPresenceDetector.Evidence
    /// Seconds of audio decoded.
    public var duration: Double
    /// Seconds spent per stage: `open` (demuxer and stream probe), `decode` (decode and resample),
    /// `speech_presence`, `front_end`, `inference`.
    public var timings: [String: Double]
}

/// Speech emotion recognition: decode to 16 kHz mono, check that there is speech, log-mel front end, ONNX model.
///
/// Owns its network and detector; not thread-safe — give each thread its own instance.
public final class SpeechEmotionRecognizer {
    public let card: ModelCard
    public let mapping: [String: EmotionLabel]
    public let frontEnd: SpeechFrontEnd
    /// Whether `samples` never reach ``silenceThreshold`` (an empty track counts as silent).
    public static func isSilent(_ samples: [Float]) -> Bool {
        !samples.contains { abs($0) >= silenceThreshold }
    }

    /// Decides whether the audio holds speech at all, before the model is asked which emotion it carries.
    public let presence: SpeechPresenceDetector
    private let network: NeuralNetwork
    /// Peak amplitude below which a track counts as silent (-80 dBFS): the silent tracks of video-only takes peak
    /// at -91 dBFS, while a quiet recording (speech 30 dB below a studio level) still peaks above -70 dBFS.
    public static let silenceThreshold: Float = 0.0001

    /// Loads the card (`ser.json` by default) and its model from `directory`.
    public init(modelsDirectory directory: URL, cardFile: String = "ser.json") throws {
        card = try ModelCard.load(cardFile, in: directory)
        guard card.task == .speech else {
            throw AnalysisError(.invalidModelCard, reason: "\(cardFile) describes a \(card.task.rawValue) model, not a speech model")
        }
        mapping = try card.canonicalMapping()
        frontEnd = try SpeechFrontEnd(parameters: SpeechFrontEnd.Parameters(card: card))
        network = try NeuralNetwork(onnxPath: directory.appendingPathComponent(card.onnx).path)
        presence = try SpeechPresenceDetector(sampleRate: frontEnd.parameters.sampleRate)
    }

    /// The model's input tensor shape.
    public var inputShape: [Int] { [1, 1, frontEnd.parameters.melBands, frontEnd.parameters.frames] }

    /// Runs the model on a prepared front-end window and returns its logits.
    public func logits(for window: SpeechFrontEnd.Window) throws -> [Float] {
        let output = try network.forward(window.values, shape: inputShape)
        guard output.count == card.labels.count else {
            throw AnalysisError(.unexpectedOutput, reason: "\(card.name) gave \(output.count) outputs for \(card.labels.count) labels")
        }
        return output
    }

    /// Predicts from samples already at the front end's sample rate.
    public func predict(_ audio: AudioBuffer) throws -> StreamPrediction {
        let window = frontEnd.window(for: audio.samples)
        return card.prediction(logits: try logits(for: window), mapping: mapping)
    }

    /// Decodes `source` (or a span of it) and predicts.
    ///
    /// - Throws: `MediaError` for unreadable media, `StreamFailure` with code `silent_audio_track` when the
    ///   track holds no sound and `no_speech` when its sound is not speech, `VisionError`/`AnalysisError` for
    ///   model failures.
    public func analyze(_ source: MediaSource, range: TimeRange? = nil, options: MediaOpenOptions = .init()) throws -> SpeechAnalysis {
        let clock = ContinuousClock()
        var start = clock.now
        var audioOnly = options
        audioOnly.streams = [.audio]
        let file = try MediaFile(source, options: audioOnly)
        let open = clock.now - start
        start = clock.now
        let audio = try file.decodeAudio(sampleRate: frontEnd.parameters.sampleRate, range: range)
        let decode = clock.now - start
        guard !Self.isSilent(audio.samples) else {
            throw StreamFailure(code: StreamFailure.silentTrack,
                                reason: audio.samples.isEmpty ? "the audio track is empty" : "the audio track is silent")
        }
        start = clock.now
        let speech = presence.evidence(for: audio.samples)
        guard speech.isSpeech else {
            throw StreamFailure(code: StreamFailure.noSpeech, reason: "no speech in the audio: \(speech)")
        }
        let presenceTime = clock.now - start
        start = clock.now
        let window = frontEnd.window(for: audio.samples)
        let frontEndTime = clock.now - start
        start = clock.now
        let logits = try logits(for: window)
        let inference = clock.now - start
        return SpeechAnalysis(
            prediction: card.prediction(logits: logits, mapping: mapping),
            speech: speech,
            duration: audio.duration,
            timings: ["open": open.seconds, "decode": decode.seconds, "speech_presence": presenceTime.seconds,
                      "front_end": frontEndTime.seconds, "inference": inference.seconds]
        )
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) * 1e-18
    }
}
