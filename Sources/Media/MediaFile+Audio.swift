internal import CFFmpeg

extension MediaFile {
    /// Decodes the best audio stream, downmixed to mono and resampled to `sampleRate` as Float32.
    ///
    /// - Parameters:
    ///   - sampleRate: Output sample rate in Hz (16 kHz for the speech model).
    ///   - range: A span to decode (seeking to its start), or `nil` for the whole stream.
    /// - Throws: `MediaError` — `.noAudioStream`, `.truncated`, `.decodingFailed`.
    public func decodeAudio(sampleRate: Int = 16_000, range: TimeRange? = nil) throws(MediaError) -> AudioBuffer {
        let location = source.location
        try startPass(range: range, source: location)
        let decoder = try StreamDecoder(file: self, type: AVMEDIA_TYPE_AUDIO)
        guard let codec = decoder.codec else { throw MediaError(.decodingFailed, source: location, reason: "no decoder") }

        var inputLayout = AVChannelLayout()
        if codec.pointee.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || codec.pointee.ch_layout.nb_channels == 0 {
            av_channel_layout_default(&inputLayout, max(codec.pointee.ch_layout.nb_channels, 1))
        } else {
            av_channel_layout_copy(&inputLayout, &codec.pointee.ch_layout)
        }
        defer { av_channel_layout_uninit(&inputLayout) }
        var outputLayout = AVChannelLayout()
        swift_channel_layout_mono(&outputLayout)
        var resampler: OpaquePointer?
        var status = swr_alloc_set_opts2(
            &resampler, &outputLayout, AV_SAMPLE_FMT_FLT, Int32(sampleRate),
            &inputLayout, codec.pointee.sample_fmt, codec.pointee.sample_rate, 0, nil
        )
        if status >= 0 { status = swr_init(resampler) }
        defer { swr_free(&resampler) }
        guard status >= 0, resampler != nil else {
            throw MediaError(.decodingFailed, source: location, reason: "cannot set up resampling: \(ffmpegMessage(status))")
        }

        var samples: [Float] = []
        let expected = range?.duration ?? info.duration
        if expected > 0 { samples.reserveCapacity(Int(expected * Double(sampleRate)) + sampleRate / 10) }
        /// Stream time (seconds) of the first output sample, known from the first decoded frame.
        var firstSampleTime: Double?
        let limit = range.map { Int($0.duration * Double(sampleRate)) }
        /// Output samples decoded before the range starts (the seek lands on an earlier packet).
        func leadIn(_ range: TimeRange) -> Int {
            max(0, Int((range.start - (firstSampleTime ?? range.start)) * Double(sampleRate)))
        }

        func append(_ frame: UnsafePointer<AVFrame>?) -> Int32 {
            let incoming = frame.map { Int32($0.pointee.nb_samples) } ?? 0
            let capacity = Int(swr_get_out_samples(resampler, incoming)) + 32
            guard capacity > 0 else { return 0 }
            let oldCount = samples.count
            samples.append(contentsOf: repeatElement(0, count: capacity))
            let produced = samples.withUnsafeMutableBufferPointer { buffer in
                swift_swr_convert_frame_data(resampler, buffer.baseAddress! + oldCount, Int32(capacity), frame)
            }
            samples.removeLast(capacity - max(Int(produced), 0))
            return produced
        }

        do {
            try decoder.decode(from: self) { frame in
                if firstSampleTime == nil {
                    firstSampleTime = decoder.seconds(frame.pointee.best_effort_timestamp) ?? (range?.start ?? 0)
                }
                let produced = append(UnsafePointer(frame))
                if produced < 0 { return false }
                if let range, let limit {
                    return samples.count < leadIn(range) + limit
                }
                return true
            }
        } catch let error as MediaError {
            throw error
        } catch {
            throw MediaError(.decodingFailed, source: location, reason: "\(error)")
        }
        _ = append(nil)

        if let range, let limit {
            samples = Array(samples.dropFirst(min(leadIn(range), samples.count)).prefix(limit))
        } else if let stream = info.audio, let declared = declaredDuration(streamIndex: stream.index), declared > 1 {
            let decoded = Double(samples.count) / Double(sampleRate)
            if decoded < 0.8 * declared {
                throw MediaError(.truncated, source: location,
                                 reason: String(format: "decoded %.2f s of a %.2f s audio stream", decoded, declared))
            }
        }
        return AudioBuffer(sampleRate: sampleRate, samples: samples)
    }

    /// The duration a stream declares in its header, in seconds, if any.
    func declaredDuration(streamIndex: Int) -> Double? {
        guard let context, let stream = context.pointee.streams[streamIndex] else { return nil }
        let duration = stream.pointee.duration
        let base = stream.pointee.time_base
        guard duration != swift_av_nopts_value(), duration > 0, base.den != 0 else { return nil }
        return Double(duration) * Double(base.num) / Double(base.den)
    }
}
