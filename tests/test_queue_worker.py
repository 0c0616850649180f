"""The receive loop with a hand-written queue: batches stay full, a backlog grows the receives,
a stop releases what did not start, and the loop keeps turning."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from structlog.testing import capture_logs

from briefy.common.backlog import FULL_TO_GROW, GATHER_PAUSE
from briefy.common.climb import Climb
from briefy.common.queue.message import SQSMessage
from briefy.common.worker import QueueWorker


class FakeQueue:
    """Messages in memory; each receive takes what is there (up to the batch size)."""

    name = "fake.queue"
    visibility_timeout = 30
    #: Seconds a receive takes once it has its messages (the network, for real SQS).
    latency = 0.005

    def __init__(self) -> None:
        self.waiting: deque[SQSMessage] = deque()
        self.lock = threading.Lock()
        self.concurrent = 0
        self.most_concurrent = 0
        self.released: list[str] = []
        self.arrived = threading.Condition(self.lock)
        self.calls: list[tuple[int, int]] = []  # each receive's (count, wait_time)

    def put(self, count: int) -> None:
        with self.lock:
            start = len(self.released) + len(self.waiting) + 10_000 * time.monotonic_ns()
            self.waiting.extend(SQSMessage(f"m-{start + n}", "r", "{}") for n in range(count))
            self.arrived.notify_all()

    def get_messages(self, max_number: int = 10, wait_time: int = 20) -> list[SQSMessage]:
        with self.lock:
            self.concurrent += 1
            self.most_concurrent = max(self.most_concurrent, self.concurrent)
            if not self.waiting:
                self.arrived.wait(0.05)
            taken = [self.waiting.popleft() for _ in range(min(max_number, len(self.waiting)))]
            self.calls.append((len(taken), wait_time))
        time.sleep(self.latency)  # a receive takes a little time
        with self.lock:
            self.concurrent -= 1
        return taken

    def change_visibility(self, items: Iterable[tuple[SQSMessage, int]]) -> list[SQSMessage]:
        self.released += [message.message_id for message, _ in items]
        return []


class Recording(QueueWorker):
    """Records each batch it processes; each takes ``seconds``."""

    def __init__(self, queue: FakeQueue, seconds: float = 0.02, **options: Any) -> None:
        options = {"wait_time": 0, "shutdown_timeout": 5, **options}
        super().__init__(queue, **options)  # type: ignore[arg-type]
        self.seconds = seconds
        self.batches: list[int] = []
        self.untracked = 0  # messages processed while the heartbeat did not cover them
        self.threads: set[str] = set()

    def process_batch(self, messages: Sequence[SQSMessage]) -> None:
        self.untracked += len(set(messages) - set(self.heartbeat.tracked()))
        time.sleep(self.seconds)
        self.batches.append(len(messages))
        self.threads.add(threading.current_thread().name)


def running(worker: QueueWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return thread


def until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_a_light_stream_is_received_in_full_batches_one_at_a_time() -> None:
    """Events arriving while a batch is handled wait for the next receive, which takes them all:
    one receive at a time, whatever the concurrency."""
    queue = FakeQueue()
    worker = Recording(queue, seconds=0.05, concurrency=4)
    thread = running(worker)
    for _ in range(6):
        queue.put(7)  # seven at a time, never a backlog of three full batches
        until(lambda: not queue.waiting)
        time.sleep(0.08)
    until(lambda: sum(worker.batches) == 42)
    worker.stop()
    thread.join(10)
    assert queue.most_concurrent == 1
    assert worker.batches and min(worker.batches) >= 1


def test_a_backlog_far_away_is_drained_with_more_receives_at_once() -> None:
    """A backlog on a queue whose calls wait on the network (as real SQS's do): each receive
    loop more drains it faster, so the climb starts them, and every batch is full (a receive
    of 10, or two gathered by the loop that handles them)."""
    queue = FakeQueue()
    queue.latency = 0.02
    queue.put(1000)
    worker = Recording(queue, seconds=0.02, concurrency=4)  # a send and a delete: two calls
    with capture_logs() as logs:
        thread = running(worker)
        until(lambda: sum(worker.batches) == 1000, timeout=30)
        worker.stop()
        thread.join(10)
    climbed = [line["loops"] for line in logs if line["event"] == "receive_loops"]
    assert climbed[:2] == [1, 2]
    assert queue.most_concurrent >= 2
    assert set(worker.batches) == {10, 20}


def test_a_full_receive_handled_in_the_loop_gathers_what_waits_behind_it() -> None:
    """After a full receive, one more receive that does not wait takes what is already waiting,
    and both are handled as one batch, every message under the heartbeat; after a short
    receive nothing is gathered."""
    queue = FakeQueue()
    queue.put(25)
    worker = Recording(queue, concurrency=1, wait_time=5)
    thread = running(worker)
    until(lambda: sum(worker.batches) == 25)
    worker.stop()
    thread.join(10)
    assert worker.batches == [20, 5]
    assert queue.calls[:3] == [(10, 5), (10, 0), (5, 5)]  # the gather did not wait
    assert worker.untracked == 0


class Failing(FakeQueue):
    """A queue whose receives from the ``fail_from``-th on raise, as SQS unreachable would."""

    fail_from = 2

    def get_messages(self, max_number: int = 10, wait_time: int = 20) -> list[SQSMessage]:
        if len(self.calls) + 1 >= self.fail_from:
            self.calls.append((0, wait_time))
            raise ConnectionError("SQS unreachable")
        return super().get_messages(max_number, wait_time)


def test_a_gather_that_fails_leaves_the_batch_as_received_and_says_so() -> None:
    """A failed gather is logged (``gather_failed``) and the full receive's batch is handled
    as it came; the receives after it meet the failure and back off as usual."""
    queue = Failing()
    queue.put(15)
    worker = Recording(queue, concurrency=1, backoff_base=0.05)
    with capture_logs() as logs:
        thread = running(worker)
        until(lambda: worker.batches == [10] and len(queue.calls) >= 3)
        worker.stop()
        thread.join(10)
    [failed] = [line for line in logs if line["event"] == "gather_failed"]
    assert (failed["log_level"], failed["queue"], failed["detail"]) == (
        "warning",
        "fake.queue",
        "SQS unreachable",
    )
    assert "receive_failed" in [line["event"] for line in logs]  # the next receive backs off
    assert len(queue.waiting) == 5  # not received, not lost


def test_an_empty_gather_pauses_gathering() -> None:
    """A gather that finds nothing cost a call for nothing: the next GATHER_PAUSE full
    receives are handled alone, then gathering resumes."""
    queue = FakeQueue()
    queue.put(10)
    worker = Recording(queue, concurrency=1)
    thread = running(worker)
    until(lambda: worker.batches == [10])
    queue.put(10 * GATHER_PAUSE + 20)
    until(lambda: sum(worker.batches) == 10 * GATHER_PAUSE + 30)
    worker.stop()
    thread.join(10)
    assert worker.batches == [10] * (GATHER_PAUSE + 1) + [20]


class Busy(FakeQueue):
    """A queue on a server that answers one call at a time (as moto's does on a busy machine)."""

    def __init__(self) -> None:
        super().__init__()
        self.server = threading.Lock()

    def get_messages(self, max_number: int = 10, wait_time: int = 20) -> list[SQSMessage]:
        with self.server:
            return super().get_messages(max_number, wait_time)


class Calling(Recording):
    """Each batch's send and delete are calls to the busy server."""

    def process_batch(self, messages: Sequence[SQSMessage]) -> None:
        with self.queue.server:  # type: ignore[attr-defined]
            super().process_batch(messages)


def test_a_backlog_on_a_busy_server_is_drained_one_batch_at_a_time() -> None:
    """When receiving ahead does not drain the backlog faster (the server is the bottleneck),
    the climb goes back to one batch at a time and holds there: no second receive at once."""
    queue = Busy()
    queue.put(400)
    worker = Calling(queue, seconds=0.01, concurrency=4)
    with capture_logs() as logs:
        thread = running(worker)
        until(lambda: sum(worker.batches) == 400, timeout=30)
        worker.stop()
        thread.join(10)
    steps = [(line["previous"], line["loops"]) for line in logs if line["event"] == "receive_loops"]
    assert steps == [(0, 1), (1, 0)]
    assert queue.most_concurrent == 1
    assert set(worker.batches) <= {10, 20}  # handed over while probing; gathered when handled in the loop
    assert worker.batches.count(20) >= 15


def test_the_growth_waits_for_a_run_of_full_batches() -> None:
    """Fewer full receives in a row than FULL_TO_GROW never start a second receive."""
    queue = FakeQueue()
    queue.put(10 * (FULL_TO_GROW - 1))
    worker = Recording(queue, concurrency=4)
    thread = running(worker)
    until(lambda: sum(worker.batches) == 10 * (FULL_TO_GROW - 1))
    worker.stop()
    thread.join(10)
    assert queue.most_concurrent == 1


def test_with_one_slot_every_batch_is_handled_by_the_receive_loop() -> None:
    """With a concurrency of 1 there is no room to receive ahead: however long the run of full
    batches, each is handled in the receive loop's own thread, never handed over."""
    queue = FakeQueue()
    queue.put(10 * (FULL_TO_GROW + 5))
    worker = Recording(queue, concurrency=1)
    thread = running(worker)
    until(lambda: sum(worker.batches) == 10 * (FULL_TO_GROW + 5))
    worker.stop()
    thread.join(10)
    assert worker.threads == {"receive"}
    assert queue.most_concurrent == 1


class Stuck(Recording):
    """A worker whose batches after the first FULL_TO_GROW block until the test lets them go."""

    def __init__(self, queue: FakeQueue) -> None:
        super().__init__(queue, concurrency=1)
        self.go = threading.Event()

    def process_batch(self, messages: Sequence[SQSMessage]) -> None:
        if len(self.batches) >= FULL_TO_GROW:
            self.go.wait(10)
        super().process_batch(messages)


class Eager(Climb):
    """A climb that drains every backlog with its most receive loops at once."""

    def begin(self) -> None:
        self.active, self.level = True, self.most


def test_a_stop_releases_batches_received_and_not_started() -> None:
    """At stop, a batch waiting for a processing thread is made visible at once, unprocessed."""
    queue = FakeQueue()
    worker = Stuck(queue)
    worker._slots = 2  # one processing thread, room for a second batch to wait behind it
    worker._climb = Eager(1)  # the receive loop receives on: a batch waits behind the stuck one
    queue.put(10 * (FULL_TO_GROW + 5))
    thread = running(worker)
    until(lambda: worker._in_progress == 2 and len(worker.batches) == FULL_TO_GROW)
    worker.stop()
    worker.go.set()
    thread.join(10)
    # Handled in the receive loop, two receives gathered each; then the probe's batch, handed
    # over, and the stuck one behind it; the one received behind that was released.
    assert worker.batches == [20] * (FULL_TO_GROW - 1) + [10, 10]
    assert len(queue.released) == 10


class Broken(Recording):
    """A worker whose receive loop breaks once, outside anything it guards itself."""

    def __init__(self, queue: FakeQueue) -> None:
        super().__init__(queue)
        self.broken = False

    def _take_slot(self) -> bool:
        if not self.broken:
            self.broken = True
            raise RuntimeError("a bug")
        return super()._take_slot()


def test_a_receive_loop_that_ends_is_started_again() -> None:
    """Whatever ends the receive loop, the worker starts it again and says so."""
    queue = FakeQueue()
    worker = Broken(queue)
    with capture_logs() as logs:
        thread = running(worker)
        queue.put(5)
        until(lambda: sum(worker.batches) == 5)
        worker.stop()
        thread.join(10)
    assert "receive_loop_ended" in [line["event"] for line in logs]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_no_more_batches_are_in_progress_than_the_concurrency(concurrency: int) -> None:
    """CHOREOGRAPHER_CONCURRENCY bounds the batches received and not yet settled."""
    queue = FakeQueue()
    queue.put(300)
    worker = Recording(queue, seconds=0.02, concurrency=concurrency)
    most = 0

    def watch() -> None:
        nonlocal most
        while sum(worker.batches) < 300:
            most = max(most, worker._in_progress)
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    thread = running(worker)
    watcher.start()
    until(lambda: sum(worker.batches) == 300, timeout=30)
    worker.stop()
    thread.join(10)
    assert 1 <= most <= concurrency


def test_the_stop_says_what_it_waits_for_and_that_a_second_signal_exits() -> None:
    """worker_stopping names the batches and the receive it waits for, for how long at most,
    and that a second signal exits at once."""
    queue = FakeQueue()
    worker = Recording(queue)
    with capture_logs() as logs:
        thread = running(worker)
        until(lambda: any(line["event"] == "worker_started" for line in logs))
        worker.stop(reason="SIGINT")
        thread.join(10)
    [line] = [line for line in logs if line["event"] == "worker_stopping"]
    assert (line["reason"], line["batches_in_progress"], line["waits_at_most"]) == ("SIGINT", 0, 1.0)
    assert "a receive in progress (for 1 s)" in line["detail"]
    assert line["detail"].endswith("a second signal exits at once")
