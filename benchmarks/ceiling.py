"""The transport ceiling: a plain batched boto3 loop doing the worker's queue work.

``python -m benchmarks.ceiling`` (settings from the environment,
like the worker): ``CHOREOGRAPHER_CONCURRENCY`` threads, each receiving up to 10
events with the worker's long poll and attributes, sending one output per event
with SendMessageBatch grouped by queue (the body and attributes the worker would
send, same sizes), and deleting the batch with DeleteMessageBatch. No parsing,
no choreography, no logging: what the queue work alone costs.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import orjson

from benchmarks.loop import queue_url, stop_on_signals
from briefy.choreographer.actions import output_id
from briefy.choreographer.bootstrap import make_client
from briefy.choreographer.config import Settings
from tests import reference

#: What the worker asks for with each receive (``briefy.common.queue.Queue.get_messages``).
SYSTEM_ATTRIBUTES = ["ApproximateReceiveCount", "MessageGroupId", "SentTimestamp"]
MAIL_SENT = '"event_name":"mail.sent"'


def template(event_name: str) -> dict[str, Any]:
    """A SendMessageBatch entry like the worker's output for an event of ``event_name``."""
    event = reference.event(list(reference.KINDS).index(event_name))
    _, _, action = reference.KINDS[event_name]
    oid = output_id(event["id"], action)
    payload = {**reference.expected(event), "output_id": oid, "request_id": event["request_id"]}
    attributes = {
        "output_id": oid,
        "event_id": event["id"],
        "event_name": event_name,
        "action": action,
        "request_id": event["request_id"],
    }
    return {
        "MessageBody": orjson.dumps(payload).decode(),
        "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    }


class Ceiling:
    """The loop's threads and what they share."""

    def __init__(self, settings: Settings, client: Any) -> None:
        self.settings = settings
        self.client = client
        self.events = queue_url(client, settings, "events.queue", "events")
        self.routes = {
            name: (queue_url(client, settings, f"{queue}.queue", queue), template(name))
            for name, (_, queue, _) in reference.KINDS.items()
        }

    def turn(self) -> int:
        """One receive, its sends and its delete; return how many events it moved."""
        messages = self.client.receive_message(
            QueueUrl=self.events,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self.settings.wait_time,
            MessageSystemAttributeNames=SYSTEM_ATTRIBUTES,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        outputs: dict[str, list[dict[str, Any]]] = {}
        for i, message in enumerate(messages):
            name = "mail.sent" if MAIL_SENT in message["Body"] else "lead.created"
            url, entry = self.routes[name]
            outputs.setdefault(url, []).append({"Id": str(i), **entry})
        for url, entries in outputs.items():
            self.client.send_message_batch(QueueUrl=url, Entries=entries)
        self.client.delete_message_batch(
            QueueUrl=self.events,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        return len(messages)


def main() -> int:
    """Run the loop until SIGTERM or SIGINT."""
    stop = stop_on_signals()
    settings = Settings.from_env()
    ceiling = Ceiling(settings, make_client(settings))

    errors: list[str] = []

    def pipeline() -> None:
        while not stop.is_set():
            try:
                ceiling.turn()
            except Exception as error:  # counted and reported: the run is then suspect
                errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=pipeline, daemon=True) for _ in range(settings.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors[:10]:
        print(f"ceiling: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
