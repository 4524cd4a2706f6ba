/// Counts of (true label, predicted label) pairs over a fixed label list, with the usual summaries.
public struct ConfusionMatrix: Sendable, Equatable {
    /// The classes, in row and column order.
    public let labels: [String]
    /// `counts[truth][prediction]`.
    public private(set) var counts: [[Int]]

    public init(labels: [String]) {
        self.labels = labels
        counts = Array(repeating: Array(repeating: 0, count: labels.count), count: labels.count)
    }

    /// Records one example. Labels outside `labels` are a programming error.
    public mutating func add(truth: String, prediction: String) {
        guard let row = labels.firstIndex(of: truth), let column = labels.firstIndex(of: prediction) else {
            preconditionFailure("unknown label \(truth) or \(prediction)")
        }
        counts[row][column] += 1
    }

    /// Number of examples.
    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

    /// Fraction predicted correctly (0 when empty).
    public var accuracy: Double {
        let correct = labels.indices.reduce(0) { $0 + counts[$1][$1] }
        return total > 0 ? Double(correct) / Double(total) : 0
    }

    /// Recall of each class (`nil` for a class with no examples).
    public var recall: [Double?] {
        labels.indices.map { row in
            let support = counts[row].reduce(0, +)
            return support > 0 ? Double(counts[row][row]) / Double(support) : nil
        }
    }

    /// Unweighted mean of per-class F1 over the classes that occur in the truth.
    public var macroF1: Double {
        var scores: [Double] = []
        for index in labels.indices {
            let support = counts[index].reduce(0, +)
            guard support > 0 else { continue }
            let predicted = counts.reduce(0) { $0 + $1[index] }
            let correct = Double(counts[index][index])
            let precision = predicted > 0 ? correct / Double(predicted) : 0
            let recall = correct / Double(support)
            scores.append(precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0)
        }
        return scores.isEmpty ? 0 : scores.reduce(0, +) / Double(scores.count)
    }
}
