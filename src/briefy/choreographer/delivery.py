"""Delivery bookkeeping: one ``Job`` per received message, and how it settles.

What earlier attempts did travels with a message through retries and the DLQ
as sealed retry state (``briefy.choreographer.state``), so a retried or redriven
event keeps its id and runs only the actions not yet done.
"""

from __future__ import annotations

import os
import random
import socket
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from briefy.choreographer.errors import BadInput
from briefy.choreographer.events.envelope import EventMessage
from briefy.choreographer.outbox import Planned, PlanningOutbox
from briefy.choreographer.state import NO_STATE, PREFIX, RetryState, Seal
from briefy.common.queue.message import MAX_ATTRIBUTES, OutgoingMessage, SendResult, SQSMessage

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
MAX_REASON = 1000

#: Dead-letter attributes, in the order they are given up when a letter would be too big.
_EXPENDABLE = (
    "worker",
    "failed_at",
    "event_name",
    "receive_count",
    "choreographer.state",
    "choreographer.seal",
    "source_message_id",
    "error_message",
    "error_type",
)


@dataclass(slots=True, eq=False)
class Job:
    """A received message on its way through plan, deliver and settle."""

    message: SQSMessage
    #: What earlier attempts left: trusted only when sealed (see ``Seal``).
    state: RetryState = NO_STATE
    event: EventMessage | None = None
    outbox: PlanningOutbox | None = None
    bad: BadInput | None = None
    results: list[tuple[Planned, SendResult]] = field(default_factory=list)
    #: Actions this process remembers sending for the message on an earlier attempt.
    recalled: tuple[str, ...] = ()

    @property
    def done_before(self) -> list[str]:
        """Actions that succeeded on earlier attempts (named by sealed state, or
        remembered by this process)."""
        if not self.state.done and not self.recalled:
            return []
        return list(dict.fromkeys([*self.state.done, *self.recalled]))

    @property
    def attempt(self) -> int:
        """This attempt's number, counting the attempts of earlier envelopes."""
        return self.state.attempts + self.message.receive_count

    @property
    def fallback_id(self) -> str:
        """The event id to use when the body has none: stable across redeliveries."""
        return self.state.event_id or self.message.message_id

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

    def carried_state(self, attempts: int = 0) -> RetryState:
        """The state that lets a later attempt skip what is done and keep the event id."""
        event_id = self.event.id if self.event is not None else self.state.event_id
        return RetryState(tuple(self.done()), attempts, event_id)

    def dead_letter(self, error_type: str, reason: str, seal: Seal) -> OutgoingMessage:
        """The dead letter: the body byte for byte, the reason in attributes."""
        attributes = {
            "error_type": error_type,
            "error_message": reason[:MAX_REASON],
            "event_name": self.event_name[:256],
            "receive_count": str(self.attempt),
            "worker": WORKER_ID,
            "failed_at": datetime.now(UTC).isoformat(),
            "source_message_id": self.message.message_id,
            # A redrive starts the attempts afresh: the letter keeps what is done and the id.
            **seal.attributes(self.carried_state(), self.message.body),
        }
        return OutgoingMessage(
            self.message.body,
            attributes,
            dedup_id=f"{self.message.message_id}-{self.attempt}",
            group_id=self.message.group_id,
        )

    def envelope(self, delay: int, seal: Seal) -> OutgoingMessage | None:
        """A retry envelope: the body again, with the producer's attributes and sealed state
        naming what is done, delivered after ``delay``; None when it cannot be made (no
        key, or no room left among SQS's attributes of a message)."""
        state = seal.attributes(self.carried_state(self.attempt), self.message.body)
        if not state:
            return None
        attributes = {k: v for k, v in self.message.message_attributes.items() if not k.startswith(PREFIX)}
        if len(attributes) + len(state) > MAX_ATTRIBUTES:
            return None
        return OutgoingMessage(self.message.body, {**attributes, **state}, delay=min(delay, 900))


def fit(letter: OutgoingMessage, limit: int) -> tuple[OutgoingMessage, list[str]]:
    """The letter within ``limit`` bytes, and the attributes given up for it.

    The body stays intact: the reason is shortened first, then attributes are
    dropped, least useful first (the reason is logged in full anyway).
    """
    attributes = dict(letter.attributes)
    over = replace(letter, attributes=attributes).size() - limit
    reason = attributes.get("error_message", "").encode("utf-8")
    if over > 0 and reason:
        attributes["error_message"] = reason[: max(0, len(reason) - over)].decode("utf-8", "ignore")
    dropped = []
    for name in _EXPENDABLE:
        if replace(letter, attributes=attributes).size() <= limit:
            break
        if attributes.pop(name, None) is not None:
            dropped.append(name)
    return replace(letter, attributes=attributes), dropped


def attempt_limit(setting: int, max_receive_count: int | None) -> int:
    """How many attempts the worker makes before it dead-letters an event itself.

    The setting, lowered below the events queue's redrive ``maxReceiveCount`` when
    that is smaller: SQS would move the message to its DLQ on the receive after
    ``maxReceiveCount`` *without a reason*; the worker dead-letters it, with its
    reason, by that receive at the latest (even when a crash cut the last attempt short).
    """
    if not max_receive_count:
        return setting
    return max(1, min(setting, max_receive_count - 1))


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
