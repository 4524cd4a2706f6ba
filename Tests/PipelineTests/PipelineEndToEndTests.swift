import Emotion
import Foundation
import Messaging
import Store
import Testing
import TestSupport

/// The whole pipeline on the shared clips, with the real broker, database and executables.
@Suite(.enabled(if: TestStack.available && TestData.available && TestData.modelsAvailable && TestStack.executablesAvailable,
                "needs scripts/stack up, ../shared/data, the committed models and `swift build`"),
       .serialized)
struct PipelineEndToEndTests {
    @Test func everySharedClipEndsWithExactlyOneFusedRowAndABadFileFails() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let media = folder.appendingPathComponent("media")
        try FileManager.default.createDirectory(at: media, withIntermediateDirectories: true)
        let clips = try FileManager.default.contentsOfDirectory(atPath: TestData.avClips.path).filter { $0.hasSuffix(".mp4") }
        for clip in clips {
            try FileManager.default.createSymbolicLink(at: media.appendingPathComponent(clip),
                                                       withDestinationURL: TestData.avClips.appendingPathComponent(clip))
        }
        let broken = media.appendingPathComponent("broken 'clip' $1.mp4")
        _ = FileManager.default.createFile(atPath: broken.path, contents: Data("definitely not a video".utf8))

        let logs = folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        var services = [
            try TestStack.start("er-fusion", ["run"], log: logs.appendingPathComponent("fusion.log")),
            try TestStack.start("er-audio-worker", ["run"], log: logs.appendingPathComponent("audio-1.log")),
            try TestStack.start("er-audio-worker", ["run"], log: logs.appendingPathComponent("audio-2.log")),
            try TestStack.start("er-video-worker", ["run", "--concurrency", "2"], log: logs.appendingPathComponent("video.log")),
        ]
        defer {
            for service in services where service.isRunning { service.terminate() }
            for service in services { service.waitUntilExit() }
        }

        // Submit only once every service consumes, so that the broker spreads the jobs over both audio workers.
        try TestStack.waitForConsumers(["er.jobs.audio": 2, "er.jobs.video": 1, "er.results": 1])

        let batch = "e2e-\(UUID().uuidString.prefix(8))"
        let submitted = try TestStack.run("er-coordinator", ["submit", media.path, "--batch", batch])
        #expect(submitted.status == 0)
        #expect(submitted.output.contains("\(clips.count + 1) clip(s) found, \(clips.count + 1) queued"), "\(submitted.output)")

        let waited = try TestStack.run("er-coordinator", ["wait", batch, "--timeout", "600"])
        #expect(waited.status == 1, "wait exits 1 because one clip failed: \(waited.output)")

        let database = try DatabaseConnection(url: DatabaseURL(TestStack.databaseURL))
        let store = ResultStore(database: database)
        let rows = try store.clips(batch: batch)
        #expect(rows.count == clips.count + 1)
        for row in rows {
            if row["path"] == broken.path {
                #expect(row["status"] == "failed")
                #expect(row["error"]?.contains("not_media_file") == true, "\(row["error"] ?? "")")
            } else {
                #expect(row["status"] == "done", "\(row["path"] ?? ""): \(row["error"] ?? "")")
                #expect(row["fused_label"] != nil)
            }
        }
        // One person in view: that face is the speaker exactly where the voice was heard (as `analyze` says); the
        // video-only takes carry a silent track.
        let speakers = try database.query("""
            SELECT e.path, e.audio_label IS NOT NULL AS heard, e.speaker, count(*) FILTER (WHERE f.is_speaker) AS speaking_faces
            FROM clip_emotions e LEFT JOIN face_emotions f ON f.clip_id = e.clip_id
            WHERE e.batch = $1 AND e.status = 'done' GROUP BY e.path, e.audio_label, e.speaker
            """, [batch])
        #expect(speakers.contains { $0["heard"] == "t" } && speakers.contains { $0["heard"] == "f" })
        for row in speakers {
            let heard = row["heard"] == "t"
            #expect((row["speaker"] != nil) == heard && row["speaking_faces"] == (heard ? "1" : "0"), "\(row["path"] ?? "")")
        }
        let fusedCounts = try database.query("""
            SELECT count(f.clip_id) AS fused, count(DISTINCT f.clip_id) AS distinct_clips
            FROM clips c JOIN batches b ON b.id = c.batch_id LEFT JOIN fused_results f ON f.clip_id = c.id WHERE b.name = $1
            """, [batch])
        #expect(try fusedCounts[0].int("fused") == Int64(clips.count))
        #expect(try fusedCounts[0].int("distinct_clips") == Int64(clips.count))

        // Both audio workers took jobs.
        let audioWorkers = try database.query("""
            SELECT count(DISTINCT s.worker) AS workers FROM stream_results s JOIN clips c ON c.id = s.clip_id
            JOIN batches b ON b.id = c.batch_id WHERE b.name = $1 AND s.stream = 'audio'
            """, [batch])
        #expect(try audioWorkers[0].int("workers") >= 2)

        // Submitting the same folder again adds nothing.
        let countBefore = try database.query("""
            SELECT (SELECT count(*) FROM clips c WHERE c.batch_id = b.id)
                 + (SELECT count(*) FROM stream_results s JOIN clips c ON c.id = s.clip_id WHERE c.batch_id = b.id)
                 + (SELECT count(*) FROM fused_results f JOIN clips c ON c.id = f.clip_id WHERE c.batch_id = b.id) AS n
            FROM batches b WHERE b.name = $1
            """, [batch])
        let again = try TestStack.run("er-coordinator", ["submit", media.path, "--batch", batch])
        #expect(again.output.contains("0 queued, \(clips.count + 1) skipped"), "\(again.output)")
        let countAfter = try database.query("""
            SELECT (SELECT count(*) FROM clips c WHERE c.batch_id = b.id)
                 + (SELECT count(*) FROM stream_results s JOIN clips c ON c.id = s.clip_id WHERE c.batch_id = b.id)
                 + (SELECT count(*) FROM fused_results f JOIN clips c ON c.id = f.clip_id WHERE c.batch_id = b.id) AS n
            FROM batches b WHERE b.name = $1
            """, [batch])
        #expect(try countBefore[0].int("n") == countAfter[0].int("n"))

        let exported = try TestStack.run("er-coordinator", ["export", batch, "--format", "csv"])
        #expect(exported.output.split(separator: "\n").count == clips.count + 2)

        // The JSON export is typed: numbers as numbers, booleans as booleans, NULL as null (decoding fails otherwise).
        struct ExportLine: Decodable {
            var clip_id: Int
            var path: String
            var status: String
            var fused_confidence: Double?
            var audio_confidence: Double?
            var frames_sampled: Int?
            var faces_found: Int?
            var faces_seen: Int?
            var streams_disagree: Bool?
            var disagreement: Double?
        }
        let json = try TestStack.run("er-coordinator", ["export", batch, "--format", "json"])
        let lines = try json.output.split(separator: "\n").map { try JSONDecoder().decode(ExportLine.self, from: Data($0.utf8)) }
        #expect(lines.count == clips.count + 1)
        #expect(lines.contains { $0.faces_found != nil && $0.fused_confidence != nil && $0.faces_seen == 1 })
        #expect(lines.contains { $0.status == "failed" && $0.fused_confidence == nil })

        // Workers stop cleanly on SIGTERM.
        for service in services { service.terminate() }
        for service in services { service.waitUntilExit() }
        #expect(services.allSatisfy { $0.terminationStatus == 0 }, "exit statuses \(services.map(\.terminationStatus))")
        services.removeAll()
    }
}

@Suite(.enabled(if: TestStack.available && TestStack.executablesAvailable && TestData.hasPython,
                "needs scripts/stack up, `swift build` and python3 for a loopback server"))
struct SubmitTimeoutTests {
    @Test func aURLThatNeverAnswersIsRegisteredFailedAndTheRestGoOn() throws {
        let port = Int.random(in: 40_001...60_000)
        let server = try TestData.startSilentServer(port: port)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }

        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifest = folder.appendingPathComponent("manifest.txt")
        let silentURL = "http://127.0.0.1:\(port)/never.mp4"
        try "\(silentURL)\nhttp://127.0.0.1:\(port)/also-never.mp4\n".write(to: manifest, atomically: true, encoding: .utf8)
        let batch = "timeout-\(UUID().uuidString.prefix(8))"
        let started = ContinuousClock.now
        let submitted = try TestStack.run("er-coordinator", ["submit", manifest.path, "--batch", batch, "--probe-timeout", "1.5"])
        #expect(submitted.status == 0, "\(submitted.output)")
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(submitted.output.contains("2 clip(s) found, 0 queued") && submitted.output.contains("2 failed"), "\(submitted.output)")
        let database = try DatabaseConnection(url: DatabaseURL(TestStack.databaseURL))
        let rows = try database.query("SELECT status, error FROM clip_emotions WHERE batch = $1", [batch])
        #expect(rows.count == 2 && rows.allSatisfy { $0["status"] == "failed" && ($0["error"] ?? "").hasPrefix("timeout") })
    }
}
