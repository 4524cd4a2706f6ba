import Emotion
import Foundation

/// Renders results for people (aligned text) or programs (JSON).
public enum ReportPrinter {
    /// One-line JSON of any encodable value, keys sorted.
    public static func jsonLine<Value: Encodable>(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The evaluation summary with its confusion matrix (rows: truth, columns: prediction).
    public static func text(_ report: EvaluationReport, title: String) -> String {
        var lines = [title]
        lines.append(String(format: "n = %d   accuracy = %.4f   macro-F1 = %.4f", report.n, report.accuracy, report.macroF1))
        lines.append("")
        let width = max(9, (report.labels.map(\.count).max() ?? 0) + 2)
        func cell(_ text: String) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        lines.append(cell("truth\\pred") + report.labels.map(cell).joined() + cell("recall"))
        for (row, label) in report.labels.enumerated() {
            let counts = report.confusion[row]
            let support = counts.reduce(0, +)
            let recall = support > 0 ? String(format: "%.2f", Double(counts[row]) / Double(support)) : "-"
            lines.append(cell(label) + counts.map { cell(String($0)) }.joined() + cell(recall))
        }
        if let detection = report.detection {
            lines.append("")
            lines.append(String(format: "faces: %d/%d clips, %d/%d sampled frames (%.3f); median face height %.3f of the frame, smallest %.3f",
                                detection.clipsWithFace, detection.clips, detection.framesWithFace, detection.framesSampled,
                                detection.faceFrameRate, detection.medianFaceHeight, detection.smallestFaceHeight))
            func counts(_ values: [String: Int]) -> String {
                values.sorted { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            }
            lines.append("clips by faces seen in one frame: \(counts(detection.facesSeen)); by rotation: \(counts(detection.rotations))")
        }
        if let aggregations = report.aggregations {
            lines.append("")
            lines.append("accuracy by frame aggregation: " + aggregations.sorted { $0.key < $1.key }
                .map { "\($0.key) " + String(format: "%.4f", $0.value) }.joined(separator: ", "))
        }
        if !report.failures.isEmpty {
            lines.append("")
            lines.append("\(report.failures.count) file(s) failed:")
            for (path, reason) in report.failures.sorted(by: { $0.key < $1.key }) { lines.append("  \(path): \(reason)") }
        }
        return lines.joined(separator: "\n")
    }

    /// Pads `columns` into a table with a header rule.
    public static func table(header: [String], rows: [[String]]) -> String {
        let widths = header.indices.map { column in
            ([header[column]] + rows.map { column < $0.count ? $0[column] : "" }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, text in
                text + String(repeating: " ", count: max(0, widths[index] - text.count))
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
            .joined(separator: "\n")
    }
}

/// Writes to standard error.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
