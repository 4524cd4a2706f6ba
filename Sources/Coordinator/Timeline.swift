import ArgumentParser
import CommandSupport
import Emotion
import Foundation
import Pipeline
import Store

extension Coordinator {
    /// Renders a clip's emotion timeline.
    struct Timeline: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw a clip's emotion timeline (audio, video and fused lanes over time) as an SVG page."
        )

        @Argument(help: "The clip id (clip_id in clip_emotions) or its path.")
        var clip: String

        @Option(name: .shortAndLong, help: "Write the SVG here (default: timeline-<clip id>.svg).")
        var out: String?

        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let store = try connection.openStore()
            let id: Int64
            if let number = Int64(clip) {
                id = number
            } else if let found = try store.clipID(source: clip, path: URL(fileURLWithPath: clip).standardizedFileURL.path) {
                id = found
            } else {
                throw ValidationError("no clip \(clip)")
            }
            let (path, duration, rows) = try store.timeline(clipID: id)
            let windows = rows.map { row in
                TimelineSVG.Window(start: row.double("start_seconds") ?? 0, end: row.double("end_seconds") ?? 0,
                                   audio: row["audio_label"].flatMap(EmotionLabel.init(rawValue:)),
                                   video: row["video_label"].flatMap(EmotionLabel.init(rawValue:)),
                                   fused: row["fused_label"].flatMap(EmotionLabel.init(rawValue:)))
            }
            let file = out ?? "timeline-\(id).svg"
            try TimelineSVG.render(title: (path as NSString).lastPathComponent, duration: duration, windows: windows)
                .write(toFile: file, atomically: true, encoding: .utf8)
            print("wrote \(file) (\(windows.count) window(s), \(String(format: "%.1f", duration)) s)")
        }
    }
}
