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

        @Flag(help: "Export one row per face track (face_emotions): each face's own emotion and whether it speaks.")
        var faces = false

        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let store = try connection.openStore()
            var sink: FileHandle?
            var tableWidths: [Int]?
            var json: JSONRowFormatter?
            let shown = shownColumns
            // Rows arrive a few thousand at a time from a server-side cursor and are written as they come, so
            // memory stays the same however large the batch.
            let write = { (rows: [Row]) throws in
                var text = ""
                if sink == nil {
                    sink = try output.map { path in
                        guard FileManager.default.createFile(atPath: path, contents: nil) else {
                            throw ValidationError("cannot write \(path)")
                        }
                        return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                    } ?? FileHandle.standardOutput
                    switch format {
                    case .csv: text = rows[0].columns.map(Self.csvField).joined(separator: ",") + "\n"
                    case .json: json = JSONRowFormatter(columns: rows[0].columns)
                    case .table:
                        // Column widths from the first rows; a longer value further down overflows its column.
                        let cells = rows.map(tableCells)
                        tableWidths = shown.indices.map { column in ([shown[column]] + cells.map { $0[column] }).map(\.count).max() ?? 0 }
                        text = Self.tableLine(shown, widths: tableWidths ?? []) + "\n"
                            + (tableWidths ?? []).map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
                    }
                }
                for row in rows {
                    switch format {
                    case .csv: text += row.values.map { Self.csvField($0 ?? "") }.joined(separator: ",")
                    case .json: text += json?.object(row) ?? "{}"
                    case .table: text += Self.tableLine(tableCells(row), widths: tableWidths ?? [])
                    }
                    text += "\n"
                }
                try sink?.write(contentsOf: Data(text.utf8))
            }
            let count = faces ? try store.forEachFace(batch: batch, write)
                : segments ? try store.forEachSegment(batch: batch, write) : try store.forEachClip(batch: batch, write)
            try sink?.close()
            guard count > 0 else {
                throw ValidationError(faces ? "no face tracks in batch \(batch)"
                                      : segments ? "no split clips in batch \(batch)" : "no clips in batch \(batch)")
            }
        }

        func validate() throws {
            if faces && segments { throw ValidationError("--faces and --segments are different exports: give one") }
        }

        /// The columns of the table format.
        var shownColumns: [String] {
            faces ? ["path", "segment_index", "track", "is_speaker", "speaking", "label", "confidence", "start_seconds", "end_seconds"]
            : segments
                ? ["path", "segment_index", "start_seconds", "end_seconds", "fused_label", "audio_label", "video_label", "error"]
                : ["path", "status", "fused_label", "fused_confidence", "streams_disagree", "audio_label", "video_label", "faces_found", "error"]
        }

        /// The table's cells of one row.
        func tableCells(_ row: Row) -> [String] {
            shownColumns.map { column in
                let value = row[column] ?? ""
                if column == "path" { return (value as NSString).lastPathComponent }
                if column.hasSuffix("confidence"), let number = Double(value) { return String(format: "%.2f", number) }
                if column == "streams_disagree" { return value == "t" ? "yes" : "" }
                return value
            }
        }

        static func tableLine(_ cells: [String], widths: [Int]) -> String {
            cells.enumerated().map { index, text in
                text + String(repeating: " ", count: max(0, (index < widths.count ? widths[index] : 0) - text.count))
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }

        static func csvField(_ value: String) -> String {
            guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return value }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }
}
