"""Foundation shared by briefy services: SQS queues, messages and the queue worker."""
