internal import CFFmpeg

/// One open decoder for one stream of a `MediaFile`. The corresponding C type is `AVCodecContext`.
///
/// Owns its codec context and a reusable packet and frame; frees them in `deinit`.
final class StreamDecoder {
    let streamIndex: Int32
    let timeBase: AVRational
    var codec: UnsafeMutablePointer<AVCodecContext>?
    var packet: UnsafeMutablePointer<AVPacket>?
    var frame: UnsafeMutablePointer<AVFrame>?
    /// Packets the decoder rejected as damaged.
    private(set) var damagedPackets = 0
    /// Packets the decoder accepted.
    private(set) var acceptedPackets = 0

    init(file: MediaFile, type: AVMediaType) throws(MediaError) {
        let location = file.source.location
        guard let context = file.context else {
            throw MediaError(.decodingFailed, source: location, reason: "file is closed")
        }
        var decoder: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(context, type, -1, -1, &decoder, 0)
        guard index >= 0 else {
            if index == FFmpegStatus.decoderNotFound {
                throw MediaError(.decodingFailed, source: location, reason: "no decoder for the \(type == AVMEDIA_TYPE_AUDIO ? "audio" : "video") stream")
            }
            throw MediaError(type == AVMEDIA_TYPE_AUDIO ? .noAudioStream : .noVideoStream, source: location,
                             reason: type == AVMEDIA_TYPE_AUDIO ? "the file has no audio stream" : "the file has no video stream")
        }
        streamIndex = index
        let stream = context.pointee.streams[Int(index)]!
        timeBase = stream.pointee.time_base
        codec = avcodec_alloc_context3(decoder)
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        guard let codec, packet != nil, frame != nil else {
            throw MediaError(.decodingFailed, source: location, reason: "out of memory")
        }
        var status = avcodec_parameters_to_context(codec, stream.pointee.codecpar)
        if status >= 0 {
            codec.pointee.thread_count = Int32(file.options.decoderThreads)
            codec.pointee.pkt_timebase = timeBase
            status = avcodec_open2(codec, decoder, nil)
        }
        guard status >= 0 else {
            throw MediaError(.decodingFailed, source: location, reason: "cannot open decoder: \(ffmpegMessage(status))")
        }
    }

    deinit {
        avcodec_free_context(&codec)
        av_packet_free(&packet)
        av_frame_free(&frame)
    }

    /// Seconds of a timestamp in this stream's time base, or `nil` when unknown.
    func seconds(_ timestamp: Int64) -> Double? {
        guard timestamp != swift_av_nopts_value(), timeBase.den != 0 else { return nil }
        return Double(timestamp) * Double(timeBase.num) / Double(timeBase.den)
    }

    /// Reads packets of this stream and hands every decoded frame to `body` until the input ends
    /// or `body` returns `false`.
    ///
    /// Damaged packets are skipped and counted; a read error other than end-of-file ends the pass and is
    /// reported as `.truncated` (`.timeout` when a network source stopped answering); any other decoder error is
    /// `.decodingFailed` with FFmpeg's message.
    func decode(
        from file: MediaFile,
        _ body: (UnsafeMutablePointer<AVFrame>) throws -> Bool
    ) throws {
        let location = file.source.location
        guard let context = file.context, let codec, let packet, let frame else { return }
        file.hasRead = true
        var readError: Int32 = 0
        var keepGoing = true
        reading: while keepGoing {
            try file.options.deadline?.check(source: location)
            let status = av_read_frame(context, packet)
            if status < 0 {
                if status != FFmpegStatus.endOfFile { readError = status }
                break reading
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            let sent = avcodec_send_packet(codec, packet)
            if sent < 0 {
                if sent == FFmpegStatus.invalidData { damagedPackets += 1; continue }
                throw MediaError(.decodingFailed, source: location, reason: ffmpegMessage(sent))
            }
            acceptedPackets += 1
            keepGoing = try drain(codec: codec, frame: frame, location: location, body)
        }
        if keepGoing {
            avcodec_send_packet(codec, nil)
            _ = try drain(codec: codec, frame: frame, location: location, body)
        }
        // An interrupted read can surface as end of file or an I/O error, depending on the demuxer: a deadline that
        // passed means the data may be incomplete, whatever the status was.
        if let deadline = file.options.deadline, let interruption = deadline.interruption() {
            throw deadline.error(interruption, source: location)
        }
        if readError == FFmpegStatus.timedOut {
            throw MediaError(.timeout, source: location, reason: "the source stopped answering: \(ffmpegMessage(readError))")
        }
        if readError != 0 {
            throw MediaError(.truncated, source: location, reason: "the data ends early: \(ffmpegMessage(readError))")
        }
        if acceptedPackets == 0 && damagedPackets > 0 {
            throw MediaError(.truncated, source: location, reason: "every packet of the stream is damaged")
        }
    }

    private func drain(
        codec: UnsafeMutablePointer<AVCodecContext>,
        frame: UnsafeMutablePointer<AVFrame>,
        location: String,
        _ body: (UnsafeMutablePointer<AVFrame>) throws -> Bool
    ) throws -> Bool {
        while true {
            let status = avcodec_receive_frame(codec, frame)
            if status == FFmpegStatus.again || status == FFmpegStatus.endOfFile { return true }
            if status == FFmpegStatus.invalidData { damagedPackets += 1; continue }
            if status < 0 { throw MediaError(.decodingFailed, source: location, reason: ffmpegMessage(status)) }
            defer { av_frame_unref(frame) }
            if try !body(frame) { return false }
        }
    }
}
