import Emotion
import Foundation
import Media
import Vision

/// Both streams and their fusion for one clip, in process: the analysis behind `er-coordinator analyze`.
public struct ClipAnalysis: Sendable, Codable {
    public var source: String
    public var audio: SpeechAnalysis?
    public var audioFailure: StreamFailure?
    public var video: FaceAnalysis?
    public var videoFailure: StreamFailure?
    public var fused: FusedPrediction?

    /// Why no fused label could be given, when neither stream answered.
    public var failure: StreamFailure? {
        guard fused == nil else { return nil }
        return audioFailure.flatMap { $0.meansAbsent ? nil : $0 } ?? videoFailure ?? audioFailure
    }
}

/// Runs the speech and face recognizers on a clip and fuses their answers.
///
/// Owns its recognizers; not thread-safe.
public final class ClipAnalyzer {
    public let speech: SpeechEmotionRecognizer
    public let face: FaceEmotionRecognizer
    public let fusion: LateFusion
    public var sampling: FrameSampling
    public var options: MediaOpenOptions

    /// Loads both models from `modelsDirectory`; fusion weights come from their cards.
    public init(modelsDirectory: URL, sampling: FrameSampling = .rate(framesPerSecond: FaceEmotionRecognizer.framesPerSecond), options: MediaOpenOptions = .init()) throws {
        speech = try SpeechEmotionRecognizer(modelsDirectory: modelsDirectory)
        face = try FaceEmotionRecognizer(modelsDirectory: modelsDirectory)
        fusion = LateFusion(audioWeight: speech.card.fusionWeight, videoWeight: face.card.fusionWeight)
        self.sampling = sampling
        self.options = options
    }

    /// Analyses one clip. Never throws: each stream's failure is recorded in the result.
    public func analyze(_ source: MediaSource) -> ClipAnalysis {
        var result = ClipAnalysis(source: source.location)
        do {
            result.audio = try speech.analyze(source, options: options)
        } catch {
            result.audioFailure = StreamFailure(error)
        }
        // A file that cannot be opened at all fails the same way for both streams: don't open it twice.
        if let failure = result.audioFailure, Self.isFileLevel(failure) {
            result.videoFailure = failure
        } else {
            do {
                result.video = try face.analyze(source, sampling: sampling, options: options)
            } catch {
                result.videoFailure = StreamFailure(error)
            }
        }
        if var video = result.video, video.speakerStatus == .singleFace, let audio = result.audio {
            // One face in view at a time: it is the speaker whenever there is speech (faces seen one after another
            // share the speech by the frames they were seen in).
            let speaks = audio.speech.isSpeech
            let frames = Double(video.faces.map(\.frames).reduce(0, +))
            video.faces = video.faces.map { face in
                var face = face
                face.speaking = speaks && frames > 0 ? (Double(face.frames) / frames * 1000).rounded() / 1000 : 0
                return face
            }
            video.speaker = speaks ? video.track : nil
            result.video = video
        }
        result.fused = fusion.fuse(audio: result.audio?.prediction, video: result.video?.prediction,
                                   speakerVisible: result.video?.speakerStatus != .notVisible)
        return result
    }

    private static func isFileLevel(_ failure: StreamFailure) -> Bool {
        [MediaError.Code.missingFile, .unreadable, .notMediaFile, .protocolNotAllowed].map(\.rawValue).contains(failure.code)
    }
}
