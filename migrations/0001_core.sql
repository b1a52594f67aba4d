-- The catalogue (A/B tests and metrics), raw samples, and exact rollups.

CREATE TABLE abtests (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9_-]{1,50}$'),
    title       text NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    description text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'running', 'paused', 'completed', 'archived')),
    -- Ordered; the first is the control. Samples store the position (0 = control),
    -- which keeps each sample row small.
    variants    text[] NOT NULL CHECK (
                    cardinality(variants) BETWEEN 2 AND 20
                    AND array_position(variants, NULL) IS NULL),
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    ended_at    timestamptz
);

CREATE TABLE metrics (
    id               smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9_-]{1,50}$'),
    unit             text NOT NULL DEFAULT '' CHECK (length(unit) <= 20),
    description      text NOT NULL DEFAULT '',
    -- 'mean' for gauges and latencies, 'sum' for counters such as clicks.
    kind             text NOT NULL DEFAULT 'mean' CHECK (kind IN ('mean', 'sum')),
    higher_is_better boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- One row per sample: 24 bytes of data. No foreign keys: there will be billions
-- of rows and the one insert path (store.samples) validates ids first.
CREATE TABLE samples (
    time      timestamptz NOT NULL,
    value     double precision NOT NULL CHECK (value > '-Infinity' AND value < 'Infinity'),
    abtest_id integer NOT NULL,
    metric_id smallint NOT NULL,
    variant   smallint NOT NULL
);
CREATE INDEX samples_time_brin ON samples USING brin (time);

-- Exact rollups: each bucket keeps count, sum, sum of squares, min and max of the
-- raw samples in it, so means, standard deviations and intervals are exact at
-- every granularity. Sums are numeric so that merging buckets never loses
-- precision (and variance needs no subtraction of two huge floats).
-- variant = -1 holds the bucket over all variants of the test, kept by the same
-- write, so the common "all variants" read needs no grouping.
CREATE TABLE rollups (
    bucket         timestamptz NOT NULL,
    n              bigint NOT NULL,
    lo             double precision NOT NULL,
    hi             double precision NOT NULL,
    abtest_id      integer NOT NULL,
    bucket_seconds integer NOT NULL CHECK (bucket_seconds IN (60, 300, 1800, 3600, 21600, 86400)),
    metric_id      smallint NOT NULL,
    variant        smallint NOT NULL CHECK (variant >= -1),
    total          numeric NOT NULL,
    total_sq       numeric NOT NULL,
    -- A read is one contiguous range of this index, so its cost follows the
    -- buckets returned, not the raw row count or other series. The INCLUDE
    -- columns make it an index-only scan: rollup rows of one series are spread
    -- over many heap pages because every write touches every series' buckets.
    PRIMARY KEY (abtest_id, metric_id, bucket_seconds, variant, bucket)
        INCLUDE (n, lo, hi, total, total_sq)
);

-- What each (test, metric, variant) series holds, kept by the insert path: the
-- overview reads it instead of scanning samples. variant = -1: all variants.
CREATE TABLE series (
    abtest_id    integer NOT NULL REFERENCES abtests (id) ON DELETE CASCADE,
    metric_id    smallint NOT NULL REFERENCES metrics (id) ON DELETE CASCADE,
    variant      smallint NOT NULL CHECK (variant >= -1),
    first_time   timestamptz NOT NULL,
    last_time    timestamptz NOT NULL,
    sample_count bigint NOT NULL,
    PRIMARY KEY (abtest_id, metric_id, variant)
);
