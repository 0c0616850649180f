"""Keeps messages invisible while they are still being worked on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import structlog

from briefy.common.interfaces import IQueue
from briefy.common.queue.message import SQSMessage

log = structlog.get_logger(__name__)


class Heartbeat:
    """Extends the visibility timeout of tracked messages before it runs out.

    A message is extended by the queue's own visibility timeout once less than
    half of it is left, so slow work never makes SQS deliver it a second time.
    Settling a message (deleting it, setting its retry delay, releasing it)
    starts with ``forget``, so no extension can overwrite what was decided.
    If SQS delivers a tracked message again all the same (an extension failed),
    ``adopt`` hands the new receipt handle to the work in progress instead.
    """

    def __init__(self, queue: IQueue) -> None:
        self.queue = queue
        self._deadlines: dict[str, tuple[SQSMessage, float]] = {}
        self._lock = threading.Lock()
        # Held while a beat talks to SQS: ``forget`` waits for it, so a beat that
        # chose a message before it was forgotten cannot extend it afterwards.
        self._beating = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def timeout(self) -> int:
        """The visibility timeout granted on each extension, in seconds."""
        return int(self.queue.visibility_timeout)

    def track(self, messages: Sequence[SQSMessage]) -> None:
        """Keep ``messages`` invisible until they are forgotten."""
        timeout = self.timeout
        with self._lock:
            for message in messages:
                self._deadlines[message.message_id] = (message, message.received_at + timeout)
            if self._thread is None and timeout > 0:
                self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
                self._thread.start()

    @contextmanager
    def tracking(self, messages: Sequence[SQSMessage]) -> Iterator[None]:
        """Keep ``messages`` invisible for as long as the block runs."""
        self.track(messages)
        try:
            yield
        finally:
            self.forget(messages)

    def forget(self, messages: Iterable[SQSMessage]) -> None:
        """Stop extending ``messages`` (waiting for a beat in progress to end)."""
        with self._beating, self._lock:
            for message in messages:
                self._deadlines.pop(message.message_id, None)

    def adopt(self, message: SQSMessage) -> bool:
        """If ``message`` is already being worked on, give that work its new receipt
        handle (the one SQS now honours) and say so; the caller then drops it."""
        return not self.fresh([message])

    def fresh(self, messages: Sequence[SQSMessage]) -> list[SQSMessage]:
        """The ``messages`` not already being worked on; the others are adopted (see
        ``adopt``). One lock for a whole batch."""
        fresh = []
        timeout = self.timeout
        with self._lock:
            for message in messages:
                tracked = self._deadlines.get(message.message_id)
                if tracked is None:
                    fresh.append(message)
                    continue
                tracked[0].receipt_handle = message.receipt_handle
                self._deadlines[message.message_id] = (tracked[0], message.received_at + timeout)
        return fresh

    def in_flight(self) -> int:
        """How many messages are being tracked now."""
        return len(self._deadlines)

    def tracked(self) -> list[SQSMessage]:
        """The messages being tracked now."""
        with self._lock:
            return [message for message, _ in self._deadlines.values()]

    def stop(self) -> None:
        """Stop the heartbeat thread."""
        self._stopped.set()

    def _run(self) -> None:
        interval = max(0.05, min(1.0, self.timeout / 6))
        while not self._stopped.wait(interval):
            try:
                self.beat()
            except Exception:  # a bug: keep beating, the messages depend on it
                log.exception("heartbeat_error")

    def beat(self) -> None:
        """Extend every tracked message that has less than half of its time left."""
        with self._beating:
            now = time.monotonic()
            with self._lock:
                half = self.timeout / 2
                due = [m for m, deadline in self._deadlines.values() if deadline - now < half]
            if not due:
                return
            failed = {m.message_id for m in self.queue.change_visibility((m, self.timeout) for m in due)}
            with self._lock:
                for message in due:
                    if message.message_id in failed or message.message_id not in self._deadlines:
                        continue
                    self._deadlines[message.message_id] = (message, now + self.timeout)
        if failed:
            log.warning("visibility_extension_failed", count=len(failed), extended=len(due) - len(failed))
        else:
            log.debug("visibility_extended", count=len(due))
