import Foundation

/// One frame's face-model output, with what the detector said about the face.
public struct FrameEvidence: Sendable, Equatable, Codable {
    /// The face model's raw outputs.
    public var logits: [Float]
    /// The detector's confidence in 0...1.
    public var detectionScore: Double
    /// Face height in pixels (as found in the frame).
    public var faceSize: Double
    /// When the frame was shown, in seconds from the start of the media (`nil` where unknown).
    public var time: Double?

    public init(logits: [Float], detectionScore: Double, faceSize: Double, time: Double? = nil) {
        self.logits = logits
        self.detectionScore = detectionScore
        self.faceSize = faceSize
        self.time = time
    }
}

/// How a clip's frame outputs become one set of clip logits.
public enum FrameAggregation: String, Sendable, CaseIterable, Codable {
    /// The mean of the frames' logits.
    case meanLogits = "mean_logits"
    /// The log of the mean of the frames' probabilities.
    case meanProbabilities = "mean_probabilities"
    /// Mean logits weighted by the detector's score (blurred, turned or half-hidden faces count less).
    case detectionWeighted = "detection_weighted"
    /// Mean logits weighted by the model's own top probability in each frame.
    case confidenceWeighted = "confidence_weighted"
    /// Mean logits of the frames left after dropping the quarter farthest from the median frame.
    case trimmedMean = "trimmed_mean"
    /// Mean logits of the most confident half of the frames.
    case topHalf = "top_half"
    /// Mean logits weighted by how far each frame departs from the track's own resting face (its baseline: the
    /// mean probabilities of the third of its frames most like `neutral`): a posed take's expression, a few hundred
    /// milliseconds between neutral frames, outweighs them; a face that never moves is weighed evenly.
    case baselineDeparture = "baseline_departure"
    /// Mean logits of the third of the frames that depart most from the track's baseline (as `baselineDeparture`).
    case peakDeparture = "peak_departure"
    /// The expression's apex, as posed-expression sets label a sequence by its peak frame: mean logits of the frames
    /// that depart most from the track's baseline (as `baselineDeparture`), as many as `apexDuration` holds at the
    /// track's sampling rate (four at the worker's 10 frames per second). A face that never departs is read at its most departing
    /// frames, which still look like its resting face.
    case apex = "apex"

    /// Weight every frame keeps under `baselineDeparture`, so that a steady face is weighed evenly.
    static let departureFloor = 0.05
    /// Seconds of frames that `apex` reads: a posed expression holds its peak for a few hundred milliseconds.
    static let apexDuration = 0.4
    /// Frames per second `apex` assumes where the frames carry no time (the video worker's default sampling,
    /// `FaceEmotionRecognizer.framesPerSecond`).
    static let assumedFrameRate = 10.0

    /// The clip logits, or `nil` without frames. `neutral` is the index of the `neutral` output; without it the
    /// baseline of the departure methods is the track's median frame.
    public func clipLogits(_ frames: [FrameEvidence], neutral: Int? = nil) -> [Float]? {
        guard let first = frames.first else { return nil }
        let count = first.logits.count
        switch self {
        case .meanLogits:
            return Self.weightedMean(frames.map(\.logits), weights: frames.map { _ in 1 }, count: count)
        case .meanProbabilities:
            let probabilities = frames.map { softmax($0.logits) }
            let mean = Self.weightedMean(probabilities, weights: frames.map { _ in 1 }, count: count)
            return mean.map { $0.map { Float(log(max(Double($0), 1e-12))) } }
        case .detectionWeighted:
            return Self.weightedMean(frames.map(\.logits), weights: frames.map { max($0.detectionScore, 1e-3) }, count: count)
        case .confidenceWeighted:
            return Self.weightedMean(frames.map(\.logits), weights: frames.map { Double(softmax($0.logits).max() ?? 0) }, count: count)
        case .trimmedMean:
            guard frames.count >= 4 else { return Self.meanLogits.clipLogits(frames) }
            let median = (0..<count).map { index -> Float in
                let values = frames.map { $0.logits[index] }.sorted()
                return values[values.count / 2]
            }
            let ranked = frames.sorted { Self.distance($0.logits, median) < Self.distance($1.logits, median) }
            return Self.meanLogits.clipLogits(Array(ranked.prefix(frames.count - frames.count / 4)))
        case .topHalf:
            let ranked = zip(frames, frames.map { softmax($0.logits).max() ?? 0 }).sorted { $0.1 > $1.1 }.map(\.0)
            return Self.meanLogits.clipLogits(Array(ranked.prefix(max(1, (frames.count + 1) / 2))))
        case .baselineDeparture:
            let departures = Self.departures(frames, neutral: neutral, count: count)
            return Self.weightedMean(frames.map(\.logits), weights: departures.map { $0 + Self.departureFloor }, count: count)
        case .peakDeparture:
            return Self.meanOfMostDeparting(frames, neutral: neutral, count: count, keeping: (frames.count + 2) / 3)
        case .apex:
            let apexFrames = Int((Self.apexDuration * Self.frameRate(frames)).rounded())
            return Self.meanOfMostDeparting(frames, neutral: neutral, count: count, keeping: apexFrames)
        }
    }

    /// Mean logits of the `keeping` frames (at least one) that depart most from the track's baseline.
    private static func meanOfMostDeparting(_ frames: [FrameEvidence], neutral: Int?, count: Int, keeping: Int) -> [Float]? {
        let ranked = zip(frames, departures(frames, neutral: neutral, count: count)).sorted { $0.1 > $1.1 }.map(\.0)
        return meanLogits.clipLogits(Array(ranked.prefix(max(1, keeping))))
    }

    /// Frames per second of a track, from its frames' times (`assumedFrameRate` where they have none).
    static func frameRate(_ frames: [FrameEvidence]) -> Double {
        let times = frames.compactMap(\.time)
        guard times.count == frames.count, times.count > 1, let first = times.min(), let last = times.max(), last > first else {
            return assumedFrameRate
        }
        return Double(times.count - 1) / (last - first)
    }

    /// Each frame's total-variation distance (0...1) between its probabilities and the track's baseline.
    static func departures(_ frames: [FrameEvidence], neutral: Int?, count: Int) -> [Double] {
        let probabilities = frames.map { softmax($0.logits) }
        let baseline: [Float]
        if let neutral, neutral >= 0, neutral < count {
            let restful = probabilities.sorted { $0[neutral] > $1[neutral] }.prefix(max(1, (frames.count + 2) / 3))
            baseline = weightedMean(Array(restful), weights: restful.map { _ in 1 }, count: count) ?? probabilities[0]
        } else {
            let median = (0..<count).map { index -> Float in
                let values = frames.map { $0.logits[index] }.sorted()
                return values[values.count / 2]
            }
            baseline = softmax(median)
        }
        return probabilities.map { row in
            0.5 * zip(row, baseline).map { Double(abs($0 - $1)) }.reduce(0, +)
        }
    }

    private static func weightedMean(_ rows: [[Float]], weights: [Double], count: Int) -> [Float]? {
        let total = weights.reduce(0, +)
        guard total > 0 else { return nil }
        var sum = [Double](repeating: 0, count: count)
        for (row, weight) in zip(rows, weights) where row.count == count {
            for index in 0..<count { sum[index] += Double(row[index]) * weight }
        }
        return sum.map { Float($0 / total) }
    }

    private static func distance(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
    }
}
