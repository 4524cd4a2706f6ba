/// One decoded video frame as an 8-bit gray image (full range, 0 = black), rows packed without padding.
public struct GrayFrame: Sendable {
    public var width: Int
    public var height: Int
    /// `width * height` luma values, row by row.
    public var pixels: [UInt8]
    /// Presentation time in seconds.
    public var timestamp: Double
    /// Index of the frame in decode order within the decoded range, counting from zero.
    public var index: Int

    public init(width: Int, height: Int, pixels: [UInt8], timestamp: Double, index: Int) {
        precondition(pixels.count == width * height, "pixel count must be width * height")
        self.width = width
        self.height = height
        self.pixels = pixels
        self.timestamp = timestamp
        self.index = index
    }
}

/// Which decoded frames a caller wants.
public enum FrameSampling: Sendable, Hashable {
    /// About `framesPerSecond` frames per second of media time, the first at the start.
    case rate(framesPerSecond: Double)
    /// Every `step`-th frame from frame index `skip` on (the reference project: step 3, skip 20).
    case stride(step: Int, skip: Int)
    /// Every frame.
    case all

    /// The reference project's scheme: every 3rd frame after the first 20.
    public static let reference = FrameSampling.stride(step: 3, skip: 20)

    /// Decides frame by frame; `next` keeps the state of a rate-based choice.
    struct Selector {
        let sampling: FrameSampling
        /// With `.rate`, the media time of the next wanted frame (relative to the range start).
        var nextTime: Double?

        init(_ sampling: FrameSampling) { self.sampling = sampling }

        mutating func wants(index: Int, time: Double) -> Bool {
            switch sampling {
            case .all:
                return true
            case .stride(let step, let skip):
                return index >= skip && (index - skip) % max(step, 1) == 0
            case .rate(let fps):
                guard fps > 0 else { return true }
                let interval = 1 / fps
                guard let due = nextTime else {
                    nextTime = time + interval
                    return true
                }
                // A small tolerance keeps 30 fps -> 10 fps picking every 3rd frame despite rounding.
                guard time + interval * 0.01 >= due else { return false }
                nextTime = max(due + interval, time + interval * 0.5)
                return true
            }
        }
    }
}
