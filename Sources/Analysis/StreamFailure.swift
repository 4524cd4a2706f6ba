import Media
import Vision

/// Why a stream produced no answer, in a form that travels in messages and database rows.
public struct StreamFailure: Error, Sendable, Codable, Equatable, CustomStringConvertible {
    /// A stable machine-readable code (`missing_file`, `no_audio_stream`, `no_face`, …).
    public var code: String
    /// A human-readable explanation.
    public var reason: String

    public init(code: String, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// Describes any error thrown by the media, vision or analysis layers.
    public init(_ error: any Error) {
        switch error {
        case let error as MediaError: self.init(code: error.code.rawValue, reason: error.reason)
        case let error as VisionError: self.init(code: error.code.rawValue, reason: error.reason)
        case let error as AnalysisError: self.init(code: error.code.rawValue, reason: error.reason)
        case let error as StreamFailure: self = error
        default: self.init(code: "internal_error", reason: "\(error)")
        }
    }

    /// Whether the failure means the stream is simply not there (no track, a silent track, no speech, no face):
    /// fusion then answers from the other stream.
    public var meansAbsent: Bool {
        [MediaError.Code.noAudioStream.rawValue, MediaError.Code.noVideoStream.rawValue,
         Self.silentTrack, Self.noSpeech, Self.noFace].contains(code)
    }

    /// Code for an audio track whose samples are (nearly) all zero.
    public static let silentTrack = "silent_audio_track"
    /// Code for an audio track (or a span of one) that has sound but no speech: silence with noise, a tone, music.
    public static let noSpeech = "no_speech"
    /// Code for a video in which no sampled frame showed a face.
    public static let noFace = "no_face"

    public var description: String { "\(code): \(reason)" }
}
