internal import CFFmpeg

/// Why a media source could not be opened or decoded.
///
/// `code` says what kind of failure it was; `reason` carries FFmpeg's own message
/// (from `av_strerror`) or a description of the check that failed.
public struct MediaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of media failure a caller can act on.
    public enum Code: String, Sendable, CaseIterable {
        /// The path does not exist. The corresponding C error is `ENOENT`.
        case missingFile = "missing_file"
        /// The file exists but cannot be read (permissions). The corresponding C error is `EACCES`.
        case unreadable
        /// The bytes are not a container FFmpeg recognises (or the file is empty).
        /// The corresponding C error is `AVERROR_INVALIDDATA`.
        case notMediaFile = "not_media_file"
        /// The container is recognised but its data ends early or is damaged.
        case truncated
        /// The source has no audio stream.
        case noAudioStream = "no_audio_stream"
        /// The source has no video stream.
        case noVideoStream = "no_video_stream"
        /// The source's scheme or protocol is not allowed, or FFmpeg has no such protocol.
        case protocolNotAllowed = "protocol_not_allowed"
        /// Decoding failed for another reason (unsupported codec, out of memory, network).
        case decodingFailed = "decoding_failed"
        /// A network source stopped answering for longer than `MediaOpenOptions.networkTimeout`, or the work ran past
        /// its `MediaDeadline`. The corresponding C error is `ETIMEDOUT`.
        case timeout
        /// The caller stopped the work (`MediaDeadline.isCancelled`). The corresponding C error is `AVERROR_EXIT`.
        case interrupted
    }

    /// What kind of failure this is.
    public var code: Code
    /// The source (path or URL) that failed.
    public var source: String
    /// A human-readable explanation.
    public var reason: String

    public init(_ code: Code, source: String, reason: String) {
        self.code = code
        self.source = source
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(source): \(reason)" }
}

/// FFmpeg's message for an `AVERROR` code. The corresponding C function is `av_strerror`.
func ffmpegMessage(_ status: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(status, &buffer, buffer.count) < 0 {
        return "FFmpeg error \(status)"
    }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Raw FFmpeg status codes this module reacts to, named once.
enum FFmpegStatus {
    static let endOfFile = swift_averror_eof()
    static let again = swift_averror_eagain()
    static let invalidData = swift_averror_invaliddata()
    static let noSuchFile = swift_averror_enoent()
    static let permissionDenied = swift_averror_eacces()
    static let protocolNotFound = swift_averror_protocol_not_found()
    static let decoderNotFound = swift_averror_decoder_not_found()
    static let timedOut = swift_averror(ETIMEDOUT)
    static let interrupted = swift_averror_exit()
}

extension MediaError.Code {
    /// Lets `catch MediaError.Code.x` style matching work on any error.
    public static func ~= (code: Self, error: any Error) -> Bool {
        (error as? MediaError)?.code == code
    }
}
