extension Schema {
    /// Migration 7: every face the video stream followed, with its own result and whether it speaks.
    ///
    /// - `face_tracks`: one row per face track of a clip (or of a long clip's window, `segment_index`; 0 for a clip
    ///   analysed whole): median box normalised to the frame, first and last time, frames, the share of the speech
    ///   during which it speaks (one face in view at a time: its share by frames, set by Fusion once the audio is
    ///   in; see migration 8), whether it is the speaker, and its own label, confidence, probabilities and logits.
    /// - `stream_results.speaker` / `speaker_status` (and on `segment_results`): the speaking face's track and how it
    ///   was decided (`single_face`, `detected`, `speaker_not_visible`, `no_speech`, `unknown`).
    /// - `fused_results.reason` (and on `segment_fused`): why an answering stream was left out, e.g.
    ///   `speaker_not_visible` (a voice-over: the voice is not fused with any face in view).
    /// - The view `face_emotions` joins the tracks with their clip and batch; `clip_emotions` and `segment_emotions`
    ///   (a long video's timeline: who speaks in each window) gain the speaker.
    static let speakersMigration = """
        CREATE TABLE face_tracks (
            clip_id bigint NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
            segment_index integer NOT NULL DEFAULT 0,
            track integer NOT NULL,
            box_x real NOT NULL,
            box_y real NOT NULL,
            box_width real NOT NULL,
            box_height real NOT NULL,
            start_seconds double precision NOT NULL,
            end_seconds double precision NOT NULL,
            frames integer NOT NULL,
            speaking real,
            is_speaker boolean NOT NULL,
            label text NOT NULL,
            confidence real NOT NULL,
            probabilities jsonb NOT NULL,
            logits jsonb NOT NULL,
            PRIMARY KEY (clip_id, segment_index, track)
        );
        CREATE INDEX face_tracks_label ON face_tracks (label);
        ALTER TABLE stream_results ADD COLUMN speaker integer, ADD COLUMN speaker_status text;
        ALTER TABLE segment_results ADD COLUMN speaker integer, ADD COLUMN speaker_status text;
        ALTER TABLE fused_results ADD COLUMN reason text;
        ALTER TABLE segment_fused ADD COLUMN reason text;
        CREATE VIEW face_emotions AS
        SELECT c.id AS clip_id, b.name AS batch, c.source AS path, t.segment_index, t.track, t.label, t.confidence,
               t.speaking, t.is_speaker, t.start_seconds, t.end_seconds, t.frames,
               t.box_x, t.box_y, t.box_width, t.box_height, t.probabilities
        FROM face_tracks t
        JOIN clips c ON c.id = t.clip_id
        JOIN batches b ON b.id = c.batch_id;
        CREATE OR REPLACE VIEW clip_emotions AS
        SELECT c.id AS clip_id, b.name AS batch, c.source AS path, c.status,
               f.label AS fused_label, f.confidence AS fused_confidence, f.basis AS fused_basis,
               a.label AS audio_label, a.confidence AS audio_confidence,
               v.label AS video_label, v.confidence AS video_confidence,
               v.frames_sampled, v.faces_found, c.error, c.submitted_at, c.finished_at,
               c.duration_seconds, c.segment_count, s.dominant_label, s.dominant_share, s.shares AS emotion_shares,
               s.disagreement_share, f.streams_disagree, f.disagreement, v.faces_seen, v.rotation, v.face_height,
               v.speaker, v.speaker_status, f.reason AS fused_reason
        FROM clips c
        JOIN batches b ON b.id = c.batch_id
        LEFT JOIN fused_results f ON f.clip_id = c.id
        LEFT JOIN stream_results a ON a.clip_id = c.id AND a.stream = 'audio'
        LEFT JOIN stream_results v ON v.clip_id = c.id AND v.stream = 'video'
        LEFT JOIN clip_summaries s ON s.clip_id = c.id;
        CREATE OR REPLACE VIEW segment_emotions AS
        SELECT c.id AS clip_id, b.name AS batch, c.source AS path, g.segment_index,
               g.start_seconds, g.start_seconds + g.duration_seconds AS end_seconds,
               f.label AS fused_label, f.confidence AS fused_confidence, f.basis AS fused_basis,
               a.label AS audio_label, a.confidence AS audio_confidence,
               v.label AS video_label, v.confidence AS video_confidence,
               coalesce(f.error, a.error, v.error) AS error, f.streams_disagree,
               v.speaker, v.speaker_status, f.reason AS fused_reason
        FROM segments g
        JOIN clips c ON c.id = g.clip_id
        JOIN batches b ON b.id = c.batch_id
        LEFT JOIN segment_fused f ON f.clip_id = g.clip_id AND f.segment_index = g.segment_index
        LEFT JOIN segment_results a ON a.clip_id = g.clip_id AND a.segment_index = g.segment_index AND a.stream = 'audio'
        LEFT JOIN segment_results v ON v.clip_id = g.clip_id AND v.segment_index = g.segment_index AND v.stream = 'video';
        """

    /// Migration 8: `stream_results.track` / `segment_results.track`, the face track a video result is from (the
    /// speaker's face, or the largest and most persistent one). With one face in view at a time the video worker
    /// cannot tell whether it speaks: Fusion makes it the `speaker` once the audio stream has found speech.
    static let resultTrackMigration = """
        ALTER TABLE stream_results ADD COLUMN track integer;
        ALTER TABLE segment_results ADD COLUMN track integer;
        """
}
