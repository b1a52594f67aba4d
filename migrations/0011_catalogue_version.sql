-- A version stamp of the catalogue (A/B tests and metrics), for the caches of the
-- two ingestion paths (tsmetrics/ingest/catalogue_cache.py). Every change to
-- either table bumps it in the same transaction, so a process that meets a name
-- it does not know reads one row to tell whether its copy is out of date: a name
-- that exists is never refused as unknown, and an unknown one costs no reload.
-- A trigger rather than a line in the write path, so every writer is covered.

CREATE TABLE catalogue_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint NOT NULL
);
INSERT INTO catalogue_version (version) VALUES (1);

-- An UPDATE, not a sequence: a sequence moves before the change commits, so a
-- reader could see the new number with the old catalogue. Catalogue changes are
-- rare; the row lock orders them.
CREATE FUNCTION bump_catalogue_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalogue_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER abtests_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON abtests
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalogue_version();
CREATE TRIGGER metrics_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON metrics
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalogue_version();
