-- Ids of the sample batches already stored (AMQP message_id or HTTP Idempotency-Key).
-- Recording the id in the same transaction as the samples is what makes a
-- redelivered or retried batch a no-op: exactly-once storage over an
-- at-least-once queue.
CREATE TABLE ingested_batches (
    batch_id    text PRIMARY KEY CHECK (length(batch_id) BETWEEN 1 AND 200),
    received_at timestamptz NOT NULL DEFAULT now(),
    samples     integer NOT NULL CHECK (samples >= 0)
);
-- Pruning deletes by age; rows arrive in received_at order, so a BRIN index
-- finds old ones for a few kilobytes.
CREATE INDEX ingested_batches_received_brin ON ingested_batches USING brin (received_at);
