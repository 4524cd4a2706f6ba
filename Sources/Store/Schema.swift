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
        // 2: roles. `er_writer` (the services: Coordinator, Fusion) may read and write the tables but not change
        // the schema; `er_reader` (people querying results) may only read. Both are NOLOGIN groups: logins join
        // them (`CREATE ROLE alice LOGIN PASSWORD '…' IN ROLE er_reader`). Roles are cluster-wide, so another
        // database of the cluster may have created them already (or be creating them now); a migrating user
        // without CREATEROLE gets a warning and the grants to roles that exist.
        """
        DO $roles$
        DECLARE
            wanted text;
        BEGIN
            FOREACH wanted IN ARRAY ARRAY['er_reader', 'er_writer'] LOOP
                IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = wanted) THEN
                    BEGIN
                        EXECUTE format('CREATE ROLE %I NOLOGIN', wanted);
                    EXCEPTION
                        WHEN duplicate_object OR unique_violation THEN
                            NULL; -- created meanwhile from another database of the cluster
                        WHEN insufficient_privilege THEN
                            RAISE WARNING 'role % not created: % may not create roles; an administrator can run CREATE ROLE % NOLOGIN and then the grants of migration 2',
                                wanted, current_user, wanted;
                    END;
                END IF;
            END LOOP;
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'er_reader') THEN
                EXECUTE format('GRANT USAGE ON SCHEMA %I TO er_reader', current_schema());
                GRANT SELECT ON batches, clips, stream_results, fused_results, clip_emotions, schema_migrations TO er_reader;
                EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO er_reader', current_schema());
            END IF;
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'er_writer') THEN
                EXECUTE format('GRANT USAGE ON SCHEMA %I TO er_writer', current_schema());
                GRANT SELECT, INSERT, UPDATE, DELETE ON batches, clips, stream_results, fused_results TO er_writer;
                GRANT SELECT ON clip_emotions, schema_migrations TO er_writer;
                GRANT USAGE, SELECT ON SEQUENCE batches_id_seq, clips_id_seq TO er_writer;
                EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO er_writer', current_schema());
                EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO er_writer', current_schema());
            END IF;
            -- CONNECT is PUBLIC's by default; grant it too for databases where an administrator revoked that.
            BEGIN
                EXECUTE format('GRANT CONNECT ON DATABASE %I TO %s', current_database(),
                    (SELECT string_agg(quote_ident(rolname), ', ') FROM pg_catalog.pg_roles WHERE rolname IN ('er_reader', 'er_writer')));
            EXCEPTION
                WHEN insufficient_privilege OR syntax_error THEN
                    NULL; -- not the database's owner, or neither role exists
            END;
        END
        $roles$;
        """,
        segmentsMigration,
        facesMigration,
        predictionsMigration,
        backlogMigration,
        speakersMigration,
        resultTrackMigration,
    ]

    /// Applies the migrations not yet applied, in one transaction serialised across processes by an advisory
    /// lock. Returns the schema version now in force.
    @discardableResult
    public static func migrate(_ database: DatabaseConnection) throws -> Int {
        try database.transaction { database in
            try database.query("SELECT pg_advisory_xact_lock(4242)")
            // Only when missing: CREATE … IF NOT EXISTS still needs the CREATE privilege on the schema, which the
            // services' er_writer logins do not have (they can run once the owner has applied the migrations).
            if try database.query("SELECT to_regclass('schema_migrations') IS NULL AS missing").first?["missing"] == "t" {
                try database.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            }
            let applied = Set(try database.query("SELECT version FROM schema_migrations").map { try $0.int("version") })
            if let newest = applied.max(), newest > Int64(migrations.count) {
                // Writing with an older idea of the tables (text[] where jsonb now is, say) would fail every result.
                throw DatabaseError(.incompatibleSchema, message: "the database is at schema version \(newest); this build "
                    + "knows \(migrations.count): run the newer executables")
            }
            for (offset, migration) in migrations.enumerated() where !applied.contains(Int64(offset + 1)) {
                try database.query(migration)
                try database.query("INSERT INTO schema_migrations (version) VALUES ($1)", [String(offset + 1)])
            }
        }
        return migrations.count
    }
}
