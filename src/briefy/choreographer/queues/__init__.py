"""Output queues: the SQS queues other services read, each with its payload schema."""
