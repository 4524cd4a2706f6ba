/// The database schema as ordered migrations, applied at start-up by every process that uses the database.
public enum Schema {
    /// Migration `n` (1-based) brings the schema from version `n - 1` to `n`. Never edit a released one: append.
    public static let migrations: [String] = [
        """
        CREATE TABLE batches (
            id bigserial PRIMARY KEY,
            name text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE clips (
            id bigserial PRIMARY KEY,
            batch_id bigint NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
            source text NOT NULL,
            status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'done', 'failed')),
            error text,
            attempt integer NOT NULL DEFAULT 1,
            submitted_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            UNIQUE (batch_id, source)
        );
        CREATE INDEX clips_batch_status ON clips (batch_id, status);
        CREATE TABLE stream_results (
            clip_id bigint NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
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
            frames_decoded integer,
            frames_sampled integer,
            faces_found integer,
            media_seconds double precision,
            error_code text,
            error text,
            timings jsonb NOT NULL DEFAULT '{}',
            worker text NOT NULL,
            job_id uuid NOT NULL,
            attempt integer NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (clip_id, stream)
        );
        CREATE INDEX stream_results_label ON stream_results (stream, label);
        CREATE TABLE fused_results (
            clip_id bigint PRIMARY KEY REFERENCES clips(id) ON DELETE CASCADE,
            label text NOT NULL,
            confidence real NOT NULL,
            probabilities jsonb NOT NULL,
            basis text NOT NULL CHECK (basis IN ('both', 'audio_only', 'video_only')),
            fused_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX fused_results_label ON fused_results (label);
        CREATE VIEW clip_emotions AS
        SELECT c.id AS clip_id, b.name AS batch, c.source AS path, c.status,
               f.label AS fused_label, f.confidence AS fused_confidence, f.basis AS fused_basis,
               a.label AS audio_label, a.confidence AS audio_confidence,
               v.label AS video_label, v.confidence AS video_confidence,
               v.frames_sampled, v.faces_found, c.error, c.submitted_at, c.finished_at
        FROM clips c
        JOIN batches b ON b.id = c.batch_id
        LEFT JOIN fused_results f ON f.clip_id = c.id
        LEFT JOIN stream_results a ON a.clip_id = c.id AND a.stream = 'audio'
        LEFT JOIN stream_results v ON v.clip_id = c.id AND v.stream = 'video';
        """,
    ]

    /// Applies the migrations not yet applied, in one transaction serialised across processes by an advisory
    /// lock. Returns the schema version now in force.
    @discardableResult
    public static func migrate(_ database: DatabaseConnection) throws -> Int {
        try database.transaction { database in
            try database.query("SELECT pg_advisory_xact_lock(4242)")
            try database.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            let applied = Set(try database.query("SELECT version FROM schema_migrations").map { try $0.int("version") })
            for (offset, migration) in migrations.enumerated() where !applied.contains(Int64(offset + 1)) {
                try database.query(migration)
                try database.query("INSERT INTO schema_migrations (version) VALUES ($1)", [String(offset + 1)])
            }
        }
        return migrations.count
    }
}
