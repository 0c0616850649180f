"""Delivery bookkeeping: one ``Job`` per received message, and how it settles.

The attributes below travel with a message through retries and the DLQ, so a
retried or redriven event keeps its id and runs only the actions not yet done.
"""

from __future__ import annotations

import os
import random
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from briefy.choreographer.errors import BadInput
from briefy.choreographer.events.envelope import EventMessage
from briefy.choreographer.outbox import Planned, PlanningOutbox
from briefy.common.queue.message import OutgoingMessage, SendResult, SQSMessage

#: Message attributes of retry envelopes and dead letters.
DONE = "choreographer.done"
ATTEMPT = "choreographer.attempt"
EVENT_ID = "choreographer.event_id"

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
MAX_REASON = 1000


@dataclass(slots=True, eq=False)
class Job:
    """A received message on its way through plan, deliver and settle."""

    message: SQSMessage
    event: EventMessage | None = None
    outbox: PlanningOutbox | None = None
    bad: BadInput | None = None
    results: list[tuple[Planned, SendResult]] = field(default_factory=list)

    @property
    def done_before(self) -> list[str]:
        """Actions that succeeded on earlier attempts (from a retry envelope or dead letter)."""
        raw = self.message.message_attributes.get(DONE)
        return list(orjson.loads(raw)) if raw else []

    @property
    def attempt(self) -> int:
        """This attempt's number, counting the attempts of earlier envelopes."""
        earlier = int(self.message.message_attributes.get(ATTEMPT, "0") or 0)
        return earlier + self.message.receive_count

    @property
    def fallback_id(self) -> str:
        """The event id to use when the body has none: stable across redeliveries."""
        return self.message.message_attributes.get(EVENT_ID) or self.message.message_id

    @property
    def event_name(self) -> str:
        if self.event is not None:
            return self.event.event_name
        return self.bad.event_name if self.bad is not None else ""

    def done(self) -> list[str]:
        """Every action done so far, this attempt included."""
        return self.done_before + [p.name for p, r in self.results if r.ok]

    def failures(self) -> list[tuple[Planned, SendResult]]:
        """The sends that failed this attempt."""
        return [(p, r) for p, r in self.results if not r.ok]

    def carried_attributes(self) -> dict[str, str]:
        """The attributes that let a later attempt skip what is done."""
        attributes = {DONE: orjson.dumps(self.done()).decode()}
        if self.event is not None:
            attributes[EVENT_ID] = self.event.id
        return attributes

    def dead_letter(self, error_type: str, reason: str) -> OutgoingMessage:
        """The dead letter: the body byte for byte, the reason in attributes."""
        attributes = {
            "error_type": error_type,
            "error_message": reason[:MAX_REASON],
            "event_name": self.event_name[:256],
            "receive_count": str(self.attempt),
            "worker": WORKER_ID,
            "failed_at": datetime.now(UTC).isoformat(),
            "source_message_id": self.message.message_id,
            **self.carried_attributes(),
        }
        return OutgoingMessage(
            self.message.body,
            attributes,
            dedup_id=f"{self.message.message_id}-{self.attempt}",
            group_id=self.message.group_id,
        )

    def envelope(self, delay: int) -> OutgoingMessage:
        """A retry envelope: the body again, naming what is done, delivered after ``delay``."""
        attributes = {
            **{
                k: v for k, v in self.message.message_attributes.items() if not k.startswith("choreographer.")
            },
            ATTEMPT: str(self.attempt),
            **self.carried_attributes(),
        }
        return OutgoingMessage(self.message.body, attributes, delay=min(delay, 900))


def backoff(attempt: int, base: float, cap: int) -> int:
    """Seconds to wait before attempt ``attempt + 1``: exponential, with jitter."""
    ceiling = min(float(cap), base * 2 ** max(0, attempt - 1))
    return round(random.uniform(ceiling / 2, ceiling))


def rounds(jobs: list[Job], fifo: bool) -> list[list[Job]]:
    """Split a batch into rounds: one round for a standard queue; for a FIFO queue,
    round k holds the k-th message of each message group, so order is kept."""
    if not fifo:
        return [jobs]
    groups: dict[str | None, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.message.group_id, []).append(job)
    depth = max(len(group) for group in groups.values())
    return [[group[k] for group in groups.values() if k < len(group)] for k in range(depth)]
