extension Schema {
    /// Migration 3: long clips split into windows. The plan (`segments`), each window's stream results and fused
    /// result, a per-clip summary, the summary columns on `clip_emotions`, and the `segment_emotions` view.
    static let segmentsMigration = """
        ALTER TABLE clips ADD COLUMN duration_seconds double precision,
                          ADD COLUMN segment_count integer NOT NULL DEFAULT 0;
        ALTER TABLE fused_results DROP CONSTRAINT fused_results_basis_check,
            ADD CONSTRAINT fused_results_basis_check CHECK (basis IN ('both', 'audio_only', 'video_only', 'segments'));
        CREATE TABLE segments (
            clip_id bigint NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
            segment_index integer NOT NULL,
            start_seconds double precision NOT NULL,
            duration_seconds double precision NOT NULL,
            PRIMARY KEY (clip_id, segment_index)
        );
        CREATE TABLE segment_results (
            clip_id bigint NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
            segment_index integer NOT NULL,
            stream text NOT NULL CHECK (stream IN ('audio', 'video')),
            outcome text NOT NULL CHECK (outcome IN ('ok', 'absent', 'failed')),
            label text,
            confidence real,
            probabilities jsonb,
            model_labels text[],
            logits real[],
            model text NOT NULL,
            model_sha256 text NOT NULL,
            fusion_weight double precision NOT NULL,
            frames_sampled integer,
            faces_found integer,
            error_code text,
            error text,
            timings jsonb NOT NULL DEFAULT '{}',
            worker text NOT NULL,
            job_id uuid NOT NULL,
            attempt integer NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (clip_id, segment_index, stream)
        );
        CREATE TABLE segment_fused (
            clip_id bigint NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
            segment_index integer NOT NULL,
            label text,
            confidence real,
            probabilities jsonb,
            basis text CHECK (basis IN ('both', 'audio_only', 'video_only')),
            error text,
            fused_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (clip_id, segment_index)
        );
        CREATE INDEX segment_fused_label ON segment_fused (label);
        CREATE TABLE clip_summaries (
            clip_id bigint PRIMARY KEY REFERENCES clips(id) ON DELETE CASCADE,
            segments integer NOT NULL,
            analysed_seconds double precision NOT NULL,
            dominant_label text,
            dominant_share double precision,
            shares jsonb NOT NULL,
            disagreement_share double precision NOT NULL
        );
        CREATE OR REPLACE VIEW clip_emotions AS
        SELECT c.id AS clip_id, b.name AS batch, c.source AS path, c.status,
               f.label AS fused_label, f.confidence AS fused_confidence, f.basis AS fused_basis,
               a.label AS audio_label, a.confidence AS audio_confidence,
               v.label AS video_label, v.confidence AS video_confidence,
               v.frames_sampled, v.faces_found, c.error, c.submitted_at, c.finished_at,
               c.duration_seconds, c.segment_count, s.dominant_label, s.dominant_share, s.shares AS emotion_shares,
               s.disagreement_share
        FROM clips c
        JOIN batches b ON b.id = c.batch_id
        LEFT JOIN fused_results f ON f.clip_id = c.id
        LEFT JOIN stream_results a ON a.clip_id = c.id AND a.stream = 'audio'
        LEFT JOIN stream_results v ON v.clip_id = c.id AND v.stream = 'video'
        LEFT JOIN clip_summaries s ON s.clip_id = c.id;
        CREATE VIEW segment_emotions AS
        SELECT c.id AS clip_id, b.name AS batch, c.source AS path, g.segment_index,
               g.start_seconds, g.start_seconds + g.duration_seconds AS end_seconds,
               f.label AS fused_label, f.confidence AS fused_confidence, f.basis AS fused_basis,
               a.label AS audio_label, a.confidence AS audio_confidence,
               v.label AS video_label, v.confidence AS video_confidence,
               coalesce(f.error, a.error, v.error) AS error
        FROM segments g
        JOIN clips c ON c.id = g.clip_id
        JOIN batches b ON b.id = c.batch_id
        LEFT JOIN segment_fused f ON f.clip_id = g.clip_id AND f.segment_index = g.segment_index
        LEFT JOIN segment_results a ON a.clip_id = g.clip_id AND a.segment_index = g.segment_index AND a.stream = 'audio'
        LEFT JOIN segment_results v ON v.clip_id = g.clip_id AND v.segment_index = g.segment_index AND v.stream = 'video';
        """
}

extension Schema {
    /// Migration 4: what the face stream saw (most faces in one frame, display rotation, face height as a share of
    /// the frame) and how far apart voice and face were (`disagreement`, `streams_disagree`), on the views too.
    static let facesMigration = """
        ALTER TABLE stream_results ADD COLUMN faces_seen integer, ADD COLUMN rotation integer, ADD COLUMN face_height real;
        ALTER TABLE segment_results ADD COLUMN faces_seen integer;
        ALTER TABLE fused_results ADD COLUMN disagreement real, ADD COLUMN streams_disagree boolean;
        ALTER TABLE segment_fused ADD COLUMN disagreement real, ADD COLUMN streams_disagree boolean;
        CREATE OR REPLACE VIEW clip_emotions AS
        SELECT c.id AS clip_id, b.name AS batch, c.source AS path, c.status,
               f.label AS fused_label, f.confidence AS fused_confidence, f.basis AS fused_basis,
               a.label AS audio_label, a.confidence AS audio_confidence,
               v.label AS video_label, v.confidence AS video_confidence,
               v.frames_sampled, v.faces_found, c.error, c.submitted_at, c.finished_at,
               c.duration_seconds, c.segment_count, s.dominant_label, s.dominant_share, s.shares AS emotion_shares,
               s.disagreement_share, f.streams_disagree, f.disagreement, v.faces_seen, v.rotation, v.face_height
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
               coalesce(f.error, a.error, v.error) AS error, f.streams_disagree
        FROM segments g
        JOIN clips c ON c.id = g.clip_id
        JOIN batches b ON b.id = c.batch_id
        LEFT JOIN segment_fused f ON f.clip_id = g.clip_id AND f.segment_index = g.segment_index
        LEFT JOIN segment_results a ON a.clip_id = g.clip_id AND a.segment_index = g.segment_index AND a.stream = 'audio'
        LEFT JOIN segment_results v ON v.clip_id = g.clip_id AND v.segment_index = g.segment_index AND v.stream = 'video';
        """
}

extension Schema {
    /// Migration 5: each stream result's model labels and logits as jsonb arrays (written and read through Codable),
    /// instead of `text[]` and `real[]`.
    static let predictionsMigration = """
        ALTER TABLE stream_results
            ALTER COLUMN model_labels TYPE jsonb USING array_to_json(model_labels)::jsonb,
            ALTER COLUMN logits TYPE jsonb USING array_to_json(logits)::jsonb;
        ALTER TABLE segment_results
            ALTER COLUMN model_labels TYPE jsonb USING array_to_json(model_labels)::jsonb,
            ALTER COLUMN logits TYPE jsonb USING array_to_json(logits)::jsonb;
        """
}
