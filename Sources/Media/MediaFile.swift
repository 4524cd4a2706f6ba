internal import CFFmpeg
import Foundation

/// Options for opening a media source.
public struct MediaOpenOptions: Sendable, Equatable {
    /// FFmpeg protocols the source may use (libavformat's `protocol_whitelist`). Plain paths use `file`.
    public var allowedProtocols: [String]
    /// Decoder threads per stream. Workers scale by processes, so one is the default.
    public var decoderThreads: Int
    /// Streams the caller will decode: the probe skips the others (an audio worker then never decodes video
    /// frames while opening a file). `nil` probes every stream.
    public var streams: Set<MediaInfo.Stream.Kind>?
    /// Seconds a network source may go without answering (connecting, or any read) before the open or decode
    /// fails with `.timeout` (libavformat's `rw_timeout`). Local files have none.
    public var networkTimeout: Double
    /// Bounds the whole open and decode, and lets another thread stop it (`nil`: unbounded).
    public var deadline: MediaDeadline?

    public init(allowedProtocols: [String] = ["file", "http", "https", "tcp", "tls", "crypto"], decoderThreads: Int = 1,
                streams: Set<MediaInfo.Stream.Kind>? = nil, networkTimeout: Double = 30, deadline: MediaDeadline? = nil) {
        self.allowedProtocols = allowedProtocols
        self.decoderThreads = decoderThreads
        self.streams = streams
        self.networkTimeout = networkTimeout
        self.deadline = deadline
    }
}

/// An open media container. The corresponding C type is `AVFormatContext`.
///
/// The instance owns its demuxer and closes it in `deinit`. It is not thread-safe: use it from one thread.
/// Each decode call starts from the beginning of the requested range, so calls can follow one another.
public final class MediaFile {
    /// The source this file was opened from.
    public let source: MediaSource
    /// What the probe found: format, duration and streams.
    public let info: MediaInfo
    let options: MediaOpenOptions
    var context: UnsafeMutablePointer<AVFormatContext>?
    /// Whether packets have been read since the last seek.
    var hasRead = false

    /// Opens and probes `source`.
    ///
    /// - Throws: `MediaError` with `.missingFile`, `.unreadable`, `.notMediaFile`, `.truncated`,
    ///   `.protocolNotAllowed` or `.decodingFailed`.
    public init(_ source: MediaSource, options: MediaOpenOptions = .init()) throws(MediaError) {
        silenceFFmpegLogging
        self.source = source
        self.options = options
        let location = source.location
        var target = location
        if let path = source.localPath {
            try Self.checkLocalFile(path, source: location)
            // A "file:" prefix keeps a path with a colon from being read as a protocol name.
            target = "file:" + path
        } else if let scheme = source.scheme, !options.allowedProtocols.contains(scheme) {
            throw MediaError(.protocolNotAllowed, source: location, reason: "scheme '\(scheme)' is not allowed")
        }

        var dictionary: OpaquePointer?
        av_dict_set(&dictionary, "protocol_whitelist", options.allowedProtocols.joined(separator: ","), 0)
        if source.localPath == nil, options.networkTimeout > 0 {
            av_dict_set(&dictionary, "rw_timeout", String(Int64(options.networkTimeout * 1_000_000)), 0)
        }
        defer { av_dict_free(&dictionary) }
        var context = avformat_alloc_context()
        guard context != nil else {
            throw MediaError(.decodingFailed, source: location, reason: "out of memory")
        }
        if let deadline = options.deadline {
            // `options` (held by self) keeps the deadline alive as long as the context.
            context!.pointee.interrupt_callback = AVIOInterruptCB(
                callback: MediaDeadline.callback, opaque: Unmanaged.passUnretained(deadline).toOpaque())
        }
        let status = avformat_open_input(&context, target, nil, &dictionary)
        guard status >= 0, let context else {
            if let deadline = options.deadline, let interruption = deadline.interruption() {
                throw deadline.error(interruption, source: location)
            }
            throw Self.openError(status, source: source)
        }
        self.context = context
        if let wanted = options.streams {
            for index in 0..<Int(context.pointee.nb_streams) {
                guard let stream = context.pointee.streams[index], let parameters = stream.pointee.codecpar else { continue }
                let kind: MediaInfo.Stream.Kind = parameters.pointee.codec_type == AVMEDIA_TYPE_AUDIO ? .audio
                    : parameters.pointee.codec_type == AVMEDIA_TYPE_VIDEO ? .video : .other
                if !wanted.contains(kind) { stream.pointee.discard = AVDISCARD_ALL }
            }
        }
        let streamStatus = avformat_find_stream_info(context, nil)
        guard streamStatus >= 0 else {
            avformat_close_input(&self.context)
            if let deadline = options.deadline, let interruption = deadline.interruption() {
                throw deadline.error(interruption, source: location)
            }
            if streamStatus == FFmpegStatus.timedOut {
                throw MediaError(.timeout, source: location, reason: "no answer: \(ffmpegMessage(streamStatus))")
            }
            throw MediaError(.truncated, source: location, reason: "stream information unreadable: \(ffmpegMessage(streamStatus))")
        }
        info = Self.describe(context)
        options.deadline?.noteMediaSeconds(info.duration)
    }

    deinit {
        avformat_close_input(&context)
    }

    private static func checkLocalFile(_ path: String, source: String) throws(MediaError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MediaError(.missingFile, source: source, reason: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw MediaError(.notMediaFile, source: source, reason: "is a directory")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw MediaError(.unreadable, source: source, reason: "permission denied")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
        guard size != 0 else {
            throw MediaError(.notMediaFile, source: source, reason: "empty file")
        }
    }

    /// Maps a failed `avformat_open_input` to a typed error, telling a damaged container from foreign bytes.
    private static func openError(_ status: Int32, source: MediaSource) -> MediaError {
        let location = source.location
        let message = ffmpegMessage(status)
        switch status {
        case FFmpegStatus.noSuchFile: return MediaError(.missingFile, source: location, reason: message)
        case FFmpegStatus.permissionDenied: return MediaError(.unreadable, source: location, reason: message)
        case FFmpegStatus.protocolNotFound: return MediaError(.protocolNotAllowed, source: location, reason: message)
        case FFmpegStatus.timedOut: return MediaError(.timeout, source: location, reason: "no answer: \(message)")
        case FFmpegStatus.invalidData:
            if let path = source.localPath, let format = probeFormat(path) {
                return MediaError(.truncated, source: location, reason: "looks like \(format) but cannot be opened: \(message)")
            }
            return MediaError(.notMediaFile, source: location, reason: "not a recognised media container: \(message)")
        default:
            if source.localPath == nil, status == swift_averror(EINVAL) {
                return MediaError(.protocolNotAllowed, source: location, reason: message)
            }
            return MediaError(.decodingFailed, source: location, reason: message)
        }
    }

    /// The container format FFmpeg recognises in the file's first bytes, if any.
    /// The corresponding C function is `av_probe_input_format2`.
    static func probeFormat(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 64 * 1024)) ?? Data()
        guard !head.isEmpty else { return nil }
        var buffer = [UInt8](head)
        buffer.append(contentsOf: repeatElement(0, count: Int(AVPROBE_PADDING_SIZE)))
        return buffer.withUnsafeMutableBufferPointer { bytes -> String? in
            var probe = AVProbeData()
            probe.buf = bytes.baseAddress
            probe.buf_size = Int32(head.count)
            var score: Int32 = 0
            guard let format = av_probe_input_format2(&probe, 1, &score), score >= AVPROBE_SCORE_MAX / 4 else { return nil }
            return String(cString: format.pointee.name)
        }
    }

    private static func describe(_ context: UnsafeMutablePointer<AVFormatContext>) -> MediaInfo {
        var streams: [MediaInfo.Stream] = []
        for index in 0..<Int(context.pointee.nb_streams) {
            guard let stream = context.pointee.streams[index], let parameters = stream.pointee.codecpar else { continue }
            let kind: MediaInfo.Stream.Kind
            switch parameters.pointee.codec_type {
            case AVMEDIA_TYPE_AUDIO: kind = .audio
            case AVMEDIA_TYPE_VIDEO: kind = .video
            default: kind = .other
            }
            let rate = stream.pointee.avg_frame_rate
            streams.append(MediaInfo.Stream(
                index: index,
                kind: kind,
                codec: String(cString: avcodec_get_name(parameters.pointee.codec_id)),
                frameRate: rate.den > 0 ? Double(rate.num) / Double(rate.den) : 0,
                width: Int(parameters.pointee.width),
                height: Int(parameters.pointee.height),
                sampleRate: Int(parameters.pointee.sample_rate),
                channels: Int(parameters.pointee.ch_layout.nb_channels),
                rotation: kind == .video ? Int(swift_stream_display_rotation(stream)) : 0
            ))
        }
        let duration = context.pointee.duration
        func best(_ type: AVMediaType) -> Int? {
            let index = av_find_best_stream(context, type, -1, -1, nil, 0)
            return index >= 0 ? Int(index) : nil
        }
        return MediaInfo(
            format: String(cString: context.pointee.iformat.pointee.name),
            duration: duration > 0 ? Double(duration) / Double(swift_av_time_base()) : 0,
            streams: streams,
            bestAudioIndex: best(AVMEDIA_TYPE_AUDIO),
            bestVideoIndex: best(AVMEDIA_TYPE_VIDEO)
        )
    }

    /// Positions the demuxer at the start of `range` (or of the file) before a decode pass, and sizes the deadline
    /// to the span.
    func startPass(range: TimeRange?, source: String) throws(MediaError) {
        let seconds = range?.start ?? 0
        if let range { options.deadline?.noteMediaSeconds(range.duration) }
        guard let context else { return }
        guard hasRead || seconds > 0 else { return }
        let timestamp = Int64(seconds * Double(swift_av_time_base()))
        let status = avformat_seek_file(context, -1, Int64.min, timestamp, timestamp, 0)
        if status < 0, seconds > 0 {
            throw MediaError(.decodingFailed, source: source, reason: "cannot seek to \(seconds) s: \(ffmpegMessage(status))")
        }
        hasRead = false
    }
}

/// FFmpeg logs broken input to stderr by default; a library stays quiet and reports through errors instead.
private let silenceFFmpegLogging: Void = av_log_set_level(AV_LOG_FATAL)
