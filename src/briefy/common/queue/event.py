"""The events queue: where services publish the events the choreographer reads."""

from __future__ import annotations

from typing import Any

from briefy.common.queue import Queue, sqs
from briefy.common.queue.sqs import RedrivePolicy

#: The name of the events queue utility.
EVENTS_QUEUE = "events.queue"


class EventQueue(Queue):
    """The input queue, registered as the ``events.queue`` utility.

    Its dead-letter queue is found, in order, from the setting, from the queue's
    own RedrivePolicy, or is ``events-dlq``.
    """

    name = EVENTS_QUEUE
    default_queue_name = "events"
    default_dead_letter_queue = "events-dlq"

    def __init__(self) -> None:
        super().__init__()
        self.dead_letter_queue: Queue | None = None

    @property
    def redrive_policy(self) -> RedrivePolicy | None:
        """The queue's RedrivePolicy, if it has one (``maxReceiveCount``: SQS dead-letters
        on the receive after it)."""
        return RedrivePolicy.of(self.attributes)

    def dead_letter_name(self, configured: str | None = None) -> str:
        """The name of its dead-letter queue (setting, then RedrivePolicy, then the default)."""
        return sqs.dead_letter_name(
            configured, self.queue_name, self.redrive_policy, self.default_dead_letter_queue
        )

    def connect_dead_letters(self, client: Any, queue_name: str | None = None, create: bool = False) -> Queue:
        """Bind the dead-letter queue (setting, then RedrivePolicy, then the default)."""
        dlq = DeadLetterQueue()
        dlq.connect(client, self.dead_letter_name(queue_name), create=create)
        self.dead_letter_queue = dlq
        return dlq


class DeadLetterQueue(Queue):
    """Where bad input and exhausted retries go, body intact, reason in attributes."""

    name = "events.dlq"
    default_queue_name = "events-dlq"
