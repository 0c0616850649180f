"""The event choreographer: SQS events in, ZCA actions, SQS payloads out."""
