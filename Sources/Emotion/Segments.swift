/// A window of a long clip, analysed as its own job.
public struct Segment: Sendable, Codable, Hashable {
    /// Position in the clip, from 0.
    public var index: Int
    /// Start, in seconds from the start of the clip.
    public var start: Double
    /// Length in seconds.
    public var duration: Double

    public init(index: Int, start: Double, duration: Double) {
        self.index = index
        self.start = start
        self.duration = duration
    }

    public var end: Double { start + duration }
}

/// How long clips are split into windows.
public struct SegmentPlan: Sendable, Equatable {
    /// Clips longer than this (seconds) are split; shorter ones are one job per stream.
    public var threshold: Double
    /// Window length in seconds.
    public var length: Double
    /// Seconds between window starts (equal to `length` for back-to-back windows).
    public var hop: Double

    public init(threshold: Double = 60, length: Double = 5, hop: Double? = nil) {
        precondition(length > 0 && (hop ?? length) > 0, "segment length and hop must be positive")
        self.threshold = threshold
        self.length = length
        self.hop = hop ?? length
    }

    /// The windows of a clip of `duration` seconds, or an empty array when the clip is not split.
    /// The last window ends at the clip's end; a tail shorter than half a window joins the previous one.
    public func segments(forDuration duration: Double) -> [Segment] {
        guard duration > threshold, duration > length else { return [] }
        var segments: [Segment] = []
        var start = 0.0
        while start < duration {
            var end = min(start + length, duration)
            if duration - end < length / 2 { end = duration }
            segments.append(Segment(index: segments.count, start: start, duration: end - start))
            if end >= duration { break }
            start += hop
        }
        return segments
    }
}

/// One analysed window, as the summary sees it.
public struct SegmentOutcome: Sendable, Equatable {
    public var segment: Segment
    /// The fused label, or `nil` when neither stream answered for the window.
    public var fused: EmotionLabel?
    public var audio: EmotionLabel?
    public var video: EmotionLabel?

    public init(segment: Segment, fused: EmotionLabel?, audio: EmotionLabel?, video: EmotionLabel?) {
        self.segment = segment
        self.fused = fused
        self.audio = audio
        self.video = video
    }
}

/// A long clip in a few numbers: how much of its time each emotion takes, which dominates, and how much of it
/// the voice and the face disagree on.
public struct ClipSummary: Sendable, Equatable, Codable {
    /// Share of the analysed time (windows with a fused label) per canonical label, in `EmotionLabel` order.
    public var shares: [Double]
    /// The label with the largest share (`nil` when no window has a label).
    public var dominant: EmotionLabel?
    /// Share of the time, among windows where both streams answered, in which they disagree.
    public var disagreement: Double
    /// Seconds with a fused label.
    public var analysedSeconds: Double

    /// Summarises window outcomes (overlapping windows count each second once per window).
    public init(_ outcomes: [SegmentOutcome]) {
        var seconds = [Double](repeating: 0, count: EmotionLabel.allCases.count)
        var both = 0.0
        var disagreeing = 0.0
        for outcome in outcomes {
            let length = outcome.segment.duration
            if let label = outcome.fused { seconds[label.index] += length }
            if let audio = outcome.audio, let video = outcome.video {
                both += length
                if audio != video { disagreeing += length }
            }
        }
        let total = seconds.reduce(0, +)
        analysedSeconds = total
        let shares = seconds.map { total > 0 ? $0 / total : 0 }
        self.shares = shares
        dominant = total > 0 ? EmotionLabel.allCases[argmax(shares) ?? 0] : nil
        disagreement = both > 0 ? disagreeing / both : 0
    }
}
