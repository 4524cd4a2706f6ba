import Emotion
import Foundation

/// A clip that needs jobs published.
public struct PendingClip: Sendable, Equatable {
    public var id: Int64
    public var source: String
    public var attempt: Int
}

/// Counts of a batch's clips by status.
public struct BatchProgress: Sendable, Equatable {
    public var batch: String
    public var total: Int
    public var queued: Int
    public var done: Int
    public var failed: Int

    public var finished: Int { done + failed }
    public var isComplete: Bool { queued == 0 }
}

/// The project's queries: batches, clips, stream results and fused results.
///
/// Every statement is parameterised. Uses one `DatabaseConnection`, so it belongs to that connection's thread.
public struct ResultStore {
    /// The connection; SQL stays inside this module (`ResultStore` and `Schema` own every statement).
    let database: DatabaseConnection

    public init(database: DatabaseConnection) {
        self.database = database
    }

    /// The id of batch `name`, created if new.
    public func batch(named name: String) throws -> Int64 {
        let rows = try database.query(
            "INSERT INTO batches (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id", [name])
        return try rows[0].int("id")
    }

    /// Stores one stream result and, when the clip's streams are all in, its fused result — in one transaction
    /// with the clip row locked, so concurrent Fusion processes neither lose nor double a row.
    ///
    /// A result from an older attempt than the clip's current one is ignored. Returns the clip's decision
    /// (`nil` when the clip is unknown or the result stale).
    @discardableResult
    public func record(_ result: ResultMessage) throws -> ClipDecision? {
        try record(result, unlessPresent: false).decision
    }

    /// Stores `result` only when its stream (or its window of a long clip) has no result yet — a dead-lettered
    /// job's failure, say. The check runs in `record`'s transaction under the clip's row lock, so a real result
    /// committed meanwhile by another Fusion process always wins. Returns whether it stored.
    public func recordUnlessPresent(_ result: ResultMessage) throws -> Bool {
        try record(result, unlessPresent: true).recorded
    }

    private func record(_ result: ResultMessage, unlessPresent: Bool) throws -> (recorded: Bool, decision: ClipDecision?) {
        try database.transaction { database in
            let clip = try database.query("SELECT attempt FROM clips WHERE id = $1 FOR UPDATE", [String(result.clipID)])
            guard let row = clip.first, Int(try row.int("attempt")) <= result.attempt else { return (false, nil) }
            if unlessPresent, try !database.query(
                result.segment == nil
                    ? "SELECT 1 FROM stream_results WHERE clip_id = $1 AND stream = $2"
                    : "SELECT 1 FROM segment_results WHERE clip_id = $1 AND stream = $2 AND segment_index = $3",
                [String(result.clipID), result.stream.rawValue] + (result.segment.map { [String($0.index)] } ?? [])).isEmpty {
                return (false, nil)
            }
            let prediction = result.prediction
            if let segment = result.segment {
                return (true, try recordSegment(result, segment, prediction: prediction))
            }
            let labels = try result.labels.map(Self.jsonArray)
            let logits = try result.logits.map(Self.jsonArray)
            try database.query("""
                INSERT INTO stream_results (clip_id, stream, outcome, label, confidence, probabilities, model_labels, logits,
                    model, model_sha256, fusion_weight, frames_decoded, frames_sampled, faces_found, media_seconds,
                    error_code, error, timings, worker, job_id, attempt, faces_seen, rotation, face_height, speaker, speaker_status,
                    track)
                VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    $18::jsonb, $19, $20::uuid, $21, $22, $23, $24, $25, $26, $27)
                ON CONFLICT (clip_id, stream) DO UPDATE SET
                    outcome = EXCLUDED.outcome, label = EXCLUDED.label, confidence = EXCLUDED.confidence,
                    probabilities = EXCLUDED.probabilities, model_labels = EXCLUDED.model_labels, logits = EXCLUDED.logits,
                    model = EXCLUDED.model, model_sha256 = EXCLUDED.model_sha256, fusion_weight = EXCLUDED.fusion_weight,
                    frames_decoded = EXCLUDED.frames_decoded, frames_sampled = EXCLUDED.frames_sampled,
                    faces_found = EXCLUDED.faces_found, media_seconds = EXCLUDED.media_seconds,
                    error_code = EXCLUDED.error_code, error = EXCLUDED.error, timings = EXCLUDED.timings,
                    worker = EXCLUDED.worker, job_id = EXCLUDED.job_id, attempt = EXCLUDED.attempt, received_at = now(),
                    faces_seen = EXCLUDED.faces_seen, rotation = EXCLUDED.rotation, face_height = EXCLUDED.face_height,
                    speaker = EXCLUDED.speaker, speaker_status = EXCLUDED.speaker_status, track = EXCLUDED.track
                """, [
                    String(result.clipID), result.stream.rawValue, result.outcome.rawValue,
                    prediction?.label.rawValue, prediction.map { String($0.confidence) },
                    prediction.map { Self.json(probabilities: $0.probabilities) },
                    labels, logits,
                    result.model.name, result.model.sha256, String(result.model.fusionWeight),
                    result.framesDecoded.map(String.init), result.framesSampled.map(String.init), result.facesFound.map(String.init),
                    result.mediaSeconds.map { String($0) }, result.error?.code, result.error?.reason,
                    Self.json(result.timings), result.worker, result.jobID.uuidString, String(result.attempt),
                    result.facesSeen.map(String.init), result.rotation.map(String.init), result.faceHeight.map { String($0) },
                    result.speaker.map(String.init), result.speakerStatus, result.track.map(String.init),
                ])
            try storeFaceTracks(result, segmentIndex: 0)
            let audio = try streamState(clipID: result.clipID, stream: .audio)
            let decision = ClipDecision.decide(audio: audio, video: try streamState(clipID: result.clipID, stream: .video))
            switch decision {
            case .waiting:
                break
            case .fused(let fused):
                try database.query("""
                    INSERT INTO fused_results (clip_id, label, confidence, probabilities, basis, disagreement, streams_disagree, reason)
                    VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)
                    ON CONFLICT (clip_id) DO UPDATE SET label = EXCLUDED.label, confidence = EXCLUDED.confidence,
                        probabilities = EXCLUDED.probabilities, basis = EXCLUDED.basis, disagreement = EXCLUDED.disagreement,
                        streams_disagree = EXCLUDED.streams_disagree, reason = EXCLUDED.reason, fused_at = now()
                    """, [String(result.clipID), fused.label.rawValue, String(fused.confidence),
                          Self.json(probabilities: fused.probabilities), fused.basis.rawValue,
                          fused.disagreement.map { String($0) }, fused.disagreement.map { _ in fused.streamsDisagree ? "true" : "false" },
                          fused.reason])
                try database.query("""
                    WITH \(Self.settlingSingleFaceSpeaker(window: false, speech: audio?.outcome == .ok))
                    UPDATE clips SET status = 'done', error = NULL, finished_at = now() WHERE id = $1
                    """, [String(result.clipID)])
            case .failed(let reason):
                try database.query("DELETE FROM fused_results WHERE clip_id = $1", [String(result.clipID)])
                try database.query("UPDATE clips SET status = 'failed', error = $2, finished_at = now() WHERE id = $1",
                                   [String(result.clipID), reason])
            }
            return (true, decision)
        }
    }

    private func streamState(clipID: Int64, stream: StreamKind) throws -> StreamState? {
        let rows = try database.query("""
            SELECT outcome, model_labels, logits, probabilities, fusion_weight, error_code, error, speaker_status
            FROM stream_results WHERE clip_id = $1 AND stream = $2
            """, [String(clipID), stream.rawValue])
        return try rows.first.map(Self.streamState)
    }

    /// A stored stream result (columns outcome, model_labels and logits (jsonb arrays), probabilities,
    /// fusion_weight, error_code, error, speaker_status) as Fusion's input. A stored prediction that does not hold together (labels
    /// and logits of different lengths, unreadable probabilities) is a failed stream with that reason, never a trap.
    static func streamState(_ row: Row) throws -> StreamState {
        guard let outcome = row["outcome"].flatMap(StreamOutcome.init(rawValue:)) else {
            throw DatabaseError(.decodingFailed, message: "unknown stream outcome \(row["outcome"] ?? "NULL")")
        }
        let weight = row.double("fusion_weight") ?? 1
        let error = row["error_code"].map { code in "\(code): \(row["error"] ?? "")" }
        guard outcome == .ok else { return StreamState(outcome: outcome, prediction: nil, fusionWeight: weight, error: error) }
        let decoder = JSONDecoder()
        guard let labels = row["model_labels"].flatMap({ try? decoder.decode([String].self, from: Data($0.utf8)) }),
              let logits = row["logits"].flatMap({ try? decoder.decode([Float].self, from: Data($0.utf8)) }),
              let probabilities = row["probabilities"].flatMap(Self.parseProbabilities),
              labels.count == logits.count else {
            return StreamState(outcome: .failed, prediction: nil, fusionWeight: weight,
                               error: "invalid_prediction: the stored prediction's labels, logits and probabilities do not match")
        }
        return StreamState(outcome: outcome, prediction: StreamPrediction(labels: labels, logits: logits, probabilities: probabilities),
                           fusionWeight: weight, error: error,
                           speakerVisible: row["speaker_status"] != LateFusion.speakerNotVisible)
    }

    /// Replaces the face tracks of a video result's clip (or window) with the result's, in one statement (Fusion's
    /// transaction per result is bound by round trips): tracks the result no longer has are deleted, the others
    /// inserted or updated.
    func storeFaceTracks(_ result: ResultMessage, segmentIndex: Int) throws {
        guard result.stream == .video else { return }
        let rows = (result.faces ?? []).compactMap { face -> FaceTrackRow? in
            let prediction = face.prediction
            guard face.box.count == 4, prediction.labels.count == prediction.logits.count,
                  prediction.probabilities.count == EmotionLabel.allCases.count else { return nil }
            return FaceTrackRow(track: face.track, boxX: face.box[0], boxY: face.box[1], boxWidth: face.box[2],
                                boxHeight: face.box[3], start: face.start, end: face.end, frames: face.frames,
                                speaking: face.speaking, isSpeaker: face.track == result.speaker, label: prediction.label.rawValue,
                                confidence: prediction.confidence,
                                probabilities: Dictionary(uniqueKeysWithValues: zip(EmotionLabel.allCases.map(\.rawValue), prediction.probabilities)),
                                logits: prediction.logits)
        }
        let json = String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
        try database.query("""
            WITH incoming AS (
                SELECT * FROM jsonb_to_recordset($3::jsonb) AS r(track integer, box_x real, box_y real, box_width real,
                    box_height real, start_seconds double precision, end_seconds double precision, frames integer,
                    speaking real, is_speaker boolean, label text, confidence real, probabilities jsonb, logits jsonb)
            ), gone AS (
                DELETE FROM face_tracks t WHERE t.clip_id = $1 AND t.segment_index = $2
                    AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.track = t.track)
            )
            INSERT INTO face_tracks (clip_id, segment_index, track, box_x, box_y, box_width, box_height, start_seconds,
                end_seconds, frames, speaking, is_speaker, label, confidence, probabilities, logits)
            SELECT $1, $2, track, box_x, box_y, box_width, box_height, start_seconds, end_seconds, frames, speaking,
                   is_speaker, label, confidence, probabilities, logits
            FROM incoming
            ON CONFLICT (clip_id, segment_index, track) DO UPDATE SET box_x = EXCLUDED.box_x, box_y = EXCLUDED.box_y,
                box_width = EXCLUDED.box_width, box_height = EXCLUDED.box_height, start_seconds = EXCLUDED.start_seconds,
                end_seconds = EXCLUDED.end_seconds, frames = EXCLUDED.frames, speaking = EXCLUDED.speaking,
                is_speaker = EXCLUDED.is_speaker, label = EXCLUDED.label, confidence = EXCLUDED.confidence,
                probabilities = EXCLUDED.probabilities, logits = EXCLUDED.logits
            """, [String(result.clipID), String(segmentIndex), json])
    }

    /// Common table expressions, to open the statement that records a clip's (or window's) decision with, that settle
    /// who speaks where one face was in view at a time (`single_face`): the face the video result is from (`track`)
    /// is the speaker where the audio stream found `speech`, and nobody is elsewhere; every face gets its share of
    /// the speech by the frames it was seen in, as `er-coordinator analyze` gives them. Recomputed at every decision
    /// (a result that replaces another settles it again); other clips are left as they are. The statement's `$1` is
    /// the clip and, for a long clip's window (`window`), `$2` the window's index.
    static func settlingSingleFaceSpeaker(window: Bool, speech: Bool) -> String {
        let (table, index) = window ? ("segment_results", "$2") : ("stream_results", "0")
        let video = "clip_id = $1\(window ? " AND segment_index = $2" : "") AND stream = 'video' AND speaker_status = 'single_face'"
        return """
            video AS (SELECT track FROM \(table) WHERE \(video)),
            seen AS (SELECT sum(frames) AS frames FROM face_tracks WHERE clip_id = $1 AND segment_index = \(index)),
            tracks AS (
                UPDATE face_tracks t SET is_speaker = \(speech) AND t.track IS NOT DISTINCT FROM video.track,
                    speaking = CASE WHEN \(speech) AND seen.frames > 0 THEN round(t.frames::numeric / seen.frames, 3) ELSE 0 END
                FROM video, seen WHERE t.clip_id = $1 AND t.segment_index = \(index)
            ),
            named AS (UPDATE \(table) SET speaker = CASE WHEN \(speech) THEN track END WHERE \(video))
            """
    }

    /// The id of the clip registered under `source` (or, failing that, `path`), the latest when several batches
    /// hold it; `nil` when there is none.
    public func clipID(source: String, path: String) throws -> Int64? {
        let rows = try database.query("SELECT id FROM clips WHERE source = $1 OR source = $2 ORDER BY id DESC LIMIT 1", [source, path])
        return try rows.first.map { try $0.int("id") }
    }

    /// Progress of every batch, or of the one named, from the batch counters (no scan of the clips).
    public func progress(batch name: String? = nil) throws -> [BatchProgress] {
        let rows = try database.query("""
            SELECT b.name, coalesce(sum(n.clips), 0) AS total,
                   coalesce(sum(n.clips) FILTER (WHERE n.status = 'queued'), 0) AS queued,
                   coalesce(sum(n.clips) FILTER (WHERE n.status = 'done'), 0) AS done,
                   coalesce(sum(n.clips) FILTER (WHERE n.status = 'failed'), 0) AS failed
            FROM batches b LEFT JOIN batch_counts n ON n.batch_id = b.id
            WHERE $1::text IS NULL OR b.name = $1
            GROUP BY b.id ORDER BY b.created_at, b.id
            """, [name])
        return try rows.map { row in
            BatchProgress(batch: row["name"] ?? "", total: Int(try row.int("total")), queued: Int(try row.int("queued")),
                          done: Int(try row.int("done")), failed: Int(try row.int("failed")))
        }
    }

    // MARK: - Value formatting for parameters

    static func json(probabilities: [Float]) -> String {
        json(Dictionary(uniqueKeysWithValues: zip(EmotionLabel.allCases.map(\.rawValue), probabilities.map(Double.init))))
    }

    static func json(_ values: [String: Double]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(values)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// An array as JSON text, for a jsonb parameter.
    ///
    /// - Throws: `DatabaseError` `.encodingFailed` for a value JSON cannot hold (a NaN or infinite logit).
    static func jsonArray<Element: Encodable>(_ value: [Element]) throws -> String {
        do {
            return String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        } catch {
            throw DatabaseError(.encodingFailed, message: "a value cannot be stored as JSON: \(error)")
        }
    }

    static func parseProbabilities(_ text: String) -> [Float]? {
        guard let values = try? JSONDecoder().decode([String: Double].self, from: Data(text.utf8)) else { return nil }
        let ordered = EmotionLabel.allCases.compactMap { values[$0.rawValue] }
        return ordered.count == EmotionLabel.allCases.count ? ordered.map(Float.init) : nil
    }
}

/// One `face_tracks` row as JSON for `jsonb_to_recordset`.
private struct FaceTrackRow: Encodable {
    var track: Int
    var boxX, boxY, boxWidth, boxHeight: Double
    var start, end: Double
    var frames: Int
    var speaking: Double?
    var isSpeaker: Bool
    var label: String
    var confidence: Float
    var probabilities: [String: Float]
    var logits: [Float]

    enum CodingKeys: String, CodingKey {
        case track, boxX = "box_x", boxY = "box_y", boxWidth = "box_width", boxHeight = "box_height"
        case start = "start_seconds", end = "end_seconds", frames, speaking, isSpeaker = "is_speaker", label, confidence
        case probabilities, logits
    }
}
