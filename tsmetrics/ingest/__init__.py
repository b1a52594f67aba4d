"""Ingestion: the batch format and its checks, the RabbitMQ consumer and writer, the producer."""
