"""The events queue: where services publish the events the choreographer reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from briefy.common.queue import Queue


class EventQueue(Queue):
    """The input queue, registered as the ``events.queue`` utility.

    Its dead-letter queue is found, in order, from the setting, from the queue's
    own RedrivePolicy, or is ``events-dlq``.
    """

    name = "events.queue"
    default_queue_name = "events"
    default_dead_letter_queue = "events-dlq"

    def __init__(self) -> None:
        super().__init__()
        self.dead_letter_queue: Queue | None = None

    def redrive_target(self) -> str | None:
        """The DLQ name from the queue's RedrivePolicy, if it has one."""
        policy: Mapping[str, Any] = orjson.loads(self.attributes.get("RedrivePolicy", "{}") or "{}")
        arn = str(policy.get("deadLetterTargetArn", ""))
        return arn.rsplit(":", 1)[-1] if arn else None

    def max_receive_count(self) -> int | None:
        """The RedrivePolicy's ``maxReceiveCount``: SQS dead-letters on the receive after it."""
        policy: Mapping[str, Any] = orjson.loads(self.attributes.get("RedrivePolicy", "{}") or "{}")
        count = policy.get("maxReceiveCount")
        return int(count) if count else None

    def connect_dead_letters(self, client: Any, queue_name: str | None = None, create: bool = False) -> Queue:
        """Bind the dead-letter queue (setting, then RedrivePolicy, then the default)."""
        dlq = DeadLetterQueue()
        name = queue_name or self.redrive_target() or self.default_dead_letter_queue
        if self.fifo and not name.endswith(".fifo") and not name.startswith("http"):
            name += ".fifo"
        dlq.connect(client, name, create=create)
        self.dead_letter_queue = dlq
        return dlq


class DeadLetterQueue(Queue):
    """Where bad input and exhausted retries go, body intact, reason in attributes."""

    name = "events.dlq"
    default_queue_name = "events-dlq"
