"""An in-memory stand-in for boto3's SQS client: the pipeline with no I/O at all.

It answers the calls ``briefy.common.queue.Queue`` makes with responses shaped
like SQS's, so the benchmark runs the real queue, worker and choreography code.
"""

from __future__ import annotations

from collections import deque
from itertools import count
from typing import Any

PREFIX = "memory://queues/"


class MemoryClient:
    """Queues held in memory; sends only count what each queue received."""

    class exceptions:  # noqa: N801 - boto3 clients expose ``client.exceptions.X``
        class QueueDoesNotExist(Exception):
            """No queue of that name."""

    def __init__(self) -> None:
        self.waiting: dict[str, deque[dict[str, Any]]] = {}
        self.sent: dict[str, int] = {}
        self.last: dict[str, dict[str, Any]] = {}
        self.deleted = 0
        self._ids = count()

    def get_queue_url(self, QueueName: str) -> dict[str, str]:  # noqa: N803 - boto3's names
        url = PREFIX + QueueName
        self.waiting.setdefault(url, deque())
        self.sent.setdefault(url, 0)
        return {"QueueUrl": url}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:  # noqa: N803
        return {"Attributes": {"VisibilityTimeout": "30"}}

    def put(self, url: str, body: str) -> None:
        """Make a message with ``body`` waiting on the queue at ``url``."""
        number = next(self._ids)
        self.waiting[url].append(
            {
                "MessageId": f"m-{number}",
                "ReceiptHandle": f"r-{number}",
                "Body": body,
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
        )

    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int = 1, **_: Any) -> dict[str, Any]:  # noqa: N803
        waiting = self.waiting[QueueUrl]
        return {"Messages": [waiting.popleft() for _ in range(min(MaxNumberOfMessages, len(waiting)))]}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.sent[QueueUrl] += len(Entries)
        self.last[QueueUrl] = Entries[-1]
        return {"Successful": [{"Id": e["Id"], "MessageId": f"s-{next(self._ids)}"} for e in Entries]}

    def send_message(self, QueueUrl: str, **entry: Any) -> dict[str, Any]:  # noqa: N803
        self.sent[QueueUrl] += 1
        self.last[QueueUrl] = entry
        return {"MessageId": f"s-{next(self._ids)}"}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.deleted += len(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}
