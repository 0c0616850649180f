"""The queues of one benchmark run: uniquely named on the server, gone afterwards."""

from __future__ import annotations

import uuid
from typing import Any

from briefy.common.queue import approximate_count

#: The queues of a run, by role; the outputs are named as in ``reference.KINDS``.
ROLES = ("events", "mail", "notification", "dlq")


class QueueSet:
    """events, mail, notification and a DLQ named ``<prefix>-<role>`` on one server."""

    def __init__(self, client: Any, prefix: str | None = None) -> None:
        self.client = client
        self.prefix = prefix or f"bench{uuid.uuid4().hex[:8]}"
        self.names = {role: f"{self.prefix}-{role}" for role in ROLES}
        self.urls: dict[str, str] = {}

    def __enter__(self) -> QueueSet:
        for role, name in self.names.items():
            self.urls[role] = self.client.create_queue(QueueName=name)["QueueUrl"]
        return self

    def __exit__(self, *exc_info: object) -> None:
        for url in self.urls.values():
            self.client.delete_queue(QueueUrl=url)

    def env(self) -> dict[str, str]:
        """The worker settings that name these queues."""
        return {
            "CHOREOGRAPHER_EVENTS_QUEUE": self.names["events"],
            "CHOREOGRAPHER_MAIL_QUEUE": self.names["mail"],
            "CHOREOGRAPHER_NOTIFICATION_QUEUE": self.names["notification"],
            "CHOREOGRAPHER_DEAD_LETTER_QUEUE": self.names["dlq"],
        }

    def depth(self, role: str) -> int:
        """Messages on a queue, visible or in flight."""
        return approximate_count(self.client, self.urls[role])
