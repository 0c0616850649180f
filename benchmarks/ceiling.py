"""The transport ceiling: the loop a user would write instead, with boto3 alone.

``python -m benchmarks.ceiling`` (queue names from the worker's settings): one
thread receives up to 10 events with a long poll, makes each event's output as
the reference choreography does, the same message the worker sends (payload,
message attributes, and the trace context every output carries: a
``traceparent`` attribute and the ``AWSTraceHeader`` system attribute of a new
trace), sends the outputs with one SendMessageBatch per output queue and
deletes the batch with one DeleteMessageBatch. No schema check, no retries of
its own, no logging: what the queue work alone costs.
"""

from __future__ import annotations

import json
import secrets
import signal
import sys
import threading
import uuid
from typing import Any

import boto3

from briefy.choreographer.config import Settings
from briefy.choreographer.events.message import NAMESPACE
from tests import reference

SYSTEM_ATTRIBUTES = ["ApproximateReceiveCount", "MessageGroupId", "SentTimestamp"]


def output(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The output queue role of an event and the SendMessageBatch entry of its output."""
    _, role, action = reference.KINDS[event["event_name"]]
    oid = str(uuid.uuid5(NAMESPACE, f"{event['id']}/{action}"))
    payload = {**reference.expected(event), "output_id": oid, "request_id": event["request_id"]}
    attributes = {
        "output_id": oid,
        "event_id": event["id"],
        "event_name": event["event_name"],
        "action": action,
        "request_id": event["request_id"],
        # The events carry no trace context: each output starts a trace, as the worker's do.
        "traceparent": f"00-{(trace := secrets.token_hex(16))}-{(span := secrets.token_hex(8))}-01",
    }
    return role, {
        "MessageBody": json.dumps(payload),
        "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        "MessageSystemAttributes": {
            "AWSTraceHeader": {
                "DataType": "String",
                "StringValue": f"Root=1-{trace[:8]}-{trace[8:]};Parent={span};Sampled=1",
            }
        },
    }


def main() -> int:
    """Run the loop until SIGTERM or SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    settings = Settings.from_env()
    sqs = boto3.client("sqs")

    def url(utility: str, default: str) -> str:
        return str(sqs.get_queue_url(QueueName=settings.queue_name(utility, default))["QueueUrl"])

    events = url("events.queue", "events")
    outputs = {role: url(f"{role}.queue", role) for role in ("mail", "notification")}
    while not stop.is_set():
        messages = sqs.receive_message(
            QueueUrl=events,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=settings.wait_time,
            MessageSystemAttributeNames=SYSTEM_ATTRIBUTES,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            continue
        by_queue: dict[str, list[dict[str, Any]]] = {}
        for number, message in enumerate(messages):
            event = json.loads(message["Body"])
            if event.get("event_name") not in reference.KINDS:  # no output: deleted with the rest
                continue
            role, entry = output(event)
            by_queue.setdefault(role, []).append({"Id": str(number), **entry})
        for role, entries in by_queue.items():
            sqs.send_message_batch(QueueUrl=outputs[role], Entries=entries)
        sqs.delete_message_batch(
            QueueUrl=events,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
