-- Managing A/B tests and metrics: a hypothesis and an expected split per test,
-- display decimals per metric, and archiving (which hides without deleting).
-- Every new column has a constant default or is nullable, so this applies in
-- an instant on a database that already holds data (no table rewrite).

ALTER TABLE abtests
    ADD COLUMN hypothesis text NOT NULL DEFAULT '' CHECK (length(hypothesis) <= 2000),
    -- Relative weights, one per variant in the same order; NULL is an equal
    -- split. The sample ratio mismatch test compares the counts against it.
    ADD COLUMN expected_split double precision[],
    ADD COLUMN archived_at timestamptz,
    ADD CONSTRAINT abtests_expected_split_check CHECK (
        expected_split IS NULL OR (
            cardinality(expected_split) = cardinality(variants)
            AND array_position(expected_split, NULL) IS NULL
            -- NaN sorts above Infinity in PostgreSQL, so this refuses it too.
            AND 0 < ALL (expected_split)
            AND 'Infinity' > ALL (expected_split)));

ALTER TABLE metrics
    ADD COLUMN display_decimals smallint NOT NULL DEFAULT 2
        CHECK (display_decimals BETWEEN 0 AND 6),
    ADD COLUMN archived_at timestamptz;
