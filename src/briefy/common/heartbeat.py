"""Keeps messages invisible while they are still being worked on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import structlog

from briefy.common.interfaces import IQueue
from briefy.common.queue.message import SQSMessage

log = structlog.get_logger(__name__)


class Heartbeat:
    """Extends the visibility timeout of tracked messages before it runs out.

    A message is extended once less than a third of the queue's visibility
    timeout is left, so slow work never makes SQS deliver it a second time.
    """

    def __init__(self, queue: IQueue) -> None:
        self.queue = queue
        self._deadlines: dict[str, tuple[SQSMessage, float]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def timeout(self) -> int:
        """The visibility timeout granted on each extension, in seconds."""
        return int(self.queue.visibility_timeout)

    @contextmanager
    def track(self, messages: Sequence[SQSMessage]) -> Iterator[None]:
        """Keep ``messages`` invisible for as long as the block runs."""
        with self._lock:
            for message in messages:
                deadline = message.received_at + self.timeout
                self._deadlines[message.receipt_handle] = (message, deadline)
            if self._thread is None and self.timeout > 0:
                self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                for message in messages:
                    self._deadlines.pop(message.receipt_handle, None)

    def in_flight(self) -> int:
        """How many messages are being tracked now."""
        return len(self._deadlines)

    def stop(self) -> None:
        """Stop the heartbeat thread."""
        self._stopped.set()

    def _run(self) -> None:
        interval = max(0.05, min(1.0, self.timeout / 6))
        while not self._stopped.wait(interval):
            self.beat()

    def beat(self) -> None:
        """Extend every tracked message that has less than a third of its time left."""
        now = time.monotonic()
        with self._lock:
            due = [m for m, deadline in self._deadlines.values() if deadline - now < self.timeout / 3]
        if not due:
            return
        failed = {m.receipt_handle for m in self.queue.change_visibility((m, self.timeout) for m in due)}
        with self._lock:
            for message in due:
                if message.receipt_handle in failed or message.receipt_handle not in self._deadlines:
                    continue
                self._deadlines[message.receipt_handle] = (message, now + self.timeout)
        log.debug("visibility_extended", count=len(due) - len(failed), failed=len(failed))
