"""The analytics layer: the ``Stream`` port (spool, Redis Streams, NATS JetStream), the
Parquet lake and engine selection for Ibis expressions."""
