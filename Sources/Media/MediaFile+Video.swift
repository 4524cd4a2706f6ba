internal import CFFmpeg

extension MediaFile {
    /// Decodes the best video stream and hands the sampled frames to `body` as gray images.
    ///
    /// Planar YUV luma is used directly (expanded to full range when the stream is limited range);
    /// other pixel formats are converted with swscale. Frames come rotated upright by the stream's display
    /// rotation (`MediaInfo.Stream.rotation`). A frame larger than `maxPixels` is scaled down (keeping its aspect)
    /// straight from the decoder's buffer, so that 8K input costs no full-size gray copy.
    ///
    /// - Parameters:
    ///   - sampling: Which frames to hand over.
    ///   - range: A span to decode (seeking to its start), or `nil` for the whole stream.
    ///   - skipUnsampledFrames: With `.rate` sampling, let the decoder drop non-reference frames while the next
    ///     sample is more than a frame away (faster; the sample then lands on the next decoded frame).
    ///   - maxPixels: The largest frame handed over, in pixels (3840 x 2160 by default).
    ///   - body: Called for each sampled frame, in order; return `false` to stop early.
    /// - Returns: The number of frames decoded (sampled or not).
    /// - Throws: `MediaError` (`.noVideoStream`, `.truncated`, `.decodingFailed`) or whatever `body` throws.
    @discardableResult
    public func forEachFrame(
        sampling: FrameSampling,
        range: TimeRange? = nil,
        skipUnsampledFrames: Bool = true,
        maxPixels: Int = 3840 * 2160,
        _ body: (GrayFrame) throws -> Bool
    ) throws -> Int {
        let location = source.location
        try startPass(range: range, source: location)
        let decoder = try StreamDecoder(file: self, type: AVMEDIA_TYPE_VIDEO)
        var selector = FrameSampling.Selector(sampling)
        let converter = GrayConverter(rotation: info.video?.rotation ?? 0, maxPixels: maxPixels)
        var decodedCount = 0
        var lastTime = 0.0
        var firstTime: Double?
        var stoppedEarly = false
        let frameInterval = (info.video?.frameRate ?? 0) > 0 ? 1 / info.video!.frameRate : 0.04
        try decoder.decode(from: self) { frame in
            let time = decoder.seconds(frame.pointee.best_effort_timestamp) ?? lastTime
            lastTime = time
            if firstTime == nil { firstTime = time }
            defer {
                if skipUnsampledFrames, let due = selector.nextTime {
                    decoder.codec?.pointee.skip_frame = time + 1.5 * frameInterval < due + (range?.start ?? 0)
                        ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
                }
            }
            if let range {
                if time < range.start - 1e-3 { return true }
                if time >= range.end - 1e-3 { return false }
            }
            let index = decodedCount
            decodedCount += 1
            guard selector.wants(index: index, time: time - (range?.start ?? 0)) else { return true }
            let gray = try converter.gray(of: frame, time: time, index: index, source: location)
            stoppedEarly = try !body(gray)
            return !stoppedEarly
        }
        if range == nil, !stoppedEarly, let stream = info.video, let declared = declaredDuration(streamIndex: stream.index),
           declared > 1 {
            let covered = decodedCount == 0 ? 0 : lastTime - (firstTime ?? 0) + frameInterval
            if covered < 0.8 * declared {
                throw MediaError(.truncated, source: location,
                                 reason: String(format: "decoded %.2f s of a %.2f s video stream", covered, declared))
            }
        }
        return decodedCount
    }
}

/// Turns decoded frames into packed gray images, reusing a swscale context across frames.
final class GrayConverter {
    /// Clockwise rotation applied to every frame (0, 90, 180 or 270).
    let rotation: Int
    /// Frames with more pixels are scaled down to fit.
    let maxPixels: Int
    private var scaler: OpaquePointer?
    private let expandLimitedRange: [UInt8] = (0...255).map { value in
        UInt8(clamping: Int(((Double(value) - 16) * 255 / 219).rounded()))
    }

    init(rotation: Int = 0, maxPixels: Int = .max) {
        self.rotation = rotation
        self.maxPixels = maxPixels
    }

    /// The size a `width` x `height` frame is handed over at: itself, or scaled down to at most `maxPixels`.
    func outputSize(width: Int, height: Int) -> (width: Int, height: Int) {
        guard width * height > maxPixels else { return (width, height) }
        let scale = (Double(maxPixels) / Double(width * height)).squareRoot()
        return (max(2, Int(Double(width) * scale) & ~1), max(2, Int(Double(height) * scale) & ~1))
    }

    private static let planarLuma: Set<Int32> = [
        AV_PIX_FMT_YUV420P.rawValue, AV_PIX_FMT_YUVJ420P.rawValue, AV_PIX_FMT_YUV422P.rawValue,
        AV_PIX_FMT_YUVJ422P.rawValue, AV_PIX_FMT_YUV444P.rawValue, AV_PIX_FMT_YUVJ444P.rawValue,
        AV_PIX_FMT_NV12.rawValue, AV_PIX_FMT_NV21.rawValue, AV_PIX_FMT_GRAY8.rawValue,
    ]

    func gray(of frame: UnsafeMutablePointer<AVFrame>, time: Double, index: Int, source: String) throws(MediaError) -> GrayFrame {
        let width = Int(frame.pointee.width)
        let height = Int(frame.pointee.height)
        guard width > 0, height > 0 else {
            throw MediaError(.decodingFailed, source: source, reason: "frame has no size")
        }
        let format = frame.pointee.format
        let (outWidth, outHeight) = outputSize(width: width, height: height)
        var pixels = [UInt8](repeating: 0, count: outWidth * outHeight)
        if (outWidth, outHeight) == (width, height), Self.planarLuma.contains(format), let plane = swift_frame_plane(frame, 0) {
            let stride = Int(swift_frame_linesize(frame, 0))
            let limited = Self.hasLimitedRangeLuma(frame)
            pixels.withUnsafeMutableBufferPointer { out in
                for row in 0..<height {
                    let input = plane + row * stride
                    let output = out.baseAddress! + row * width
                    if limited {
                        expandLimitedRange.withUnsafeBufferPointer { table in
                            for column in 0..<width { output[column] = table[Int(input[column])] }
                        }
                    } else {
                        output.update(from: input, count: width)
                    }
                }
            }
        } else {
            try scale(frame, width: width, height: height, into: &pixels, outWidth: outWidth, outHeight: outHeight, source: source)
        }
        guard rotation != 0 else {
            return GrayFrame(width: outWidth, height: outHeight, pixels: pixels, timestamp: time, index: index)
        }
        let (rotated, rotatedWidth, rotatedHeight) = Self.rotate(pixels, width: outWidth, height: outHeight, clockwise: rotation)
        return GrayFrame(width: rotatedWidth, height: rotatedHeight, pixels: rotated, timestamp: time, index: index)
    }

    /// Whether a planar-luma frame's luma is limited range (16-235), to be expanded to full range.
    private static func hasLimitedRangeLuma(_ frame: UnsafeMutablePointer<AVFrame>) -> Bool {
        let fullRange: Set<Int32> = [AV_PIX_FMT_YUVJ420P.rawValue, AV_PIX_FMT_YUVJ422P.rawValue, AV_PIX_FMT_YUVJ444P.rawValue,
                                     AV_PIX_FMT_GRAY8.rawValue]
        return frame.pointee.color_range != AVCOL_RANGE_JPEG && !fullRange.contains(frame.pointee.format)
    }

    /// Converts a frame into `pixels` (`outWidth` x `outHeight`, gray) with swscale, scaling down with the area
    /// filter: planar YUV through its luma plane (then expanding limited range), other formats converted.
    private func scale(_ frame: UnsafeMutablePointer<AVFrame>, width: Int, height: Int, into pixels: inout [UInt8],
                       outWidth: Int, outHeight: Int, source: String) throws(MediaError) {
        let format = frame.pointee.format
        let lumaOnly = Self.planarLuma.contains(format)
        scaler = sws_getCachedContext(
            scaler, Int32(width), Int32(height), lumaOnly ? AV_PIX_FMT_GRAY8 : AVPixelFormat(rawValue: format),
            Int32(outWidth), Int32(outHeight), AV_PIX_FMT_GRAY8, SWS_AREA, nil, nil, nil
        )
        guard let scaler else {
            throw MediaError(.decodingFailed, source: source, reason: "unsupported pixel format \(format) (\(width)x\(height))")
        }
        pixels.withUnsafeMutableBufferPointer { out in
            var destination: [UnsafeMutablePointer<UInt8>?] = [out.baseAddress, nil, nil, nil]
            var lineSizes: [Int32] = [Int32(outWidth), 0, 0, 0]
            withUnsafePointer(to: &frame.pointee.data) { dataTuple in
                dataTuple.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { planes in
                    withUnsafePointer(to: &frame.pointee.linesize) { sizeTuple in
                        sizeTuple.withMemoryRebound(to: Int32.self, capacity: 8) { sizes in
                            _ = sws_scale(scaler, planes, sizes, 0, Int32(height), &destination, &lineSizes)
                        }
                    }
                }
            }
        }
        if lumaOnly, Self.hasLimitedRangeLuma(frame) {
            expandLimitedRange.withUnsafeBufferPointer { table in
                for offset in pixels.indices { pixels[offset] = table[Int(pixels[offset])] }
            }
        }
    }

    /// `pixels` (`width` x `height`) turned clockwise by 90, 180 or 270 degrees.
    static func rotate(_ pixels: [UInt8], width: Int, height: Int, clockwise degrees: Int) -> ([UInt8], Int, Int) {
        var out = [UInt8](repeating: 0, count: pixels.count)
        let (outWidth, outHeight) = degrees == 180 ? (width, height) : (height, width)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for row in 0..<height {
                    let input = source.baseAddress! + row * width
                    switch degrees {
                    case 90:  // input (row, column) -> output (column, height - 1 - row)
                        for column in 0..<width { target[column * outWidth + (height - 1 - row)] = input[column] }
                    case 180:
                        let output = target.baseAddress! + (height - 1 - row) * width
                        for column in 0..<width { output[width - 1 - column] = input[column] }
                    default:  // 270: input (row, column) -> output (width - 1 - column, row)
                        for column in 0..<width { target[(width - 1 - column) * outWidth + row] = input[column] }
                    }
                }
            }
        }
        return (out, outWidth, outHeight)
    }

    deinit {
        sws_freeContext(scaler)
    }
}

extension MediaFile {
    /// Decodes every frame of the best video stream and discards it: the decode-only cost of a file
    /// (the ceiling a video worker is measured against).
    ///
    /// - Returns: The number of frames decoded.
    public func decodeAllFrames() throws -> Int {
        try startPass(range: nil, source: source.location)
        let decoder = try StreamDecoder(file: self, type: AVMEDIA_TYPE_VIDEO)
        var count = 0
        try decoder.decode(from: self) { _ in
            count += 1
            return true
        }
        return count
    }
}
