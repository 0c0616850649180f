"""The queue worker: receive batches and process them, until told to stop.

How receiving keeps batches full at every load:

- one receive loop long polls for ``batch_size`` messages and hands each batch to a
  pool of ``concurrency`` processing threads;
- it waits until its batch is settled before it receives again, so the next receive
  collects everything that arrived meanwhile: a light or steady stream is handled
  in full batches, one at a time, as a plain receive/send/delete loop would;
- after a full receive, a batch it handles itself takes in a second receive that does not
  wait (``Gathering``): the messages already waiting, whose outputs share its sends;
- after a few full receives in a row (``briefy.common.backlog``) it probes for a backlog: it
  receives the next batch while the last one is processed. A probe that comes
  back short means a steady stream, not a backlog: the loop goes back to one
  batch at a time and probes more seldom (until the stream pauses), so a steady
  stream keeps its batches full;
- when the probe too comes back full, it is a backlog, and ``Climb`` (see
  ``briefy.common.climb``) decides how many receive loops drain it: as many as
  make it drain faster, from one batch at a time up to ``concurrency`` loops each
  receiving on. Every further loop ends at its first short receive, or when the
  climb goes back below it.

Every receive first takes one of ``concurrency`` slots, released once its batch is
settled: a batch never waits for a processing thread, and no more than
``concurrency`` batches are received and unsettled at any time. The heartbeat
keeps every received message invisible from the moment its receive returns.
"""

from __future__ import annotations

import queue as queues
import random
import threading
import time
from collections.abc import Callable, Sequence

import structlog

from briefy.common.backlog import GROW, HANDLE, BacklogProbe, Gathering
from briefy.common.climb import Climb
from briefy.common.errors import error_code, is_transient
from briefy.common.heartbeat import Heartbeat
from briefy.common.interfaces import IQueue
from briefy.common.queue.message import SQSMessage

log = structlog.get_logger(__name__)

#: Longest pause between receive attempts while SQS is unreachable, in seconds.
MAX_RECEIVE_BACKOFF = 30.0
#: Shortest pause between failed receive attempts, whatever the settings say.
MIN_RECEIVE_BACKOFF = 0.1
#: Seconds a stop waits for a receive in progress to return what it has (an answer
#: already on its way arrives in milliseconds; an idle long poll would hold the stop
#: for its whole wait, so it is not waited for longer).
RECEIVE_GRACE = 1.0
#: Longest the main thread waits at once (seconds). Python runs signal handlers in the main
#: thread only, and a signal the kernel hands to another thread interrupts none of the main
#: thread's waits: a wait of the whole shutdown timeout held a second SIGTERM for as long.
SIGNAL_CHECK = 0.2


class QueueWorker:
    """Reads batches of up to ``batch_size`` messages from ``queue`` with long polling.

    ``run()`` receives and processes until ``stop()``; ``run_once()`` receives and
    processes one batch in the calling thread, so tests can drive the real loop.
    Subclasses implement ``process_batch``. While receiving fails the receive loop
    backs off exponentially (from ``backoff_base`` seconds, doubling, with jitter,
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
        self.last_turn = time.monotonic()
        self._stopping = threading.Event()
        self._stop_reason = ""
        self._receive_failures = 0
        # Protects the counts below; waited on for a free slot and for the batches to settle.
        self._state = threading.Condition()
        self._slots = self.concurrency  # receives that may start: taken per receive, given back per batch
        self._in_progress = 0  # batches received and not yet settled
        self._receivers = 0
        self._climb = Climb(self.concurrency)  # fed and read under ``_state``
        self._batches: queues.SimpleQueue[Sequence[SQSMessage] | None] = queues.SimpleQueue()

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stopping.is_set()

    def process_batch(self, messages: Sequence[SQSMessage]) -> None:
        """Handle received messages; each must be deleted, released or left to retry."""
        raise NotImplementedError

    # -- receiving -------------------------------------------------------------
    def receive(self) -> list[SQSMessage]:
        """Receive one batch; on failure log it, back off, and return nothing."""
        try:
            messages = self.queue.get_messages(self.batch_size, self.wait_time)
        except Exception as error:
            failures = self._receive_failures = self._receive_failures + 1
            delay = self.backoff_base * 2 ** min(failures - 1, 16)
            delay = max(MIN_RECEIVE_BACKOFF, min(self.backoff_max, delay) * random.uniform(0.5, 1.0))
            log.error("receive_failed", **self._failure(error), failures=failures, retry_in=round(delay, 3))
            self._stopping.wait(delay)
            return []
        if self._receive_failures:
            log.info("receive_recovered", queue=self.queue.name, failures=self._receive_failures)
            self._receive_failures = 0
        return list(messages)

    def _failure(self, error: Exception) -> dict[str, object]:
        """The fields of a line about a failed receive."""
        return {
            "queue": self.queue.name,
            "error": error_code(error),
            "detail": str(error),
            "transient": is_transient(error),
        }

    def fresh(self, messages: Sequence[SQSMessage]) -> list[SQSMessage]:
        """The messages not already in progress here (SQS may deliver one again while it
        is: the work in progress takes its new receipt handle and goes on)."""
        found = self.heartbeat.fresh(messages)
        if len(found) < len(messages):
            log.warning("redelivered_in_progress", count=len(messages) - len(found))
        return found

    def run_once(self) -> int:
        """Receive one batch and process it here; return how many messages were received."""
        self.last_turn = time.monotonic()
        messages = self.fresh(self.receive())
        if not messages:
            return 0
        if self.stopping:
            self.release(messages)
            return 0
        self.heartbeat.track(messages)
        try:
            self.process_batch(messages)
        finally:
            self.heartbeat.forget(messages)
        self.last_turn = time.monotonic()
        return len(messages)

    def release(self, messages: Sequence[SQSMessage]) -> None:
        """Make messages that will not be processed visible again at once."""
        self.heartbeat.forget(messages)
        failed = self.queue.change_visibility((m, 0) for m in messages)
        log.info("messages_released", count=len(messages) - len(failed), failed=len(failed))

    def _receive_loop(self, primary: bool) -> None:
        """Receive until stopped (``primary``) or until a receive comes back short.

        When to receive ahead is ``BacklogProbe``'s decision; a batch that is not handed
        over is handled in this thread, as a plain loop would.
        """
        backlog = BacklogProbe(self.batch_size, probing=not primary)  # a further loop receives on
        gathering = Gathering(self.batch_size)
        try:
            while self._take_slot():
                try:
                    messages = self.fresh(self.receive())
                except Exception:  # a bug: log it loudly, keep receiving
                    log.exception("receive_loop_error")
                    messages = []
                    self._stopping.wait(1.0)
                self.last_turn = time.monotonic()
                if not messages:
                    self._give_back(batch=False)
                    if primary:
                        self._decide(backlog, 0, primary)
                        continue
                    return
                if self.stopping:
                    self.release(messages)
                    self._give_back(batch=False)
                    return
                self.heartbeat.track(messages)
                with self._state:
                    self._in_progress += 1
                if not primary and len(messages) < self.batch_size:
                    self._batches.put(messages)
                    return
                step = self._decide(backlog, len(messages), primary)
                if step == GROW:  # a backlog: the climb says how many loops receive on
                    with self._state:
                        if primary:  # the primary's probe alone says a backlog begins or ends
                            self._climb.begin()
                        level = self._climb.level  # 0 once the backlog ended
                        below = not primary and self._receivers > level
                    if below:  # the climb went back below this loop, or the backlog ended
                        self._batches.put(messages)
                        return
                    if level == 0:  # one batch at a time drains it fastest, for now
                        step = HANDLE
                if step != HANDLE:  # receive the next batch while this one is processed
                    self._batches.put(messages)
                    if step == GROW:
                        self._more_receivers()
                    continue
                # One batch at a time: handled here, as a plain loop would (no hand-over to
                # another thread); the next receive takes what arrives meanwhile.
                self._handle(self._gather(messages, gathering))
                self._wait_settled()
        except Exception:  # a bug: logged; run() starts the loop again
            log.exception("receive_loop_error")
        finally:
            with self._state:
                self._receivers -= 1
                self._state.notify_all()

    def _gather(self, messages: list[SQSMessage], gathering: Gathering) -> list[SQSMessage]:
        """``messages``, and what a receive that does not wait finds after them when
        ``gathering`` wants it: one batch, under the receive's one slot. A failed gather is
        logged and leaves ``messages`` as they are (the next receive backs off if it fails too)."""
        if self.stopping or not gathering.wanted(len(messages)):
            return messages
        try:
            more = self.fresh(self.queue.get_messages(self.batch_size, 0))
        except Exception as error:
            log.warning("gather_failed", **self._failure(error))
            more = []
        gathering.gathered(len(more))
        if not more:
            return messages
        self.heartbeat.track(more)
        return messages + more

    def _take_slot(self) -> bool:
        """Wait for room to receive a batch; False once stopping."""
        with self._state:
            while not self._slots and not self.stopping:
                self._state.wait(0.5)
            if self.stopping:
                return False
            self._slots -= 1
            return True

    def _give_back(self, batch: bool, settled: int = 0) -> None:
        """A receive's slot is free again (``batch``: its batch, of ``settled`` messages, was settled)."""
        step = None
        with self._state:
            self._slots += 1
            if batch:
                self._in_progress -= 1
                step = self._climb.settled(settled)
            self._state.notify_all()
        if step is not None:
            log.info(
                "receive_loops",
                queue=self.queue.name,
                loops=step.level,
                previous=step.previous,
                rate=round(step.rate, 1),
                rate_below=None if step.below is None else round(step.below, 1),
            )

    def _decide(self, backlog: BacklogProbe, count: int, primary: bool) -> str:
        """``backlog``'s step for a receive of ``count``; when the primary loop's probe says the
        backlog is over (a short receive), the climb ends: the next backlog climbs anew."""
        was_backlog = backlog.probing
        step = backlog.received(count, room=self._slots > 0)
        if primary and was_backlog and not backlog.probing:
            with self._state:
                self._climb.end()
        return step

    def _wait_settled(self) -> None:
        """Wait until no batch is in progress (or stopping)."""
        with self._state:
            while self._in_progress and not self.stopping:
                self._state.wait(0.5)

    def _more_receivers(self) -> None:
        """Start another receive loop if the climb's level wants one and there is room for its batch."""
        with self._state:
            wanted = min(self.concurrency, self._climb.level)
            if self.stopping or self._receivers >= wanted or self._slots <= 0:
                return
            self._receivers += 1
        threading.Thread(target=self._receive_loop, args=(False,), name="receive", daemon=True).start()

    # -- processing ------------------------------------------------------------
    def _process_loop(self) -> None:
        """Process received batches until told to end (a None batch)."""
        while (messages := self._batches.get()) is not None:
            self._handle(messages)

    def _handle(self, messages: Sequence[SQSMessage]) -> None:
        """Process a received batch (release it if the worker is stopping); its slot is free after."""
        try:
            if self.stopping:  # received but not started: back to the queue at once
                self.release(messages)
            else:
                self.process_batch(messages)
        except Exception:  # a bug: log it loudly, keep the worker alive
            log.exception("pipeline_error")
        finally:
            self.heartbeat.forget(messages)
            self.last_turn = time.monotonic()
            self._give_back(batch=True, settled=len(messages))

    # -- the whole run ---------------------------------------------------------
    def run(self) -> None:
        """Receive and process until ``stop()``, then let the batches in progress finish.

        Batches received and not yet started are made visible again at once; work
        still in progress after ``shutdown_timeout`` seconds is given up (its
        messages made visible at once, for another worker to redo). A long poll in
        progress is waited for ``RECEIVE_GRACE`` seconds at most: what it returns by
        then is released at once; what SQS hands it later comes back once its
        visibility timeout runs out (nothing is lost).
        """
        # Daemon threads, not a ThreadPoolExecutor: an executor's threads are joined at
        # interpreter exit, so a batch given up at the shutdown timeout would hold it.
        workers = [
            threading.Thread(target=self._process_loop, name=f"batch-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for worker in workers:
            worker.start()
        self._start_primary()
        log.info("worker_started", queue=self.queue.name, concurrency=self.concurrency)
        while not self._stopping.wait(SIGNAL_CHECK):
            with self._state:
                ended = self._receivers == 0 and not self.stopping
            if ended:  # the loop must keep turning, whatever ended it
                log.error("receive_loop_ended", detail="started again")
                self._start_primary()
        with self._state:
            in_progress = self._in_progress
        log.info(
            "worker_stopping",
            reason=self._stop_reason,
            batches_in_progress=in_progress,
            waits_at_most=(self.shutdown_timeout if in_progress else 0) + RECEIVE_GRACE,
            detail=f"finishing {in_progress} batch(es) in progress (for {self.shutdown_timeout:g} s at most) "
            f"and a receive in progress (for {RECEIVE_GRACE:g} s); a second signal exits at once",
        )
        for _ in workers:
            self._batches.put(None)
        deadline = time.monotonic() + self.shutdown_timeout
        left = self._wait_settled_until(deadline)  # in the pool, or handled by a receive loop
        for worker in workers:
            while worker.is_alive() and (remaining := deadline - time.monotonic()) > 0:
                worker.join(min(remaining, SIGNAL_CHECK))
        self._wait_receivers(RECEIVE_GRACE)
        self._release_unstarted()
        if left:
            abandoned = self.heartbeat.tracked()
            self.heartbeat.forget(abandoned)
            log.warning("shutdown_timeout", batches=left, in_flight=len(abandoned))
            if abandoned:
                self.release(abandoned)
        self.heartbeat.stop()
        log.info("worker_stopped", queue=self.queue.name)

    def _wait_settled_until(self, deadline: float) -> int:
        """Wait until no batch is in progress or ``deadline``; how many still are."""
        self._wait_until(lambda: not self._in_progress, deadline)
        with self._state:
            return self._in_progress

    def _wait_until(self, done: Callable[[], bool], deadline: float) -> None:
        """Wait until ``done()`` (read under ``_state``) or ``deadline``, ``SIGNAL_CHECK`` at a time."""
        with self._state:
            while not done() and (left := deadline - time.monotonic()) > 0:
                self._state.wait(min(left, SIGNAL_CHECK))

    def _start_primary(self) -> None:
        with self._state:
            self._receivers += 1
        threading.Thread(target=self._receive_loop, args=(True,), name="receive", daemon=True).start()

    def _wait_receivers(self, seconds: float) -> None:
        """Give receives in progress ``seconds`` to return (they release what they get)."""
        self._wait_until(lambda: not self._receivers, time.monotonic() + seconds)

    def _release_unstarted(self) -> None:
        """Release the batches a receive handed over after the processing threads ended."""
        while True:
            try:
                messages = self._batches.get_nowait()
            except queues.Empty:
                return
            if messages:
                self.release(messages)

    def stop(self, reason: str = "") -> None:
        """Stop receiving; ``run()`` returns once the batches in progress are done.

        Only sets a flag (``run()`` logs it), so a signal handler may call it: a
        handler that logged could deadlock on the lock of a log line being written.
        """
        if not self.stopping:
            self._stop_reason = reason
        self._stopping.set()
