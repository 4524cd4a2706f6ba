import Emotion
import Foundation
@testable import Store
import Synchronization
import Testing
import TestSupport

@Suite(.enabled(if: TestStack.available, Comment(rawValue: TestStack.missingReason)), .serialized)
struct StoreTests {
    let store: ResultStore

    init() throws {
        let database = try DatabaseConnection(url: DatabaseURL(TestStack.databaseURL))
        try Schema.migrate(database)
        store = ResultStore(database: database)
    }

    func result(_ clip: PendingClip, batch: Int64, stream: StreamKind, label: EmotionLabel?, attempt: Int = 1) -> ResultMessage {
        testResult(JobMessage(clipID: clip.id, batchID: batch, source: clip.source, stream: stream, attempt: attempt), label: label)
    }

    @Test func migrationsAreIdempotent() throws {
        #expect(try Schema.migrate(store.database) == Schema.migrations.count)
        #expect(try Schema.migrate(store.database) == Schema.migrations.count)
    }

    /// A database migrated by a newer build is refused, in a schema of its own so that other tests are untouched.
    @Test func aSchemaNewerThanThisBuildIsRefused() throws {
        let schema = "er_test_\(UUID().uuidString.prefix(8).lowercased())"
        try store.database.query("CREATE SCHEMA \(schema)")
        defer { _ = try? store.database.query("DROP SCHEMA \(schema) CASCADE") }
        let separator = TestStack.databaseURL.contains("?") ? "&" : "?"
        let scoped = try DatabaseConnection(url: DatabaseURL(TestStack.databaseURL + separator + "options=-csearch_path%3D" + schema))
        #expect(try Schema.migrate(scoped) == Schema.migrations.count)
        try scoped.query("INSERT INTO schema_migrations (version) VALUES ($1)", [String(Schema.migrations.count + 1)])
        let error = #expect(throws: DatabaseError.self) { try Schema.migrate(scoped) }
        #expect(error?.code == .incompatibleSchema)
        #expect(error?.isTransient == false)
    }

    @Test func registrationIsResumableAndForceRequeues() throws {
        let batch = try store.batch(named: "store-\(UUID().uuidString)")
        let first = try store.register(sources: ["/m/a.mp4", "/m/b.mp4"], batchID: batch, force: false)
        #expect(first.pending.count == 2 && first.added == 2)
        // Still queued: a second submission counts them and leaves them where they are (waiting, or in the broker)...
        try store.markFed(first.pending, stream: .audio)
        let resumed = try store.register(sources: ["/m/a.mp4", "/m/b.mp4"], batchID: batch, force: false)
        #expect(resumed.pending.count == 2 && resumed.resumed == 2 && resumed.added == 0)
        func fed() throws -> Int64 {
            try store.database.query("SELECT count(*) FILTER (WHERE audio_fed) AS n FROM clips WHERE batch_id = $1", [String(batch)])[0].int("n")
        }
        #expect(try fed() == 2)
        // ... unless told to publish their jobs again (the broker lost its queues).
        _ = try store.register(sources: ["/m/a.mp4", "/m/b.mp4"], batchID: batch, force: false, republish: true)
        #expect(try fed() == 0)
        try store.record(result(first.pending[0], batch: batch, stream: .audio, label: .sad))
        try store.record(result(first.pending[0], batch: batch, stream: .video, label: .sad))
        let again = try store.register(sources: ["/m/a.mp4", "/m/b.mp4"], batchID: batch, force: false)
        #expect(again.pending.map(\.source) == ["/m/b.mp4"] && again.skipped == 1)
        let forced = try store.register(sources: ["/m/a.mp4"], batchID: batch, force: true)
        #expect(forced.pending.first?.attempt == 2 && forced.requeued == 1)
        // A late result from attempt 1 no longer counts.
        #expect(try store.record(result(first.pending[0], batch: batch, stream: .audio, label: .sad, attempt: 1)) == nil)
    }

    /// Sources with quotes, backslashes, commas and braces survive the array literal; repeats in one chunk count once.
    @Test func registrationKeepsEverySpelling() throws {
        let batch = try store.batch(named: "store-\(UUID().uuidString)")
        let odd = ["/m/a \"quoted\".mp4", "/m/back\\slash.mp4", "/m/{braces},comma.mp4", "/m/ünïcode .mp4", "/m/NULL"]
        let registration = try store.register(sources: odd + [odd[0]], batchID: batch, force: false)
        #expect(registration.added == odd.count)
        let stored = try store.database.query("SELECT source FROM clips WHERE batch_id = $1 ORDER BY id", [String(batch)]).map { $0["source"] }
        #expect(stored == odd)
    }

    /// The batch counters follow every insert, status change, re-queue and delete, however many rows a statement
    /// touches.
    @Test func batchCountersFollowTheClips() throws {
        let name = "store-\(UUID().uuidString)"
        let batch = try store.batch(named: name)
        let sources = (0..<40).map { "/m/count-\($0).mp4" }
        let clips = try store.register(sources: sources, batchID: batch, force: false).pending
        for clip in clips.prefix(10) {
            try store.record(result(clip, batch: batch, stream: .audio, label: .happy))
            try store.record(result(clip, batch: batch, stream: .video, label: .happy))
        }
        try store.failUnprobed(clipID: clips[10].id, reason: "timeout: test")
        func counted() throws -> BatchProgress { try #require(try store.progress(batch: name).first) }
        func scanned() throws -> [String: Int64] {
            Dictionary(uniqueKeysWithValues: try store.database.query(
                "SELECT status, count(*) AS n FROM clips WHERE batch_id = $1 GROUP BY status", [String(batch)]).map {
                ($0["status"] ?? "", try $0.int("n"))
            })
        }
        var progress = try counted()
        #expect(progress.total == 40 && progress.done == 10 && progress.failed == 1 && progress.queued == 29)
        #expect(try scanned() == ["done": 10, "failed": 1, "queued": 29])
        _ = try store.register(sources: Array(sources.prefix(5)), batchID: batch, force: true)
        progress = try counted()
        #expect(progress.total == 40 && progress.done == 5 && progress.queued == 34)
        try store.database.query("DELETE FROM clips WHERE batch_id = $1 AND source = ANY($2::text[])",
                                 [String(batch), ResultStore.textArray(Array(sources.suffix(4)))])
        progress = try counted()
        let queuedByScan = try scanned()["queued"]
        #expect(progress.total == 36 && Int64(progress.queued) == queuedByScan)
        // A batch deleted with its clips takes its counters along.
        try store.database.query("DELETE FROM batches WHERE id = $1", [String(batch)])
        #expect(try store.progress(batch: name).isEmpty)
    }

    @Test func bothStreamsGiveExactlyOneFusedRowWhateverTheRepeats() throws {
        let name = "store-\(UUID().uuidString)"
        let batch = try store.batch(named: name)
        let clip = try #require(try store.register(sources: ["/m/c.mp4"], batchID: batch, force: false).pending.first)
        #expect(try store.record(result(clip, batch: batch, stream: .audio, label: .angry)) == .waiting)
        let video = result(clip, batch: batch, stream: .video, label: nil)
        guard case .fused(let fused)? = try store.record(video) else { Issue.record("expected fused"); return }
        #expect(fused.basis == .audioOnly && fused.label == .angry)
        try store.record(video)
        try store.record(result(clip, batch: batch, stream: .audio, label: .angry))
        let rows = try store.database.query("SELECT count(*) AS n FROM fused_results WHERE clip_id = $1", [String(clip.id)])
        #expect(try rows[0].int("n") == 1)
        let view = try store.clips(batch: name)
        #expect(view.count == 1 && view[0]["fused_label"] == "angry" && view[0]["status"] == "done")
        let progress = try #require(try store.progress(batch: name).first)
        #expect(progress.total == 1 && progress.done == 1 && progress.queued == 0 && progress.failed == 0)
    }

    @Test func faceTracksAreStoredAndAVoiceOverFusesNoFace() throws {
        let name = "store-\(UUID().uuidString)"
        let batch = try store.batch(named: name)
        let clips = try store.register(sources: ["/m/panel.mp4", "/m/voiceover.mp4"], batchID: batch, force: false).pending
        try #require(clips.count == 2)
        func prediction(_ label: EmotionLabel) -> StreamPrediction {
            var logits = [Float](repeating: 0, count: 7)
            logits[label.index] = 4
            return StreamPrediction(labels: EmotionLabel.allCases.map(\.rawValue), logits: logits,
                                    mapping: Dictionary(uniqueKeysWithValues: EmotionLabel.allCases.map { ($0.rawValue, $0) }))
        }
        for (clip, status) in zip(clips, ["detected", "speaker_not_visible"]) {
            var video = result(clip, batch: batch, stream: .video, label: .angry)
            video.faces = [
                FaceTrackResult(track: 0, box: [0.1, 0.2, 0.2, 0.5], start: 0, end: 3, frames: 15, speaking: status == "detected" ? 0.9 : 0,
                      prediction: prediction(.angry)),
                FaceTrackResult(track: 1, box: [0.6, 0.2, 0.2, 0.5], start: 0.4, end: 3, frames: 13, speaking: 0, prediction: prediction(.happy)),
            ]
            video.speaker = status == "detected" ? 0 : nil
            video.speakerStatus = status
            try store.record(video)
            try store.record(result(clip, batch: batch, stream: .audio, label: .sad))
        }
        let faces = try store.database.query("""
            SELECT path, track, label, is_speaker, speaking, box_x FROM face_emotions WHERE batch = $1 ORDER BY path, track
            """, [name])
        #expect(faces.count == 4)
        #expect(faces.map { $0["label"] } == ["angry", "happy", "angry", "happy"])
        #expect(faces.map { $0["is_speaker"] } == ["t", "f", "f", "f"])
        // The question the view is for: clips where the speaker was angry while someone else smiled.
        let asked = try store.database.query("""
            SELECT DISTINCT s.path FROM face_emotions s
            JOIN face_emotions o ON o.clip_id = s.clip_id AND o.segment_index = s.segment_index AND o.track <> s.track
            WHERE s.batch = $1 AND s.is_speaker AND s.label = 'angry' AND o.label = 'happy'
            """, [name])
        #expect(asked.map { $0["path"] } == ["/m/panel.mp4"])
        let rows = try store.clips(batch: name)
        let panel = try #require(rows.first { $0["path"] == "/m/panel.mp4" })
        let voiceOver = try #require(rows.first { $0["path"] == "/m/voiceover.mp4" })
        #expect(panel["speaker"] == "0" && panel["fused_basis"] == "both" && panel["fused_reason"] == nil)
        #expect(voiceOver["speaker"] == nil && voiceOver["speaker_status"] == "speaker_not_visible")
        #expect(voiceOver["fused_basis"] == "audio_only" && voiceOver["fused_reason"] == "speaker_not_visible"
                && voiceOver["fused_label"] == "sad")
        // A redelivered video result replaces the clip's tracks, never adds to them.
        var again = result(clips[0], batch: batch, stream: .video, label: .angry)
        again.faces = [FaceTrackResult(track: 0, box: [0.1, 0.2, 0.2, 0.5], start: 0, end: 3, frames: 15, speaking: nil, prediction: prediction(.angry))]
        again.speakerStatus = "single_face"
        try store.record(again)
        #expect(try store.database.query("SELECT 1 FROM face_tracks WHERE clip_id = $1", [String(clips[0].id)]).count == 1)
        var exported = 0
        try store.forEachFace(batch: name) { exported += $0.count }
        #expect(exported == 3)
    }

    /// One face in view at a time: the face the video result is from is the speaker once the audio stream finds
    /// speech, whichever stream comes first, and nobody is where it finds none; each face gets its share of the
    /// speech by its frames (as `analyze` gives them). The same holds for a long clip's window, and a result that
    /// replaces another (a real one after a dead letter's failure) settles it again.
    @Test func aSingleFaceSpeaksOnlyWhereTheAudioFindsSpeech() throws {
        let name = "store-\(UUID().uuidString)"
        let batch = try store.batch(named: name)
        let clips = try store.register(sources: ["/m/talk.mp4", "/m/silent.mp4", "/m/long.mp4"], batchID: batch, force: false).pending
        try #require(clips.count == 3)
        func video(_ job: JobMessage) -> ResultMessage {
            var video = testResult(job, label: .angry)
            // Two faces one after the other; the video result is track 1's.
            video.faces = [0, 1].map { track in
                FaceTrackResult(track: track, box: [0.3, 0.2, 0.3, 0.6], start: track == 0 ? 0 : 2, end: track == 0 ? 1.8 : 3.2,
                                frames: track == 0 ? 4 : 12, speaking: nil, prediction: testResult(job, label: .angry).prediction!)
            }
            video.track = 1
            video.speakerStatus = "single_face"
            return video
        }
        func job(_ clip: PendingClip, _ stream: StreamKind, _ segment: Segment? = nil) -> JobMessage {
            JobMessage(clipID: clip.id, batchID: batch, source: clip.source, stream: stream, segment: segment)
        }
        #expect(try store.record(video(job(clips[0], .video))) == .waiting)
        try store.record(testResult(job(clips[0], .audio), label: .sad))
        var silence = testResult(job(clips[1], .audio), label: nil)
        silence.error = .init(code: "no_speech", reason: "no speech in the audio")
        #expect(try store.record(silence) == .waiting)
        try store.record(video(job(clips[1], .video)))
        let plan = [Segment(index: 0, start: 0, duration: 5)]
        try store.storePlan(clipID: clips[2].id, duration: 5, segments: plan)
        try store.record(video(job(clips[2], .video, plan[0])))
        try store.record(testResult(job(clips[2], .audio, plan[0]), label: .sad))

        let faces = try store.database.query("""
            SELECT path, track, is_speaker, speaking FROM face_emotions WHERE batch = $1 ORDER BY path, segment_index, track
            """, [name])
        #expect(faces.map { "\($0["path"]!) \($0["track"]!) \($0["is_speaker"]!) \($0["speaking"]!)" } == [
            "/m/long.mp4 0 f 0.25", "/m/long.mp4 1 t 0.75",
            "/m/silent.mp4 0 f 0", "/m/silent.mp4 1 f 0",
            "/m/talk.mp4 0 f 0.25", "/m/talk.mp4 1 t 0.75",
        ])
        let rows = try store.clips(batch: name)
        #expect(rows.first { $0["path"] == "/m/talk.mp4" }?["speaker"] == "1")
        #expect(rows.first { $0["path"] == "/m/silent.mp4" }?["speaker"] == nil)
        let window = try store.database.query("SELECT speaker FROM segment_emotions WHERE clip_id = $1", [String(clips[2].id)])
        #expect(window.map { $0["speaker"] } == ["1"])
        // A redelivered video result changes nothing; a real audio result replacing the failed one names the face.
        try store.record(video(job(clips[1], .video)))
        #expect(try store.clips(batch: name).first { $0["path"] == "/m/silent.mp4" }?["speaker"] == nil)
        try store.record(testResult(job(clips[1], .audio), label: .sad))
        #expect(try store.clips(batch: name).first { $0["path"] == "/m/silent.mp4" }?["speaker"] == "1")
        let replaced = try store.database.query("""
            SELECT track, is_speaker, speaking FROM face_tracks WHERE clip_id = $1 ORDER BY track
            """, [String(clips[1].id)])
        #expect(replaced.map { "\($0["track"]!) \($0["is_speaker"]!) \($0["speaking"]!)" } == ["0 f 0.25", "1 t 0.75"])
    }

    /// Model labels are the card's text: one with a comma or a quote must come back whole (it once split into two
    /// labels and trapped Fusion on every delivery).
    @Test func labelsWithCommasAndQuotesRoundTrip() throws {
        let batch = try store.batch(named: "store-\(UUID().uuidString)")
        let clip = try #require(try store.register(sources: ["/m/commas.mp4"], batchID: batch, force: false).pending.first)
        var audio = result(clip, batch: batch, stream: .audio, label: .happy)
        audio.labels = ["angry, loud", "disgust", "fear \"real\"", "happy", "sad", "surprise", "neutral {calm}"]
        #expect(try store.record(audio) == .waiting)
        guard case .fused(let fused)? = try store.record(result(clip, batch: batch, stream: .video, label: .happy)) else {
            Issue.record("expected fused"); return
        }
        #expect(fused.basis == .both && fused.label == .happy)
        let stored = try store.database.query("""
            SELECT model_labels->>0 AS first, jsonb_array_length(model_labels) AS n, jsonb_typeof(logits->0) AS logit
            FROM stream_results WHERE clip_id = $1 AND stream = 'audio'
            """, [String(clip.id)])
        #expect(stored[0]["logit"] == "number")
        #expect(stored[0]["first"] == "angry, loud" && stored[0]["n"] == "7")
    }

    /// A stored prediction that does not hold together (more labels than logits) fails its stream with a reason
    /// instead of trapping; with the other stream absent the clip fails, saying why.
    @Test func anInconsistentStoredPredictionFailsTheClipWithAReason() throws {
        let batch = try store.batch(named: "store-\(UUID().uuidString)")
        let clip = try #require(try store.register(sources: ["/m/broken.mp4"], batchID: batch, force: false).pending.first)
        var audio = result(clip, batch: batch, stream: .audio, label: .sad)
        audio.labels = (audio.labels ?? []) + ["extra"]
        #expect(try store.record(audio) == .waiting)
        let decision = try store.record(result(clip, batch: batch, stream: .video, label: nil))
        guard case .failed(let reason)? = decision else { Issue.record("expected failed, got \(String(describing: decision))"); return }
        #expect(reason.contains("invalid_prediction"), "\(reason)")
    }

    /// A dead-lettered job's failure recorded "unless present" while another Fusion commits the real result: the
    /// real result wins every round, whichever commits first.
    @Test func aRealResultAlwaysWinsOverARacingDeadLetter() throws {
        let batch = try store.batch(named: "store-\(UUID().uuidString)")
        let clips = try store.register(sources: (0..<40).map { "/m/race-\($0).mp4" }, batchID: batch, force: false).pending
        let real = clips.map { result($0, batch: batch, stream: .audio, label: .happy) }
        let deadLetters = real.map { message in
            var failed = message
            failed.outcome = .failed
            failed.labels = nil
            failed.logits = nil
            failed.probabilities = nil
            failed.error = .init(code: "dead_lettered", reason: "test")
            return failed
        }
        let url = TestStack.databaseURL
        let errors = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            do {
                let store = ResultStore(database: try DatabaseConnection(url: DatabaseURL(url)))
                for index in real.indices {
                    if writer == 0 {
                        try store.record(real[index])
                    } else {
                        _ = try store.recordUnlessPresent(deadLetters[index])
                    }
                }
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
        }
        errors.withLock { #expect($0.isEmpty, "\($0)") }
        let rows = try store.database.query("""
            SELECT count(*) FILTER (WHERE outcome = 'ok') AS ok, count(*) AS n FROM stream_results s
            JOIN clips c ON c.id = s.clip_id WHERE c.batch_id = $1 AND s.stream = 'audio'
            """, [String(batch)])
        #expect(try rows[0].int("ok") == 40 && rows[0].int("n") == 40)
    }

    @Test func concurrentWritersNeitherLoseNorDoubleAFusedRow() throws {
        let batch = try store.batch(named: "store-\(UUID().uuidString)")
        let clips = try store.register(sources: (0..<40).map { "/m/race-\($0).mp4" }, batchID: batch, force: false).pending
        let audio = clips.map { result($0, batch: batch, stream: .audio, label: .happy) }
        let video = clips.map { result($0, batch: batch, stream: .video, label: .happy) }
        let url = TestStack.databaseURL
        let group = DispatchGroup()
        let failures = WorkerErrors()
        for results in [audio, video] {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let writer = ResultStore(database: try DatabaseConnection(url: DatabaseURL(url)))
                    for result in results { try writer.record(result) }
                } catch {
                    failures.add("\(error)")
                }
            }.start()
        }
        group.wait()
        #expect(failures.all.isEmpty, "\(failures.all)")
        let rows = try store.database.query(
            "SELECT count(*) AS n, count(DISTINCT f.clip_id) AS distinct_clips FROM fused_results f JOIN clips c ON c.id = f.clip_id WHERE c.batch_id = $1",
            [String(batch)])
        #expect(try rows[0].int("n") == 40 && rows[0].int("distinct_clips") == 40)
    }

    @Test func parametersCannotInjectSQL() throws {
        let name = "x'); DROP TABLE clips; --"
        let batch = try store.batch(named: name)
        #expect(try store.batch(named: name) == batch)
        #expect(try store.database.query("SELECT count(*) AS n FROM clips").count == 1)
    }
}

/// Collects errors from threads.
final class WorkerErrors: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [String] = []
    func add(_ error: String) { lock.lock(); errors.append(error); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return errors }
}

@Suite(.enabled(if: TestStack.available, Comment(rawValue: TestStack.missingReason)), .serialized)
struct SegmentStoreTests {
    @Test func windowsAreFusedThenSummarisedIntoOneClipRow() throws {
        let database = try DatabaseConnection(url: DatabaseURL(TestStack.databaseURL))
        try Schema.migrate(database)
        let store = ResultStore(database: database)
        let name = "segments-\(UUID().uuidString.prefix(8))"
        let batch = try store.batch(named: name)
        let clip = try #require(try store.register(sources: ["/m/long.mp4"], batchID: batch, force: false).pending.first)
        #expect(try store.segmentPlan(clipID: clip.id) == nil)
        let plan = SegmentPlan(threshold: 10, length: 5).segments(forDuration: 15)
        try store.storePlan(clipID: clip.id, duration: 15, segments: plan)
        #expect(try store.segmentPlan(clipID: clip.id) == plan)

        let labels: [EmotionLabel] = [.angry, .angry, .sad]
        func result(_ segment: Segment, _ stream: StreamKind, _ label: EmotionLabel?) -> ResultMessage {
            testResult(JobMessage(clipID: clip.id, batchID: batch, source: clip.source, stream: stream, segment: segment), label: label)
        }
        for (segment, label) in zip(plan, labels) {
            #expect(try store.record(result(segment, .audio, label)) == .waiting)
        }
        // Windows 0 and 1: the face agrees, then disagrees; window 2: no face.
        #expect(try store.record(result(plan[0], .video, .angry)) == .waiting)
        #expect(try store.record(result(plan[1], .video, .happy)) == .waiting)
        guard case .fused(let fused)? = try store.record(result(plan[2], .video, nil)) else {
            Issue.record("the last window should complete the clip"); return
        }
        #expect(fused.basis == .segments && fused.label == .angry)
        // A repeated window result changes nothing.
        try store.record(result(plan[2], .video, nil))
        let row = try #require(try store.clips(batch: name).first)
        #expect(row["status"] == "done" && row["fused_label"] == "angry" && row["segment_count"] == "3")
        #expect(abs((row.double("dominant_share") ?? 0) - 2.0 / 3) < 1e-6)
        #expect(abs((row.double("disagreement_share") ?? 0) - 0.5) < 1e-6)
        let windows = try store.segments(batch: name)
        #expect(windows.map { $0["fused_label"] } == ["angry", "angry", "sad"])
        let timeline = try store.timeline(clipID: clip.id)
        #expect(timeline.duration == 15 && timeline.rows.count == 3)
    }
}

/// A worker's result for `job`: a confident `label` (canonical-label model), or an absent face when `nil`.
func testResult(_ job: JobMessage, label: EmotionLabel?) -> ResultMessage {
    var result = ResultMessage(job: job, outcome: label == nil ? .absent : .ok,
                               model: ModelIdentity(name: "test-\(job.stream.rawValue)", sha256: "00", fusionWeight: 0.5), worker: "test:1")
    if let label {
        var logits = [Float](repeating: 0, count: 7)
        logits[label.index] = 4
        let prediction = StreamPrediction(labels: EmotionLabel.allCases.map(\.rawValue), logits: logits,
                                          mapping: Dictionary(uniqueKeysWithValues: EmotionLabel.allCases.map { ($0.rawValue, $0) }))
        result.labels = prediction.labels
        result.logits = prediction.logits
        result.probabilities = prediction.probabilities
    } else {
        result.error = .init(code: "no_face", reason: "no face found in 3 sampled frames")
    }
    return result
}

/// The database URL's forms and masking: no server needed.
@Suite struct DatabaseURLTests {
    @Test func acceptsURLsAndKeyValueStringsAndMasksThePassword() throws {
        let url = try DatabaseURL("postgresql://svc:s3cret@db:5432/emotions?sslmode=verify-full")
        #expect(url.connectionString == "postgresql://svc:s3cret@db:5432/emotions?sslmode=verify-full")
        #expect(url.description == "postgresql://svc:***@db:5432/emotions?sslmode=verify-full")
        #expect(try DatabaseURL("postgres://h/db").connectionString == "postgres://h/db")
        #expect(try DatabaseURL("host=db password=s3cret dbname=emotions").description == "host=db password=*** dbname=emotions")
        let wrong = #expect(throws: DatabaseError.self) { try DatabaseURL("mysql://svc:s3cret@db/emotions") }
        #expect(wrong?.code == .invalidURL)
        #expect(wrong.map { !"\($0)".contains("s3cret") } == true)
        #expect(#expect(throws: DatabaseError.self) { try DatabaseURL("emotions") }?.code == .invalidURL)
    }

    @Test func anUnreadableURLFileIsAnErrorNotAFallBack() throws {
        let environment = [DatabaseURL.fileEnvironmentKey: "/no/such/database-url"]
        let error = #expect(throws: DatabaseError.self) { try DatabaseURL.resolve(nil, environment: environment) }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains("ER_DATABASE_URL_FILE /no/such/database-url") == true)
        #expect(try DatabaseURL.resolve(nil, environment: [:]).connectionString == DatabaseURL.localDefault)
        #expect(try DatabaseURL.resolve(nil, environment: [DatabaseURL.environmentKey: "host=db"]).connectionString == "host=db")
    }
}

/// JSON lines of an export, straight from the server's text: no server needed.
@Suite struct JSONRowFormatterTests {
    @Test func typesEscapesAndSortsLikeTheTypedValues() throws {
        let columns = ["path", "clip_id", "confidence", "disagree", "shares", "error", "odd"]
        let types: [ColumnType] = [.text, .integer, .real, .boolean, .json, .text, .real]
        let formatter = JSONRowFormatter(columns: columns)
        let row = Row(columns: columns, values: ["/m/a \"b\"\\c\n\u{1}.mp4", "42", "0.75", "t", "{\"sad\": 0.5}", nil, "NaN"], types: types)
        let text = formatter.object(row)
        #expect(text == #"{"clip_id":42,"confidence":0.75,"disagree":true,"error":null,"odd":"NaN","path":"/m/a \"b\"\\c\n\u0001.mp4","shares":{"sad": 0.5}}"#)
        // What JSONSerialization reads back is what typedValue gives.
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(decoded["path"] as? String == "/m/a \"b\"\\c\n\u{1}.mp4")
        #expect(decoded["clip_id"] as? Int == 42 && decoded["disagree"] as? Bool == true && decoded["error"] is NSNull)
        #expect(row.typedValue(at: 1) == .integer(42) && row.typedValue(at: 3) == .boolean(true))
    }
}
