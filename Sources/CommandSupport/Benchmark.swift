import Foundation

/// Figures printed by the `benchmark` commands.
public struct BenchmarkReport: Codable, Sendable {
    public var clips: Int
    /// Seconds spent in the measured work, summed over clips.
    public var seconds: Double
    public var clipsPerSecond: Double
    /// Mean milliseconds per clip for each stage.
    public var stagesMillisecondsPerClip: [String: Double]
    /// Decode-only throughput of the same clips (video), measured alternately with the worker's.
    public var decodeOnlyClipsPerSecond: Double?
    /// Worker throughput over the decode-only ceiling (video).
    public var ratioToDecodeOnly: Double?
    public var failures: Int
    public var peakRSSMegabytes: Double

    enum CodingKeys: String, CodingKey {
        case clips, seconds, clipsPerSecond = "clips_per_second", stagesMillisecondsPerClip = "stages_ms_per_clip"
        case decodeOnlyClipsPerSecond = "decode_only_clips_per_second", ratioToDecodeOnly = "ratio_to_decode_only"
        case failures, peakRSSMegabytes = "peak_rss_mb"
    }

    /// Builds the report from per-clip stage timings (seconds) and the total measured time.
    public init(timings: [[String: Double]], seconds: Double, failures: Int, decodeOnlySeconds: Double? = nil) {
        clips = timings.count
        self.seconds = seconds
        clipsPerSecond = seconds > 0 ? Double(clips) / seconds : 0
        var totals: [String: Double] = [:]
        for clip in timings { for (stage, value) in clip { totals[stage, default: 0] += value } }
        let count = Double(max(timings.count, 1))
        stagesMillisecondsPerClip = totals.mapValues { 1000 * $0 / count }
        if let decodeOnlySeconds, decodeOnlySeconds > 0 {
            decodeOnlyClipsPerSecond = Double(clips) / decodeOnlySeconds
            ratioToDecodeOnly = clipsPerSecond / decodeOnlyClipsPerSecond!
        }
        self.failures = failures
        peakRSSMegabytes = peakResidentMegabytes()
    }

    /// Human-readable lines.
    public var text: String {
        var lines = [String(format: "%d clips in %.2f s: %.2f clips/s (1 thread)", clips, seconds, clipsPerSecond)]
        if let decode = decodeOnlyClipsPerSecond, let ratio = ratioToDecodeOnly {
            lines.append(String(format: "decode-only ceiling (all frames, 1 thread): %.2f clips/s; worker / ceiling = %.2f", decode, ratio))
        }
        for (stage, value) in stagesMillisecondsPerClip.sorted(by: { $0.key < $1.key }) {
            lines.append("  " + stage.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%8.2f ms/clip", value))
        }
        lines.append(String(format: "peak RSS %.1f MB; %d failed clip(s)", peakRSSMegabytes, failures))
        return lines.joined(separator: "\n")
    }
}

/// Peak resident set size of this process so far, in megabytes (`getrusage`).
public func peakResidentMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Seconds `body` takes on the continuous clock.
public func measure<Result>(_ body: () throws -> Result) rethrows -> (result: Result, seconds: Double) {
    let start = ContinuousClock.now
    let result = try body()
    let elapsed = ContinuousClock.now - start
    return (result, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
}
