import Emotion
import Foundation
import Store
import Testing
import TestSupport

/// A long video made by concatenating real clips with known labels: its windows must line up with the clips
/// and carry the right labels as often as the clips analysed one by one.
@Suite(.enabled(if: TestStack.available && TestData.available && TestData.modelsAvailable && TestStack.executablesAvailable
                && TestData.hasFFmpegTool, "needs scripts/stack up, ../shared/data, the committed models, `swift build` and the ffmpeg CLI"),
       .serialized)
struct LongVideoTests {
    static let spanSeconds = 3.0

    @Test func windowsFollowTheConcatenatedClips() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let singles = folder.appendingPathComponent("singles")
        try FileManager.default.createDirectory(at: singles, withIntermediateDirectories: true)
        // The clips with real speech, each cut to 3 s and re-encoded alike so that they concatenate cleanly.
        var sources = try FileManager.default.contentsOfDirectory(atPath: TestData.avClips.path)
            .filter { $0.hasPrefix("01-") }.sorted().map { TestData.avClips.appendingPathComponent($0).path }
        sources.append(TestData.sharedData.appendingPathComponent("ravdess/av/reencoded/01-01-07-02-02-01-01.mp4").path)
        var parts: [String] = []
        for source in sources {
            let part = singles.appendingPathComponent((source as NSString).lastPathComponent).path
            try TestData.ffmpeg(["-i", source, "-t", String(Self.spanSeconds), "-vf", "scale=640:360,fps=30,setsar=1",
                                 "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                                 "-c:a", "aac", "-ar", "48000", "-ac", "2", part])
            parts.append(part)
        }
        let list = folder.appendingPathComponent("parts.txt")
        try parts.map { "file '\($0)'" }.joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        let long = folder.appendingPathComponent("long interview.mp4").path
        try TestData.ffmpeg(["-f", "concat", "-safe", "0", "-i", list.path, "-c", "copy", long])

        let logs = folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let services = [
            try TestStack.start("er-fusion", ["run"], log: logs.appendingPathComponent("fusion.log")),
            try TestStack.start("er-audio-worker", ["run"], log: logs.appendingPathComponent("audio.log")),
            try TestStack.start("er-video-worker", ["run", "--concurrency", "2"], log: logs.appendingPathComponent("video.log")),
        ]
        defer {
            for service in services where service.isRunning { service.terminate() }
            for service in services { service.waitUntilExit() }
        }

        try TestStack.waitForConsumers(["er.jobs.audio": 1, "er.jobs.video": 1, "er.results": 1])
        let suffix = UUID().uuidString.prefix(8)
        let longBatch = "long-\(suffix)"
        let singleBatch = "singles-\(suffix)"
        #expect(try TestStack.run("er-coordinator", ["submit", long, "--batch", longBatch,
                                                     "--segment-threshold", "10", "--segment-length", String(Self.spanSeconds)]).status == 0)
        #expect(try TestStack.run("er-coordinator", ["submit", singles.path, "--batch", singleBatch]).status == 0)
        #expect(try TestStack.run("er-coordinator", ["wait", longBatch, "--timeout", "300"]).status == 0)
        #expect(try TestStack.run("er-coordinator", ["wait", singleBatch, "--timeout", "300"]).status == 0)

        let store = ResultStore(database: try DatabaseConnection(url: DatabaseURL(TestStack.databaseURL)))
        let windows = try store.segments(batch: longBatch)
        #expect(windows.count == parts.count, "one window per concatenated clip")
        let singleRows = try store.clips(batch: singleBatch)
        var windowCorrect = 0
        var singleCorrect = 0
        var agreeing = 0
        for (index, part) in parts.enumerated() where index < windows.count {
            let window = windows[index]
            #expect(abs((window.double("start_seconds") ?? -1) - Double(index) * Self.spanSeconds) < 0.05)
            let truth = try #require(RavdessName(path: part)).emotion.canonical.rawValue
            let single = singleRows.first { $0["path"] == part }?["fused_label"]
            if window["fused_label"] == truth { windowCorrect += 1 }
            if single == truth { singleCorrect += 1 }
            if window["fused_label"] == single { agreeing += 1 }
        }
        #expect(windowCorrect >= singleCorrect - 1, "windows right \(windowCorrect), single clips right \(singleCorrect)")
        #expect(agreeing >= parts.count - 2, "windows agreeing with the single clips: \(agreeing) of \(parts.count)")

        let clip = try #require(try store.clips(batch: longBatch).first)
        #expect(clip["status"] == "done" && clip["segment_count"] == String(parts.count))
        #expect(clip["dominant_label"] != nil && clip["fused_basis"] == "segments")

        let svg = folder.appendingPathComponent("timeline.svg").path
        #expect(try TestStack.run("er-coordinator", ["timeline", clip["clip_id"]!, "--out", svg]).status == 0)
        let drawing = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(drawing.hasPrefix("<svg") && drawing.components(separatedBy: "<title>fused").count == parts.count + 1)

        let exported = try TestStack.run("er-coordinator", ["export", longBatch, "--segments", "--format", "csv"])
        #expect(exported.output.split(separator: "\n").count == parts.count + 1)
    }
}
