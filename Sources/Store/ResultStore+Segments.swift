import Emotion
import Foundation

extension ResultStore {
    /// The stored window plan of a clip: `nil` when the clip has not been planned yet, an empty array when it is
    /// analysed whole.
    public func segmentPlan(clipID: Int64) throws -> [Segment]? {
        let clip = try database.query("SELECT duration_seconds, segment_count FROM clips WHERE id = $1", [String(clipID)])
        guard let row = clip.first else { return nil }
        let planned = try row.int("segment_count") > 0
        guard planned || row["duration_seconds"] != nil else { return nil }
        return try database.query("""
            SELECT segment_index, start_seconds, duration_seconds FROM segments WHERE clip_id = $1 ORDER BY segment_index
            """, [String(clipID)]).map { row in
            Segment(index: Int(try row.int("segment_index")), start: row.double("start_seconds") ?? 0,
                    duration: row.double("duration_seconds") ?? 0)
        }
    }

    /// Marks a clip failed before any job was published for it (its source did not answer the probe).
    public func failUnprobed(clipID: Int64, reason: String) throws {
        try database.query("UPDATE clips SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'queued'",
                           [String(clipID), reason])
    }

    /// Records a clip's duration and its windows (none for a clip analysed whole).
    public func storePlan(clipID: Int64, duration: Double, segments: [Segment]) throws {
        try database.transaction { database in
            try database.query("DELETE FROM segments WHERE clip_id = $1", [String(clipID)])
            for segment in segments {
                try database.query("""
                    INSERT INTO segments (clip_id, segment_index, start_seconds, duration_seconds) VALUES ($1, $2, $3, $4)
                    """, [String(clipID), String(segment.index), String(segment.start), String(segment.duration)])
            }
            try database.query("UPDATE clips SET duration_seconds = $2, segment_count = $3 WHERE id = $1",
                               [String(clipID), String(duration), String(segments.count)])
        }
    }

    /// Stores one window's stream result, fuses the window once both streams are in, and summarises the clip
    /// once every window is decided. Runs inside `record`'s transaction, with the clip row locked.
    func recordSegment(_ result: ResultMessage, _ segment: Segment, prediction: StreamPrediction?) throws -> ClipDecision? {
        let clip = String(result.clipID)
        let index = String(segment.index)
        let labels = try result.labels.map(Self.jsonArray)
        let logits = try result.logits.map(Self.jsonArray)
        try database.query("""
            INSERT INTO segment_results (clip_id, segment_index, stream, outcome, label, confidence, probabilities,
                model_labels, logits, model, model_sha256, fusion_weight, frames_sampled, faces_found, error_code, error,
                timings, worker, job_id, attempt, faces_seen, speaker, speaker_status, track)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11, $12, $13, $14, $15, $16, $17::jsonb,
                $18, $19::uuid, $20, $21, $22, $23, $24)
            ON CONFLICT (clip_id, segment_index, stream) DO UPDATE SET
                outcome = EXCLUDED.outcome, label = EXCLUDED.label, confidence = EXCLUDED.confidence,
                probabilities = EXCLUDED.probabilities, model_labels = EXCLUDED.model_labels, logits = EXCLUDED.logits,
                model = EXCLUDED.model, model_sha256 = EXCLUDED.model_sha256, fusion_weight = EXCLUDED.fusion_weight,
                frames_sampled = EXCLUDED.frames_sampled, faces_found = EXCLUDED.faces_found, error_code = EXCLUDED.error_code,
                error = EXCLUDED.error, timings = EXCLUDED.timings, worker = EXCLUDED.worker, job_id = EXCLUDED.job_id,
                attempt = EXCLUDED.attempt, received_at = now(), faces_seen = EXCLUDED.faces_seen,
                speaker = EXCLUDED.speaker, speaker_status = EXCLUDED.speaker_status, track = EXCLUDED.track
            """, [
                clip, index, result.stream.rawValue, result.outcome.rawValue, prediction?.label.rawValue,
                prediction.map { String($0.confidence) }, prediction.map { Self.json(probabilities: $0.probabilities) },
                labels, logits,
                result.model.name, result.model.sha256, String(result.model.fusionWeight),
                result.framesSampled.map(String.init), result.facesFound.map(String.init),
                result.error?.code, result.error?.reason, Self.json(result.timings), result.worker,
                result.jobID.uuidString, String(result.attempt), result.facesSeen.map(String.init),
                result.speaker.map(String.init), result.speakerStatus, result.track.map(String.init),
            ])
        try storeFaceTracks(result, segmentIndex: segment.index)
        let states = try database.query("""
            SELECT stream, outcome, model_labels, logits, probabilities, fusion_weight, error_code, error, speaker_status
            FROM segment_results WHERE clip_id = $1 AND segment_index = $2
            """, [clip, index])
        let audio = try states.first { $0["stream"] == StreamKind.audio.rawValue }.map(Self.streamState)
        let decision = ClipDecision.decide(
            audio: audio, video: try states.first { $0["stream"] == StreamKind.video.rawValue }.map(Self.streamState))
        switch decision {
        case .waiting:
            return .waiting
        case .fused(let fused):
            try database.query("""
                WITH \(Self.settlingSingleFaceSpeaker(window: true, speech: audio?.outcome == .ok))
                INSERT INTO segment_fused (clip_id, segment_index, label, confidence, probabilities, basis, error,
                    disagreement, streams_disagree, reason)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6, NULL, $7, $8, $9)
                ON CONFLICT (clip_id, segment_index) DO UPDATE SET label = EXCLUDED.label, confidence = EXCLUDED.confidence,
                    probabilities = EXCLUDED.probabilities, basis = EXCLUDED.basis, error = NULL,
                    disagreement = EXCLUDED.disagreement, streams_disagree = EXCLUDED.streams_disagree,
                    reason = EXCLUDED.reason, fused_at = now()
                """, [clip, index, fused.label.rawValue, String(fused.confidence), Self.json(probabilities: fused.probabilities),
                      fused.basis.rawValue, fused.disagreement.map { String($0) },
                      fused.disagreement.map { _ in fused.streamsDisagree ? "true" : "false" }, fused.reason])
        case .failed(let reason):
            try database.query("""
                INSERT INTO segment_fused (clip_id, segment_index, label, confidence, probabilities, basis, error)
                VALUES ($1, $2, NULL, NULL, NULL, NULL, $3)
                ON CONFLICT (clip_id, segment_index) DO UPDATE SET label = NULL, confidence = NULL, probabilities = NULL,
                    basis = NULL, error = EXCLUDED.error, disagreement = NULL, streams_disagree = NULL, fused_at = now()
                """, [clip, index, reason])
        }
        return try summarise(clipID: result.clipID)
    }

    /// Writes the clip's summary and fused row once every window is decided; `.waiting` before that.
    private func summarise(clipID: Int64) throws -> ClipDecision {
        let clip = String(clipID)
        let rows = try database.query("""
            SELECT s.segment_index, s.start_seconds, s.duration_seconds, f.label AS fused, f.error AS fused_error,
                   (f.clip_id IS NOT NULL) AS decided, a.label AS audio, v.label AS video
            FROM segments s
            LEFT JOIN segment_fused f ON f.clip_id = s.clip_id AND f.segment_index = s.segment_index
            LEFT JOIN segment_results a ON a.clip_id = s.clip_id AND a.segment_index = s.segment_index AND a.stream = 'audio'
            LEFT JOIN segment_results v ON v.clip_id = s.clip_id AND v.segment_index = s.segment_index AND v.stream = 'video'
            WHERE s.clip_id = $1 ORDER BY s.segment_index
            """, [clip])
        guard !rows.isEmpty, rows.allSatisfy({ $0["decided"] == "t" }) else { return .waiting }
        let outcomes = try rows.map { row in
            SegmentOutcome(
                segment: Segment(index: Int(try row.int("segment_index")), start: row.double("start_seconds") ?? 0,
                                 duration: row.double("duration_seconds") ?? 0),
                fused: row["fused"].flatMap(EmotionLabel.init(rawValue:)),
                audio: row["audio"].flatMap(EmotionLabel.init(rawValue:)),
                video: row["video"].flatMap(EmotionLabel.init(rawValue:)))
        }
        let summary = ClipSummary(outcomes)
        try database.query("""
            INSERT INTO clip_summaries (clip_id, segments, analysed_seconds, dominant_label, dominant_share, shares, disagreement_share)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
            ON CONFLICT (clip_id) DO UPDATE SET segments = EXCLUDED.segments, analysed_seconds = EXCLUDED.analysed_seconds,
                dominant_label = EXCLUDED.dominant_label, dominant_share = EXCLUDED.dominant_share, shares = EXCLUDED.shares,
                disagreement_share = EXCLUDED.disagreement_share
            """, [clip, String(outcomes.count), String(summary.analysedSeconds), summary.dominant?.rawValue,
                  summary.dominant.map { String(summary.shares[$0.index]) },
                  Self.json(Dictionary(uniqueKeysWithValues: zip(EmotionLabel.allCases.map(\.rawValue), summary.shares))),
                  String(summary.disagreement)])
        guard let dominant = summary.dominant else {
            let reason = "no window could be analysed: " + (rows.first?["fused_error"] ?? "unknown")
            try database.query("DELETE FROM fused_results WHERE clip_id = $1", [clip])
            try database.query("UPDATE clips SET status = 'failed', error = $2, finished_at = now() WHERE id = $1", [clip, reason])
            return .failed(reason: reason)
        }
        let fused = FusedPrediction(probabilities: summary.shares.map(Float.init), basis: .segments)
        try database.query("""
            INSERT INTO fused_results (clip_id, label, confidence, probabilities, basis) VALUES ($1, $2, $3, $4::jsonb, $5)
            ON CONFLICT (clip_id) DO UPDATE SET label = EXCLUDED.label, confidence = EXCLUDED.confidence,
                probabilities = EXCLUDED.probabilities, basis = EXCLUDED.basis, fused_at = now()
            """, [clip, dominant.rawValue, String(summary.shares[dominant.index]), Self.json(probabilities: fused.probabilities),
                  fused.basis.rawValue])
        try database.query("UPDATE clips SET status = 'done', error = NULL, finished_at = now() WHERE id = $1", [clip])
        return .fused(fused)
    }

    /// Every window of a batch's split clips (`segment_emotions`), ordered by path and window.
    public func segments(batch name: String) throws -> [Row] {
        var rows: [Row] = []
        try forEachSegment(batch: name) { rows += $0 }
        return rows
    }

    /// Streams the windows of a batch's split clips, `fetch` rows at a time through a server-side cursor.
    /// Returns the number of rows.
    @discardableResult
    public func forEachSegment(batch name: String, fetch: Int = 2000, _ body: ([Row]) throws -> Void) throws -> Int {
        try database.cursor("""
            SELECT clip_id, path, segment_index, start_seconds, end_seconds, fused_label, fused_confidence, fused_basis,
                   audio_label, audio_confidence, video_label, video_confidence, error
            FROM segment_emotions WHERE batch = $1 ORDER BY path, segment_index
            """, [name], fetch: fetch, body)
    }

    /// The windows of one clip with their labels, for its timeline.
    public func timeline(clipID: Int64) throws -> (path: String, duration: Double, rows: [Row]) {
        let clip = try database.query("""
            SELECT c.source, coalesce(c.duration_seconds, (SELECT max(media_seconds) FROM stream_results WHERE clip_id = c.id)) AS duration
            FROM clips c WHERE c.id = $1
            """, [String(clipID)])
        guard let row = clip.first else { throw DatabaseError(.decodingFailed, message: "no clip with id \(clipID)") }
        var rows = try database.query("""
            SELECT segment_index, start_seconds, end_seconds, fused_label, audio_label, video_label
            FROM segment_emotions WHERE clip_id = $1 ORDER BY segment_index
            """, [String(clipID)])
        let duration = row.double("duration") ?? 0
        if rows.isEmpty {
            // A clip analysed whole is one window.
            rows = try database.query("""
                SELECT 0 AS segment_index, 0::float8 AS start_seconds, $2::float8 AS end_seconds, fused_label, audio_label, video_label
                FROM clip_emotions WHERE clip_id = $1
                """, [String(clipID), String(duration)])
        }
        return (row["source"] ?? "", duration, rows)
    }
}
