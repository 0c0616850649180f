"""The queue worker: receive batches, process them, until told to stop."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

import structlog

from briefy.common.errors import error_code, is_transient
from briefy.common.heartbeat import Heartbeat
from briefy.common.interfaces import IQueue
from briefy.common.queue.message import SQSMessage

log = structlog.get_logger(__name__)

#: Longest pause between receive attempts while SQS is unreachable, in seconds.
MAX_RECEIVE_BACKOFF = 30.0
#: Shortest pause between failed receive attempts, whatever the settings say.
MIN_RECEIVE_BACKOFF = 0.1


class QueueWorker:
    """Reads batches of up to 10 messages from ``queue`` with long polling.

    ``run()`` turns ``concurrency`` receive/process pipelines until ``stop()``;
    ``run_once()`` turns one pipeline once, so tests can drive the real loop.
    Subclasses implement ``process_batch``. While receiving fails the pipelines
    back off exponentially (from ``backoff_base`` seconds, doubling, with jitter,
    up to ``backoff_max``).
    """

    def __init__(
        self,
        queue: IQueue,
        *,
        wait_time: int = 20,
        batch_size: int = 10,
        concurrency: int = 1,
        shutdown_timeout: float = 30.0,
        backoff_base: float = 1.0,
        backoff_max: float = MAX_RECEIVE_BACKOFF,
    ) -> None:
        self.queue = queue
        self.wait_time = wait_time
        self.batch_size = batch_size
        self.concurrency = max(1, concurrency)
        self.shutdown_timeout = shutdown_timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.heartbeat = Heartbeat(queue)
        self._stopping = threading.Event()
        self._stop_reason = ""
        self._receive_failures = 0
        self.last_turn = time.monotonic()

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stopping.is_set()

    def process_batch(self, messages: Sequence[SQSMessage]) -> None:
        """Handle received messages; each must be deleted, released or left to retry."""
        raise NotImplementedError

    def receive(self) -> list[SQSMessage]:
        """Receive one batch; on failure log it, back off, and return nothing."""
        try:
            messages = self.queue.get_messages(self.batch_size, self.wait_time)
        except Exception as error:
            failures = self._receive_failures = self._receive_failures + 1
            delay = self.backoff_base * 2 ** min(failures - 1, 16)
            delay = max(MIN_RECEIVE_BACKOFF, min(self.backoff_max, delay) * random.uniform(0.5, 1.0))
            log.error(
                "receive_failed",
                queue=self.queue.name,
                error=error_code(error),
                detail=str(error),
                transient=is_transient(error),
                failures=failures,
                retry_in=round(delay, 3),
            )
            self._stopping.wait(delay)
            return []
        if self._receive_failures:
            log.info("receive_recovered", queue=self.queue.name, failures=self._receive_failures)
            self._receive_failures = 0
        return list(messages)

    def run_once(self) -> int:
        """Receive one batch and process it; return how many messages were received."""
        self.last_turn = time.monotonic()
        messages = self.receive()
        if not messages:
            return 0
        fresh = self.heartbeat.fresh(messages)
        if len(fresh) < len(messages):
            # Redelivered while still in progress here: the work in progress goes on.
            log.warning("redelivered_in_progress", count=len(messages) - len(fresh))
        messages = fresh
        if not messages:
            return 0
        if self.stopping:
            self.release(messages)
            return 0
        started = time.monotonic()
        with self.heartbeat.track(messages):
            self.process_batch(messages)
        self.last_turn = time.monotonic()
        log.debug("batch_done", received=len(messages), seconds=round(self.last_turn - started, 4))
        return len(messages)

    def release(self, messages: Sequence[SQSMessage]) -> None:
        """Make messages that will not be processed visible again at once."""
        self.heartbeat.forget(messages)
        failed = self.queue.change_visibility((m, 0) for m in messages)
        log.info("messages_released", count=len(messages) - len(failed), failed=len(failed))

    def _pipeline(self) -> None:
        while not self.stopping:
            try:
                self.run_once()
            except Exception:  # a bug: log it loudly, keep the worker alive
                log.exception("pipeline_error")
                self._stopping.wait(1.0)

    def run(self) -> None:
        """Turn the pipelines until ``stop()``, then let in-progress work finish.

        Work still in progress after ``shutdown_timeout`` seconds is given up: its
        messages are made visible again at once, for another worker to redo.
        """
        threads = [
            threading.Thread(target=self._pipeline, name=f"pipeline-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        log.info("worker_started", queue=self.queue.name, concurrency=self.concurrency)
        if self.shutdown_timeout < self.wait_time:
            # A receive still waiting at the deadline may get messages nobody releases.
            log.warning(
                "shutdown_timeout_below_wait_time",
                shutdown_timeout=self.shutdown_timeout,
                wait_time=self.wait_time,
            )
        while not self._stopping.wait(0.2):
            pass
        log.info("worker_stopping", queue=self.queue.name, reason=self._stop_reason)
        deadline = time.monotonic() + self.shutdown_timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [t.name for t in threads if t.is_alive()]
        if left:
            abandoned = self.heartbeat.tracked()
            self.heartbeat.forget(abandoned)
            log.warning("shutdown_timeout", pipelines=left, in_flight=len(abandoned))
            if abandoned:
                self.release(abandoned)
        self.heartbeat.stop()
        log.info("worker_stopped", queue=self.queue.name)

    def stop(self, reason: str = "") -> None:
        """Stop receiving; ``run()`` returns once in-progress batches are done.

        Only sets a flag (``run()`` logs it), so a signal handler may call it: a
        handler that logged could deadlock on the lock of a log line being written.
        """
        if not self.stopping:
            self._stop_reason = reason
        self._stopping.set()
