import ArgumentParser
import CommandSupport
import Foundation
import Media

extension Coordinator {
    /// Shows what the media probe finds in files: container, duration, and each stream (with a video's rotation).
    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each file's container, duration and streams (codec, size, frame rate, display rotation, audio format)."
        )

        @Argument(help: "Media files (local paths or http(s) URLs).")
        var files: [String]

        @Flag(help: "One JSON object per file instead of a table.")
        var json = false

        func run() throws {
            var rows: [[String]] = []
            var failed = false
            for file in files {
                do {
                    let info = try MediaFile(MediaSource(file)).info
                    if json {
                        print(ReportPrinter.jsonLine(ProbeLine(file: file, info: info, error: nil)))
                        continue
                    }
                    for stream in info.streams {
                        let detail = switch stream.kind {
                        case .video: String(format: "%dx%d %.2f fps, rotation %d (shown %dx%d)", stream.width, stream.height,
                                            stream.frameRate, stream.rotation, stream.displayWidth, stream.displayHeight)
                        case .audio: "\(stream.sampleRate) Hz, \(stream.channels) channel(s)"
                        case .other: ""
                        }
                        rows.append([(file as NSString).lastPathComponent, info.format, String(format: "%.2f", info.duration),
                                     "\(stream.index)", stream.kind.rawValue, stream.codec, detail])
                    }
                } catch {
                    failed = true
                    if json {
                        print(ReportPrinter.jsonLine(ProbeLine(file: file, info: nil, error: String(describing: error))))
                    } else {
                        rows.append([(file as NSString).lastPathComponent, "-", "-", "-", "-", "-", "\(error)"])
                    }
                }
            }
            if !json {
                print(ReportPrinter.table(header: ["file", "format", "seconds", "stream", "kind", "codec", "detail"], rows: rows))
            }
            if failed { throw ExitCode(1) }
        }
    }
}

/// One `probe --json` line.
struct ProbeLine: Encodable {
    var file: String
    var info: MediaInfo?
    var error: String?
}
