import ArgumentParser
import CommandSupport
import Foundation
import Store

extension Coordinator {
    /// Writes a batch's per-clip results.
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a batch's per-clip results as CSV, JSON lines or a table.")

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case csv, json, table
        }

        @Argument(help: "The batch name.")
        var batch: String

        @Option(help: "Output format: csv, json (one object per line) or table.")
        var format: Format = .csv

        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
        var output: String?

        @Flag(help: "Export one row per window of the batch's long clips (segment_emotions) instead of one per clip.")
        var segments = false

        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let store = try connection.openStore()
            let rows = segments ? try store.segments(batch: batch) : try store.clips(batch: batch)
            guard let columns = rows.first?.columns else {
                throw ValidationError(segments ? "no split clips in batch \(batch)" : "no clips in batch \(batch)")
            }
            let text: String
            switch format {
            case .csv:
                text = ([columns] + rows.map { $0.values.map { $0 ?? "" } })
                    .map { $0.map(Self.csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
            case .json:
                text = rows.map { row in
                    ReportPrinter.jsonLine(Dictionary(uniqueKeysWithValues: row.columns.indices.map { (row.columns[$0], row.typedValue(at: $0)) }))
                }.joined(separator: "\n") + "\n"
            case .table:
                let shown = segments
                    ? ["path", "segment_index", "start_seconds", "end_seconds", "fused_label", "audio_label", "video_label", "error"]
                    : ["path", "status", "fused_label", "fused_confidence", "streams_disagree", "audio_label", "video_label", "faces_found", "error"]
                text = ReportPrinter.table(header: shown, rows: rows.map { row in
                    shown.map { column in
                        let value = row[column] ?? ""
                        if column == "path" { return (value as NSString).lastPathComponent }
                        if column.hasSuffix("confidence"), let number = Double(value) { return String(format: "%.2f", number) }
                        if column == "streams_disagree" { return value == "t" ? "yes" : "" }
                        return value
                    }
                }) + "\n"
            }
            if let output {
                try text.write(toFile: output, atomically: true, encoding: .utf8)
            } else {
                print(text, terminator: "")
            }
        }

        static func csvField(_ value: String) -> String {
            guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return value }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }
}
