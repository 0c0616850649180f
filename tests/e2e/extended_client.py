"""AWS's own Amazon SQS Extended Client (PyPI's ``amazon-sqs-extended-client``), as a producer and
a consumer of large payloads, in a process of its own.

Importing ``sqs_extended_client`` replaces ``boto3.session.Session`` for the whole process,
so the tests never import it: they run this module, with the folder the tests installed
the client in (``tests/e2e/extended_install.py``) on ``PYTHONPATH``. Endpoints, region and credentials come
from the environment (``AWS_ENDPOINT_URL`` pointing at moto's server)::

    python -m tests.e2e.extended_client send QUEUE_URL BUCKET < body.json
    python -m tests.e2e.extended_client receive QUEUE_URL > body.json

``send`` stores a body larger than the client's threshold (256 KiB) in BUCKET and sends
the pointer; ``receive`` long polls for one message, writes its body (read from S3 if it
is a pointer) to stdout and deletes it; it exits 1 when no message came.
"""

from __future__ import annotations

import sys

import boto3
import sqs_extended_client  # replaces boto3's Session with the extended one


def send(queue_url: str, bucket: str) -> int:
    sqs = boto3.client("sqs")
    sqs.large_payload_support = bucket
    sqs.send_message(QueueUrl=queue_url, MessageBody=sys.stdin.read())
    return 0


def receive(queue_url: str) -> int:
    sqs = boto3.client("sqs")
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=10)
    messages = response.get("Messages", [])
    if not messages:
        return 1
    [message] = messages
    sys.stdout.write(message["Body"])
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return 0


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(f"extended client: {sqs_extended_client.__file__}", file=sys.stderr)
    raise SystemExit(send(*args) if command == "send" else receive(*args))
