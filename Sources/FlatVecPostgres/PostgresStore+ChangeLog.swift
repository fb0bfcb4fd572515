extension PostgresStore {
    /// Schema version 3: the change log every server follows.
    ///
    /// Statement-level triggers on each collection's table write one `flatvec_changes` row per changed
    /// id (`kind = 'row'`; an UPDATE that changes an id logs both), one per TRUNCATE (`'truncate'`), and
    /// triggers on `flatvec_collections` and `flatvec_attributes` log `'collection'` and `'attributes'`
    /// rows. Each row records the top-level transaction id (`xid`) and the server that wrote it
    /// (`origin`, the session setting `flatvec.origin`; NULL for plain SQL), and every logging statement
    /// sends `NOTIFY flatvec_changes` (delivered at commit, and only a wake-up).
    ///
    /// `position` is a sequence, taken before commit, so a later position can commit first. Readers
    /// therefore never go by position: they read by transaction id below the oldest transaction still
    /// running (`pg_snapshot_xmin(pg_current_snapshot())`), where every transaction has ended and its
    /// rows are all visible or never will be. The reader's cursor is that horizon.
    ///
    /// `flatvec_trim_changes(max_age, max_rows)` deletes every row up to a transaction id below the
    /// horizon, and records that id in `flatvec_changes_trimmed`: a reader whose cursor is at or below
    /// it may have missed changes and reloads the collections from their tables.
    static let changeLogMigration = """
        CREATE TABLE flatvec_changes (
            position bigserial PRIMARY KEY,
            xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            collection text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('row', 'truncate', 'collection', 'attributes')),
            id bigint,
            origin text DEFAULT nullif(current_setting('flatvec.origin', true), ''),
            logged_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX flatvec_changes_xid ON flatvec_changes (xid);
        CREATE TABLE flatvec_changes_trimmed (
            single boolean PRIMARY KEY DEFAULT true CHECK (single),
            horizon xid8 NOT NULL
        );
        INSERT INTO flatvec_changes_trimmed (horizon) VALUES ('0');

        CREATE FUNCTION flatvec_log_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO flatvec_changes (collection, kind, id) SELECT TG_ARGV[0], 'row', id FROM flatvec_new_rows;
            PERFORM pg_notify('flatvec_changes', '');
            RETURN NULL;
        END $$;
        CREATE FUNCTION flatvec_log_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO flatvec_changes (collection, kind, id)
                SELECT TG_ARGV[0], 'row', id FROM (SELECT id FROM flatvec_new_rows UNION SELECT id FROM flatvec_old_rows) AS changed;
            PERFORM pg_notify('flatvec_changes', '');
            RETURN NULL;
        END $$;
        CREATE FUNCTION flatvec_log_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO flatvec_changes (collection, kind, id) SELECT TG_ARGV[0], 'row', id FROM flatvec_old_rows;
            PERFORM pg_notify('flatvec_changes', '');
            RETURN NULL;
        END $$;
        CREATE FUNCTION flatvec_log_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO flatvec_changes (collection, kind) VALUES (TG_ARGV[0], 'truncate');
            PERFORM pg_notify('flatvec_changes', '');
            RETURN NULL;
        END $$;

        -- Puts the logging triggers on a collection's table (again, if they exist).
        CREATE FUNCTION flatvec_follow_table(collection text) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            t text := format('%I', 'fv_' || collection);
        BEGIN
            EXECUTE format('DROP TRIGGER IF EXISTS flatvec_inserted ON %s', t);
            EXECUTE format('DROP TRIGGER IF EXISTS flatvec_updated ON %s', t);
            EXECUTE format('DROP TRIGGER IF EXISTS flatvec_deleted ON %s', t);
            EXECUTE format('DROP TRIGGER IF EXISTS flatvec_truncated ON %s', t);
            EXECUTE format('CREATE TRIGGER flatvec_inserted AFTER INSERT ON %s REFERENCING NEW TABLE AS flatvec_new_rows '
                'FOR EACH STATEMENT EXECUTE FUNCTION flatvec_log_inserted(%L)', t, collection);
            EXECUTE format('CREATE TRIGGER flatvec_updated AFTER UPDATE ON %s REFERENCING OLD TABLE AS flatvec_old_rows '
                'NEW TABLE AS flatvec_new_rows FOR EACH STATEMENT EXECUTE FUNCTION flatvec_log_updated(%L)', t, collection);
            EXECUTE format('CREATE TRIGGER flatvec_deleted AFTER DELETE ON %s REFERENCING OLD TABLE AS flatvec_old_rows '
                'FOR EACH STATEMENT EXECUTE FUNCTION flatvec_log_deleted(%L)', t, collection);
            EXECUTE format('CREATE TRIGGER flatvec_truncated AFTER TRUNCATE ON %s '
                'FOR EACH STATEMENT EXECUTE FUNCTION flatvec_log_truncated(%L)', t, collection);
        END $$;

        CREATE FUNCTION flatvec_log_collection() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                INSERT INTO flatvec_changes (collection, kind) VALUES (OLD.name, 'collection');
            END IF;
            IF TG_OP <> 'DELETE' THEN
                INSERT INTO flatvec_changes (collection, kind) VALUES (NEW.name, 'collection');
                -- A table created before its flatvec_collections row (as FlatVec does) is followed at once.
                IF to_regclass(format('%I', 'fv_' || NEW.name)) IS NOT NULL THEN
                    PERFORM flatvec_follow_table(NEW.name);
                END IF;
            END IF;
            PERFORM pg_notify('flatvec_changes', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER flatvec_collection_changed AFTER INSERT OR UPDATE OR DELETE ON flatvec_collections
            FOR EACH ROW EXECUTE FUNCTION flatvec_log_collection();

        CREATE FUNCTION flatvec_log_attributes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO flatvec_changes (collection, kind)
                VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.collection ELSE NEW.collection END, 'attributes');
            PERFORM pg_notify('flatvec_changes', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER flatvec_attributes_changed AFTER INSERT OR UPDATE OR DELETE ON flatvec_attributes
            FOR EACH ROW EXECUTE FUNCTION flatvec_log_attributes();

        -- Deletes the changes older than max_age, and all but the newest max_rows, up to a transaction
        -- id below the horizon (whole transactions at a time); returns how many rows went.
        CREATE FUNCTION flatvec_trim_changes(max_age interval, max_rows bigint) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            settled xid8 := pg_snapshot_xmin(pg_current_snapshot());
            newest bigint;
            cut xid8;
            deleted bigint;
        BEGIN
            SELECT max(position) INTO newest FROM flatvec_changes;
            SELECT max(xid) INTO cut FROM flatvec_changes
                WHERE xid < settled AND (logged_at < clock_timestamp() - max_age OR position <= newest - max_rows);
            IF cut IS NULL THEN
                RETURN 0;
            END IF;
            UPDATE flatvec_changes_trimmed SET horizon = greatest(horizon, cut);
            DELETE FROM flatvec_changes WHERE xid <= cut;
            GET DIAGNOSTICS deleted = ROW_COUNT;
            RETURN deleted;
        END $$;

        SELECT flatvec_follow_table(name) FROM flatvec_collections;
        """
}
