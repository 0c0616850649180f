"""Dead letters: looking at them without consuming them, and moving them back.

A look receives dead letters with a visibility timeout and makes them visible
again as soon as it is done. A redrive sends each batch to the events queue
first and deletes it from the dead-letter queue only once the send succeeded,
so an interruption at any point loses nothing (at worst a letter is in both).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from briefy.choreographer.events.envelopes import Envelope, describe, inner_event_name
from briefy.choreographer.pipeline import deadletter
from briefy.choreographer.pipeline.state import STATE, RetryState
from briefy.common.errors import error_code
from briefy.common.queue import Queue
from briefy.common.queue.message import OutgoingMessage, SQSMessage

#: What a redriven message sheds: the reasons. The sealed retry state stays (it names the
#: actions done and the event id, never attempts: a redrive starts them afresh), so the
#: event keeps its id and skips the actions already done.
DROPPED = frozenset(deadletter.REASONS)
#: The error type of a letter with no reason: SQS's own redrive policy moved it there.
MOVED_BY_SQS = "moved_by_sqs"


@dataclass(frozen=True)
class DeadLetter:
    """A message of the dead-letter queue, with the reason the worker gave."""

    message: SQSMessage

    def reason(self, name: str) -> str:
        return self.message.message_attributes.get(name, "")

    @property
    def error_type(self) -> str:
        return self.reason(deadletter.ERROR_TYPE) or MOVED_BY_SQS

    @property
    def event_name(self) -> str:
        """The attribute, else the body's ``event_name`` (when the body, or the message in its
        envelope, says)."""
        if named := self.reason(deadletter.EVENT_NAME):
            return named
        body = self._document()
        name = body.get("event_name") if isinstance(body, dict) else None
        if name is None and self.envelope is not None:
            return inner_event_name(body)
        return name if isinstance(name, str) else ""

    @property
    def envelope(self) -> Envelope | None:
        """The SNS or EventBridge envelope the letter's body is, if it is one."""
        return describe(self._document())

    def _document(self) -> Any:
        try:
            return orjson.loads(self.message.body)
        except orjson.JSONDecodeError:
            return None

    @property
    def sent_at(self) -> int:
        """When the letter reached the dead-letter queue (SQS's SentTimestamp, epoch ms)."""
        return int(self.message.attributes.get("SentTimestamp", "0") or 0)

    @property
    def state(self) -> RetryState:
        """The retry state the letter carries, as it says (the worker checks its seal)."""
        try:
            return RetryState.parse(self.message.message_attributes.get(STATE) or "{}")
        except ValueError:
            return RetryState()

    @property
    def done(self) -> list[str]:
        """The actions done before the letter was dead-lettered."""
        return list(self.state.done)

    def as_dict(self) -> dict[str, Any]:
        """The letter for JSON reports: its reasons, ids, envelope and body."""
        envelope = self.envelope
        return {
            "message_id": self.message.message_id,
            "error_type": self.error_type,
            "error_message": self.reason(deadletter.ERROR_MESSAGE),
            "event_name": self.event_name,
            "receive_count": self.reason(deadletter.RECEIVE_COUNT),
            "worker": self.reason(deadletter.WORKER),
            "failed_at": self.reason(deadletter.FAILED_AT),
            "source_message_id": self.reason(deadletter.SOURCE_MESSAGE_ID),
            "event_id": self.state.event_id,
            "done": self.done,
            "envelope": {"kind": envelope.kind, "origin": envelope.origin} if envelope else None,
            "body": self.message.body,
        }

    def redriven(self) -> OutgoingMessage:
        """The message to put back on the events queue: the body as it is, the attributes
        less the reasons (FIFO: same group; the dedup id makes a repeated redrive harmless)."""
        attributes = {k: v for k, v in self.message.message_attributes.items() if k not in DROPPED}
        return OutgoingMessage(
            self.message.body,
            attributes,
            dedup_id=f"redrive-{self.message.message_id}",
            group_id=self.message.group_id,
        )


@dataclass(frozen=True)
class Filter:
    """Which letters to take: any of ``event_names`` and any of ``error_types`` (empty: all)."""

    event_names: Collection[str] = ()
    error_types: Collection[str] = ()

    def __call__(self, letter: DeadLetter) -> bool:
        return (not self.event_names or letter.event_name in self.event_names) and (
            not self.error_types or letter.error_type in self.error_types
        )


class Hold:
    """Dead letters received and kept out of sight until ``release``.

    Each letter is taken once: one that comes back (its visibility timeout ran
    out during a long run) is held again but not returned a second time.
    """

    def __init__(self, queue: Queue, visibility: int, wait: int = 1) -> None:
        self.queue = queue
        self.visibility = visibility
        self.wait = wait
        self.held: dict[str, SQSMessage] = {}
        self.seen: set[str] = set()

    def receive(self) -> list[DeadLetter]:
        """The next letters not seen before (none: the queue has nothing more to show)."""
        response = self.queue.client.receive_message(
            QueueUrl=self.queue.url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self.wait,
            VisibilityTimeout=self.visibility,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        fresh = []
        for raw in response.get("Messages", []):
            message = SQSMessage.from_response(raw)
            self.held[message.message_id] = message
            if message.message_id not in self.seen:
                self.seen.add(message.message_id)
                fresh.append(DeadLetter(message))
        return fresh

    def forget(self, messages: Collection[SQSMessage]) -> None:
        """Stop holding ``messages`` (they were deleted)."""
        for message in messages:
            self.held.pop(message.message_id, None)

    def release(self) -> list[SQSMessage]:
        """Make every held letter visible again now; return those that failed (they
        become visible when their visibility timeout runs out)."""
        held, self.held = list(self.held.values()), {}
        return self.queue.change_visibility([(message, 0) for message in held]) if held else []


def peek(
    queue: Queue, limit: int, match: Filter | None = None, visibility: int = 30, wait: int = 1
) -> list[DeadLetter]:
    """Up to ``limit`` letters (matching ``match``), consuming none of them."""
    hold = Hold(queue, visibility, wait)
    letters: list[DeadLetter] = []
    try:
        while len(letters) < limit:
            fresh = hold.receive()
            if not fresh:
                break
            letters += [letter for letter in fresh if match is None or match(letter)]
    finally:
        hold.release()
    return letters[:limit]


@dataclass
class RedriveReport:
    """What a redrive moved (or, in a dry run, would move), and what it left."""

    dry_run: bool = False
    examined: int = 0
    moved: list[DeadLetter] = field(default_factory=list)
    not_matching: int = 0
    arrived: int = 0
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)
    not_deleted: list[DeadLetter] = field(default_factory=list)
    interrupted: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        """Nothing failed (an interruption is no failure)."""
        return not (self.failed or self.not_deleted or self.error)


class Redrive:
    """Moves dead letters back to the events queue, batch by batch.

    Only letters that were dead-lettered before the run began are moved: if the
    worker dead-letters a redriven event again, the new letter stays in the DLQ
    (moving it again would go round in circles). ``stop()`` (from a signal
    handler) ends the run after the batch in progress.
    """

    def __init__(
        self,
        dead_letters: Queue,
        events: Queue,
        match: Filter | None = None,
        limit: int | None = None,
        dry_run: bool = False,
        visibility: int = 120,
        wait: int = 1,
    ) -> None:
        self.dead_letters = dead_letters
        self.events = events
        self.match = match or Filter()
        self.limit = limit
        self.dry_run = dry_run
        self.visibility = visibility
        self.wait = wait
        self.stopping = False
        self.started = 0
        self.sent: set[str] = set()

    def stop(self) -> None:
        """Stop after the batch in progress."""
        self.stopping = True

    def run(self, progress: Callable[[int, RedriveReport], None] | None = None) -> RedriveReport:
        """Redrive until the DLQ has nothing more, the limit is reached, a send fails or ``stop()``."""
        report = RedriveReport(dry_run=self.dry_run)
        hold = Hold(self.dead_letters, self.visibility, self.wait)
        self.started = int(time.time() * 1000)
        try:
            while not self._done(report):
                fresh = hold.receive()
                if not fresh:
                    break
                report.examined += len(fresh)
                earlier = [letter for letter in fresh if self.before_run(letter)]
                report.arrived += len(fresh) - len(earlier)
                wanted = [letter for letter in earlier if self.match(letter)]
                report.not_matching += len(earlier) - len(wanted)
                if self.limit is not None:
                    wanted = wanted[: self.limit - len(report.moved)]
                if self.dry_run:
                    report.moved += wanted
                elif wanted:
                    self._move(wanted, hold, report)
                if progress is not None:
                    progress(len(fresh), report)
            report.interrupted = self.stopping
        except (BotoCoreError, ClientError) as error:
            report.error = f"{error_code(error)}: {error}"
        finally:
            hold.release()
        return report

    def before_run(self, letter: DeadLetter) -> bool:
        """Whether the letter was in the DLQ before the run (not one of ours come back)."""
        return letter.sent_at <= self.started and letter.reason(deadletter.SOURCE_MESSAGE_ID) not in self.sent

    def _done(self, report: RedriveReport) -> bool:
        limit_reached = self.limit is not None and len(report.moved) >= self.limit
        return self.stopping or limit_reached or bool(report.failed)

    def _move(self, letters: list[DeadLetter], hold: Hold, report: RedriveReport) -> None:
        """Send to the events queue, then delete from the DLQ what was sent."""
        results = self.events.write_messages([letter.redriven() for letter in letters])
        sent = []
        for letter, result in zip(letters, results, strict=True):
            if result.ok:
                sent.append(letter)
                self.sent.add(str(result.message_id))
            else:
                report.failed.append((letter, f"{result.error_code}: {result.error_message}".rstrip(": ")))
        if not sent:
            return
        report.moved += sent
        kept = {m.message_id for m in self.dead_letters.delete_messages([letter.message for letter in sent])}
        report.not_deleted += [letter for letter in sent if letter.message.message_id in kept]
        hold.forget([letter.message for letter in sent if letter.message.message_id not in kept])
