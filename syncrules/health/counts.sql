-- Keeps syncrules_linkcount equal to SELECT object_sync_id, status, error_category, count(*)
-- FROM syncrules_recordlink GROUP BY 1, 2, 3 (PostgreSQL; installed by migration 0008).
-- Inserts and deletes are counted per statement (bulk_create, cascades: one upsert per batch);
-- an update only when it moves a link to another status or category, which is rare next to the
-- updates of values, so the engine's link saves pay nothing for it.

CREATE OR REPLACE FUNCTION syncrules_linkcount_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO syncrules_linkcount AS c (object_sync_pk, status, error_category, n)
    SELECT object_sync_id, status, error_category, count(*) FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (object_sync_pk, status, error_category) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION syncrules_linkcount_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO syncrules_linkcount AS c (object_sync_pk, status, error_category, n)
    SELECT object_sync_id, status, error_category, -count(*) FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (object_sync_pk, status, error_category) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION syncrules_linkcount_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Two statements, not one with two rows: ON CONFLICT may not touch a row twice.
    INSERT INTO syncrules_linkcount AS c (object_sync_pk, status, error_category, n)
    VALUES (OLD.object_sync_id, OLD.status, OLD.error_category, -1)
    ON CONFLICT (object_sync_pk, status, error_category) DO UPDATE SET n = c.n - 1;
    INSERT INTO syncrules_linkcount AS c (object_sync_pk, status, error_category, n)
    VALUES (NEW.object_sync_id, NEW.status, NEW.error_category, 1)
    ON CONFLICT (object_sync_pk, status, error_category) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS syncrules_linkcount_insert ON syncrules_recordlink;
CREATE TRIGGER syncrules_linkcount_insert AFTER INSERT ON syncrules_recordlink
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION syncrules_linkcount_inserted();

DROP TRIGGER IF EXISTS syncrules_linkcount_delete ON syncrules_recordlink;
CREATE TRIGGER syncrules_linkcount_delete AFTER DELETE ON syncrules_recordlink
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION syncrules_linkcount_deleted();

DROP TRIGGER IF EXISTS syncrules_linkcount_update ON syncrules_recordlink;
CREATE TRIGGER syncrules_linkcount_update AFTER UPDATE OF object_sync_id, status, error_category ON syncrules_recordlink
    FOR EACH ROW WHEN (OLD.object_sync_id IS DISTINCT FROM NEW.object_sync_id OR OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.error_category IS DISTINCT FROM NEW.error_category)
    EXECUTE FUNCTION syncrules_linkcount_moved();
