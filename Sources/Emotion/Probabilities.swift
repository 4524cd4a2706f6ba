import Foundation

/// Numerically stable softmax.
public func softmax(_ logits: [Float]) -> [Float] {
    guard let peak = logits.max() else { return [] }
    let exponentials = logits.map { Float(exp(Double($0 - peak))) }
    let total = exponentials.reduce(0, +)
    return exponentials.map { $0 / total }
}

/// Index of the largest value (the first on ties), or `nil` for an empty array.
public func argmax<Value: Comparable>(_ values: [Value]) -> Int? {
    guard var best = values.indices.first else { return nil }
    for index in values.indices where values[index] > values[best] { best = index }
    return best
}

/// Mean of per-frame logit vectors: the clip's logits. `nil` when there are no frames.
///
/// Averaging logits equals averaging log-probabilities up to a per-frame constant, so the clip's
/// softmax is the normalised geometric mean of the frames' probabilities.
public func clipLogits(frames: [[Float]]) -> [Float]? {
    guard let first = frames.first else { return nil }
    var sum = [Double](repeating: 0, count: first.count)
    for frame in frames {
        precondition(frame.count == sum.count, "every frame must have the same number of logits")
        for index in frame.indices { sum[index] += Double(frame[index]) }
    }
    return sum.map { Float($0 / Double(frames.count)) }
}

