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
