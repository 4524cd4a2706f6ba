import Emotion
import Foundation

/// What registering one chunk of sources did.
public struct Registration: Sendable, Equatable {
    /// Clips of the chunk still to be analysed: new ones, clips still queued from an earlier submission and, with
    /// `force`, clips queued again.
    public var pending: [PendingClip] = []
    public var added = 0
    public var resumed = 0
    public var requeued = 0
    /// Clips that already have results, left as they are.
    public var skipped = 0

    public init() {}

    /// Adds another chunk's counts (its pending clips are not kept: a million-clip submission needs only counts).
    public mutating func count(_ other: Registration) {
        added += other.added
        resumed += other.resumed
        requeued += other.requeued
        skipped += other.skipped
    }
}

extension ResultStore {
    /// Sources registered per statement by `register`.
    public static let registrationChunk = 5000

    /// Registers one chunk of sources (at most a few thousand) in a batch, in one transaction, with a few
    /// set-based statements. New clips wait for a feeder; clips still queued (an interrupted or earlier
    /// submission) stay as they are, waiting or in the broker, unless `republish`, which has their jobs published
    /// again (after the broker lost its queues); clips with results are skipped unless `force`, which clears their
    /// results and queues them again with the next attempt number.
    public func register(sources: [String], batchID: Int64, force: Bool, republish: Bool = false) throws -> Registration {
        try database.transaction { database in
            let batch = String(batchID)
            let chunk = Self.textArray(sources)
            var registration = Registration()
            // With `republish`, only the clips marked fed need a write.
            let resumed = try database.query("""
                WITH queued AS (
                    SELECT id, source, attempt, audio_fed OR video_fed AS fed FROM clips
                    WHERE batch_id = $1 AND source = ANY($2::text[]) AND status = 'queued'
                ), reset AS (
                    UPDATE clips SET audio_fed = false, video_fed = false WHERE $3 AND id IN (SELECT id FROM queued WHERE fed)
                )
                SELECT id, source, attempt FROM queued ORDER BY id
                """, [batch, chunk, republish ? "true" : "false"]).map(Self.pendingClip)
            registration.resumed = resumed.count
            let added = try database.query("""
                INSERT INTO clips (batch_id, source)
                SELECT $1, source FROM unnest($2::text[]) WITH ORDINALITY AS given(source, position) ORDER BY position
                ON CONFLICT (batch_id, source) DO NOTHING
                RETURNING id, source, attempt
                """, [batch, chunk]).map(Self.pendingClip)
            registration.added = added.count
            var requeued: [PendingClip] = []
            if force {
                requeued = try database.query("""
                    UPDATE clips SET status = 'queued', error = NULL, finished_at = NULL, attempt = attempt + 1,
                        submitted_at = now(), audio_fed = false, video_fed = false
                    WHERE batch_id = $1 AND source = ANY($2::text[]) AND status <> 'queued'
                    RETURNING id, source, attempt
                    """, [batch, chunk]).map(Self.pendingClip)
                let ids = Self.bigintArray(requeued.map(\.id))
                for table in ["stream_results", "fused_results", "segment_results", "segment_fused", "clip_summaries"] {
                    try database.query("DELETE FROM \(table) WHERE clip_id = ANY($1::bigint[])", [ids])
                }
                registration.requeued = requeued.count
            }
            registration.pending = added + requeued + resumed
            registration.skipped = sources.count - registration.pending.count
            return registration
        }
    }

    /// Sets the batch's feeding priority: feeders serve higher priorities first.
    public func setPriority(_ priority: Int, batchID: Int64) throws {
        try database.query("UPDATE batches SET priority = $2 WHERE id = $1 AND priority <> $2", [String(batchID), String(priority)])
    }

    /// Keeps how the batch's long clips are split, for the feeder that probes them.
    public func setSegmentPlan(_ plan: SegmentPlan, batchID: Int64) throws {
        try database.query("""
            UPDATE batches SET segment_threshold = $2, segment_length = $3, segment_hop = $4
            WHERE id = $1 AND (segment_threshold, segment_length, segment_hop) IS DISTINCT FROM ($2, $3, $4)
            """, [String(batchID), String(plan.threshold), String(plan.length), String(plan.hop)])
    }

    /// How the batch's long clips are split (`nil` when its submission did not say).
    public func segmentPlan(batchID: Int64) throws -> SegmentPlan? {
        let rows = try database.query("SELECT segment_threshold, segment_length, segment_hop FROM batches WHERE id = $1", [String(batchID)])
        guard let row = rows.first, let threshold = row.double("segment_threshold"), let length = row.double("segment_length"),
              length > 0 else { return nil }
        return SegmentPlan(threshold: threshold, length: length, hop: row.double("segment_hop").flatMap { $0 > 0 ? $0 : nil })
    }

    /// The batches with clips whose `stream` jobs wait to be published, in feeding order: higher priority first,
    /// then the older batch.
    public func batchesWaiting(for stream: StreamKind) throws -> [Int64] {
        try database.query("""
            SELECT b.id FROM batches b
            WHERE EXISTS (SELECT 1 FROM clips c WHERE c.batch_id = b.id AND c.status = 'queued' AND NOT c.\(Self.fedColumn(stream)))
            ORDER BY b.priority DESC, b.id
            """).map { try $0.int("id") }
    }

    /// Takes the stream's feeding turn: `true` when no other feeder holds it (with `wait`, once the holder is done).
    /// Held until the transaction ends; call inside one.
    public func takeFeedingTurn(for stream: StreamKind, wait: Bool = false) throws -> Bool {
        let key = String(StreamKind.allCases.firstIndex(of: stream) ?? 0)
        if wait {
            try database.query("SELECT pg_advisory_xact_lock(4243, $1)", [key])
            return true
        }
        return try database.query("SELECT pg_try_advisory_xact_lock(4243, $1) AS taken", [key]).first?["taken"] == "t"
    }

    /// Up to `limit` clips of a batch whose `stream` jobs wait to be published, in registration order after clip
    /// `after`. Takes no row locks (Fusion must never wait for a feeder): the stream's feeding turn keeps feeders
    /// apart, and `markFed` checks the attempt each clip was read at.
    public func waitingClips(for stream: StreamKind, batchID: Int64, after: Int64, limit: Int) throws -> [PendingClip] {
        try database.query("""
            SELECT id, source, attempt FROM clips
            WHERE batch_id = $1 AND status = 'queued' AND NOT \(Self.fedColumn(stream)) AND id > $2
            ORDER BY id LIMIT $3
            """, [String(batchID), String(after), String(limit)]).map(Self.pendingClip)
    }

    /// Records that the clips' `stream` jobs are in the broker — each only if it is still at the attempt the jobs
    /// carry (a clip queued again meanwhile by `submit --force` stays waiting, for its new attempt).
    public func markFed(_ clips: [PendingClip], stream: StreamKind) throws {
        guard !clips.isEmpty else { return }
        try database.query("""
            UPDATE clips SET \(Self.fedColumn(stream)) = true
            FROM unnest($1::bigint[], $2::bigint[]) AS published(id, attempt)
            WHERE clips.id = published.id AND clips.attempt = published.attempt
            """, [Self.bigintArray(clips.map(\.id)), Self.bigintArray(clips.map { Int64($0.attempt) })])
    }

    /// Locks a clip's row until the transaction ends (before planning it, so that two feeders of different streams
    /// do not plan one clip at once).
    public func lockClip(_ clipID: Int64) throws {
        try database.query("SELECT 1 FROM clips WHERE id = $1 FOR UPDATE", [String(clipID)])
    }

    /// Clips of a batch, or of every batch, still waiting for the stream's jobs to be published (counted through
    /// the stream's partial index).
    public func waitingCount(for stream: StreamKind, batch name: String? = nil) throws -> Int {
        let rows = try database.query("""
            SELECT count(*) AS waiting FROM clips c
            WHERE c.status = 'queued' AND NOT c.\(Self.fedColumn(stream))
              AND ($1::text IS NULL OR c.batch_id = (SELECT id FROM batches WHERE name = $1))
            """, [name])
        return Int(try rows.first?.int("waiting") ?? 0)
    }

    /// Streams the `clip_emotions` rows of a batch, ordered by path, `fetch` rows at a time through a server-side
    /// cursor: memory stays the same whatever the batch size. Returns the number of rows.
    @discardableResult
    public func forEachClip(batch name: String, fetch: Int = 2000, _ body: ([Row]) throws -> Void) throws -> Int {
        try database.cursor("""
            SELECT clip_id, path, status, fused_label, fused_confidence, fused_basis, streams_disagree, disagreement,
                   audio_label, audio_confidence, video_label, video_confidence, frames_sampled, faces_found, faces_seen,
                   rotation, face_height, duration_seconds, segment_count, dominant_label, dominant_share,
                   disagreement_share, speaker, speaker_status, fused_reason, error
            FROM clip_emotions WHERE batch = $1 ORDER BY path
            """, [name], fetch: fetch, body)
    }

    /// Every face track of a batch's clips (`face_emotions`), ordered by path, window and track, streamed like
    /// `forEachClip`; returns the number of rows.
    @discardableResult
    public func forEachFace(batch name: String, fetch: Int = 2000, _ body: ([Row]) throws -> Void) throws -> Int {
        try database.cursor("""
            SELECT clip_id, path, segment_index, track, is_speaker, speaking, label, confidence, start_seconds,
                   end_seconds, frames, box_x, box_y, box_width, box_height, probabilities
            FROM face_emotions WHERE batch = $1 ORDER BY path, segment_index, track
            """, [name], fetch: fetch, body)
    }

    /// Every `clip_emotions` row of a batch, ordered by path (for small batches; `forEachClip` streams large ones).
    public func clips(batch name: String) throws -> [Row] {
        var rows: [Row] = []
        try forEachClip(batch: name) { rows += $0 }
        return rows
    }

    static func fedColumn(_ stream: StreamKind) -> String {
        switch stream {
        case .audio: "audio_fed"
        case .video: "video_fed"
        }
    }

    static func pendingClip(_ row: Row) throws -> PendingClip {
        PendingClip(id: try row.int("id"), source: row["source"] ?? "", attempt: Int(try row.int("attempt")))
    }

    /// A PostgreSQL array literal of texts (`{"a","b"}`), every element quoted, for a `text[]` parameter.
    static func textArray(_ values: [String]) -> String {
        var literal = "{"
        literal.reserveCapacity(values.reduce(2) { $0 + $1.utf8.count + 3 })
        for (index, value) in values.enumerated() {
            if index > 0 { literal += "," }
            literal += "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { literal += "\\" }
                literal.unicodeScalars.append(character)
            }
            literal += "\""
        }
        return literal + "}"
    }

    /// A PostgreSQL array literal of integers, for a `bigint[]` parameter.
    static func bigintArray(_ values: [Int64]) -> String {
        "{" + values.map(String.init).joined(separator: ",") + "}"
    }
}
