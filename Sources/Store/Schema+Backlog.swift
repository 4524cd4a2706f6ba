extension Schema {
    /// Migration 6: clips wait in PostgreSQL until a feeder publishes their jobs, and batch counts that do not scan.
    ///
    /// - `clips.audio_fed` / `video_fed`: whether the stream's jobs of the clip's current attempt are in the broker
    ///   (clips that existed before were all published: they start true). Partial indexes find a batch's clips
    ///   still waiting for each stream without scanning the others.
    /// - `batches.priority`: feeders serve batches of higher priority first, older batches first among equals;
    ///   `batches.segment_*`: how the batch's long clips are split, kept for the feeder that probes them.
    /// - `batch_counts`: clips per batch and status, kept by statement-level triggers (one row change per
    ///   statement and shard, however many clips it touches), in 16 shards by clip id so that concurrent Fusion
    ///   transactions of one batch rarely wait on one counter row. `status` and `wait` sum at most 48 rows.
    static let backlogMigration = """
        ALTER TABLE clips ADD COLUMN audio_fed boolean NOT NULL DEFAULT true,
                          ADD COLUMN video_fed boolean NOT NULL DEFAULT true;
        ALTER TABLE clips ALTER COLUMN audio_fed SET DEFAULT false, ALTER COLUMN video_fed SET DEFAULT false;
        CREATE INDEX clips_audio_waiting ON clips (batch_id, id) WHERE status = 'queued' AND NOT audio_fed;
        CREATE INDEX clips_video_waiting ON clips (batch_id, id) WHERE status = 'queued' AND NOT video_fed;
        ALTER TABLE batches ADD COLUMN priority integer NOT NULL DEFAULT 0,
                            ADD COLUMN segment_threshold double precision,
                            ADD COLUMN segment_length double precision,
                            ADD COLUMN segment_hop double precision;
        CREATE TABLE batch_counts (
            batch_id bigint NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
            status text NOT NULL,
            shard smallint NOT NULL,
            clips bigint NOT NULL,
            PRIMARY KEY (batch_id, status, shard)
        );
        INSERT INTO batch_counts (batch_id, status, shard, clips)
        SELECT batch_id, status, (id % 16)::smallint, count(*) FROM clips GROUP BY 1, 2, 3;
        CREATE FUNCTION batch_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $counts$
        BEGIN
            -- Rows in key order, so that two transactions touching the same counters take their locks in one order.
            IF TG_OP = 'INSERT' THEN
                INSERT INTO batch_counts (batch_id, status, shard, clips)
                SELECT batch_id, status, (id % 16)::smallint, count(*) FROM changed_new GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                ON CONFLICT (batch_id, status, shard) DO UPDATE SET clips = batch_counts.clips + EXCLUDED.clips;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO batch_counts (batch_id, status, shard, clips)
                -- A batch deleted with its clips (ON DELETE CASCADE) took its counters with it.
                SELECT batch_id, status, (id % 16)::smallint, -count(*) FROM changed_old
                WHERE batch_id IN (SELECT id FROM batches) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                ON CONFLICT (batch_id, status, shard) DO UPDATE SET clips = batch_counts.clips + EXCLUDED.clips;
            ELSE
                INSERT INTO batch_counts (batch_id, status, shard, clips)
                SELECT batch_id, status, shard, sum(delta) FROM (
                    SELECT batch_id, status, (id % 16)::smallint AS shard, -1 AS delta FROM changed_old
                    UNION ALL
                    SELECT batch_id, status, (id % 16)::smallint, 1 FROM changed_new
                ) AS moves GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
                ON CONFLICT (batch_id, status, shard) DO UPDATE SET clips = batch_counts.clips + EXCLUDED.clips;
            END IF;
            RETURN NULL;
        END
        $counts$;
        CREATE TRIGGER clips_counted_insert AFTER INSERT ON clips REFERENCING NEW TABLE AS changed_new
            FOR EACH STATEMENT EXECUTE FUNCTION batch_counts_apply();
        CREATE TRIGGER clips_counted_update AFTER UPDATE ON clips REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
            FOR EACH STATEMENT EXECUTE FUNCTION batch_counts_apply();
        CREATE TRIGGER clips_counted_delete AFTER DELETE ON clips REFERENCING OLD TABLE AS changed_old
            FOR EACH STATEMENT EXECUTE FUNCTION batch_counts_apply();
        DO $grants$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'er_writer') THEN
                GRANT SELECT, INSERT, UPDATE, DELETE ON batch_counts TO er_writer;
            END IF;
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'er_reader') THEN
                GRANT SELECT ON batch_counts TO er_reader;
            END IF;
        END
        $grants$;
        """
}
