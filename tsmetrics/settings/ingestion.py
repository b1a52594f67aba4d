"""Settings of ingestion: the broker, the consumer, and the limits on what is accepted."""

from __future__ import annotations

from tsmetrics.settings.definition import Setting

INGESTION_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "BROKER_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2F",
        str,
        "RabbitMQ URL for `tsmetrics consume`, `simulate` and the producer.",
        secret=True,
    ),
    Setting(
        "QUEUE",
        "tsmetrics.samples",
        str,
        "Queue of sample batches; refused ones go to `<queue>.dead`.",
    ),
    Setting("CONSUMER_PREFETCH", 500, int, "Messages the consumer holds unacknowledged at most."),
    Setting("CONSUMER_BATCH_SAMPLES", 100000, int, "The consumer writes once it holds this many."),
    Setting(
        "CONSUMER_LINGER_MS", 200, int, "...or once its oldest unwritten message waited this long."
    ),
    Setting(
        "CONSUMER_WRITERS",
        2,
        int,
        "Flushes the consumer writes at once, each on a database connection of its own.",
    ),
    Setting("MAX_SAMPLE_AGE", 604800, int, "Seconds: older samples are refused (7 days)."),
    Setting("MAX_SAMPLE_FUTURE", 300, int, "Seconds: samples further ahead are refused."),
    Setting("MAX_MESSAGE_BYTES", 2000000, int, "Largest batch accepted, queue or `POST /ingest`."),
    Setting(
        "MAX_REQUEST_BYTES",
        65536,
        int,
        "Largest request body of every request but `POST /ingest` (forms, JSON); a larger "
        "one gets 413 before it is read.",
    ),
)
