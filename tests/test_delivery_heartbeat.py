"""The heartbeat and the receive loop, on a hand-written fake queue."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from structlog.testing import capture_logs

from briefy.common.heartbeat import Heartbeat
from briefy.common.queue.message import SQSMessage
from briefy.common.worker import QueueWorker


class FakeQueue:
    """Records visibility changes; fails those of chosen receipt handles; serves scripted receives."""

    name = "fake.queue"

    def __init__(self, visibility_timeout: int = 10) -> None:
        self.visibility_timeout = visibility_timeout
        self.changes: list[tuple[str, int]] = []
        self.failing: set[str] = set()
        self.receives: list[list[SQSMessage] | Exception] = []

    def change_visibility(self, items: Iterable[tuple[SQSMessage, int]]) -> list[SQSMessage]:
        failed = []
        for message, seconds in items:
            self.changes.append((message.receipt_handle, seconds))
            if message.receipt_handle in self.failing:
                failed.append(message)
        return failed

    def get_messages(self, max_number: int = 10, wait_time: int = 20) -> list[SQSMessage]:
        outcome = self.receives.pop(0) if self.receives else []
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def message(message_id: str, handle: str, age: float = 0.0) -> SQSMessage:
    """A message received ``age`` seconds ago."""
    return SQSMessage(message_id, handle, "{}", received_at=time.monotonic() - age)


def manual(queue: FakeQueue) -> Heartbeat:
    """A heartbeat whose beats the test drives (its own thread stops at once)."""
    heartbeat = Heartbeat(queue)  # type: ignore[arg-type]
    heartbeat.stop()
    return heartbeat


def test_a_beat_extends_messages_past_half_their_time() -> None:
    """Messages with less than half their visibility timeout left are extended by a full timeout."""
    queue = FakeQueue(visibility_timeout=10)
    heartbeat = manual(queue)
    old, new = message("a", "ra", age=6), message("b", "rb", age=1)
    with heartbeat.tracking([old, new]):
        heartbeat.beat()
        heartbeat.beat()
    assert queue.changes == [("ra", 10)]


def test_a_failed_extension_is_tried_again() -> None:
    """An extension SQS refused is tried on the next beat."""
    queue = FakeQueue(visibility_timeout=10)
    queue.failing.add("ra")
    heartbeat = manual(queue)
    with capture_logs() as logs, heartbeat.tracking([message("a", "ra", age=6)]):
        heartbeat.beat()
        queue.failing.clear()
        heartbeat.beat()
        heartbeat.beat()
    assert queue.changes == [("ra", 10), ("ra", 10)]
    assert [entry["event"] for entry in logs][:1] == ["visibility_extension_failed"]


def test_forgotten_messages_are_not_extended() -> None:
    """Once settled (forgotten), a message keeps the visibility it was given."""
    queue = FakeQueue(visibility_timeout=10)
    heartbeat = manual(queue)
    settled = message("a", "ra", age=6)
    with heartbeat.tracking([settled]):
        heartbeat.forget([settled])
        heartbeat.beat()
    assert queue.changes == []


def test_adopt_gives_the_work_in_progress_the_new_receipt_handle() -> None:
    """A message SQS delivers again while it is being worked on is adopted: its new handle is used."""
    queue = FakeQueue(visibility_timeout=10)
    heartbeat = manual(queue)
    working = message("a", "old", age=9)
    with heartbeat.tracking([working]):
        assert heartbeat.adopt(message("a", "new", age=6))
        assert not heartbeat.adopt(message("b", "other"))
        heartbeat.beat()
    assert working.receipt_handle == "new"
    assert queue.changes == [("new", 10)]


def test_fresh_keeps_new_messages_and_adopts_the_ones_in_progress() -> None:
    """Of a received batch, the messages in progress are adopted and only the new ones returned."""
    queue = FakeQueue(visibility_timeout=10)
    heartbeat = manual(queue)
    working = message("a", "old", age=9)
    new_b, new_c = message("b", "rb"), message("c", "rc")
    with heartbeat.tracking([working]):
        assert heartbeat.fresh([new_b, message("a", "new", age=6), new_c]) == [new_b, new_c]
    assert working.receipt_handle == "new"


class Recorder(QueueWorker):
    """A queue worker that records the batches it is given."""

    def __init__(self, queue: Any) -> None:
        super().__init__(queue, wait_time=0, backoff_base=0.2, backoff_max=1.0)
        self.batches: list[list[str]] = []

    def process_batch(self, messages: Sequence[SQSMessage]) -> None:
        self.batches.append([m.message_id for m in messages])


def test_a_redelivery_of_work_in_progress_is_not_processed_twice() -> None:
    """A batch holding a message already in progress here processes only the others."""
    queue = FakeQueue()
    worker = Recorder(queue)
    worker.heartbeat.stop()
    in_progress = message("a", "old")
    queue.receives = [[message("a", "new"), message("b", "rb")]]
    with capture_logs() as logs, worker.heartbeat.tracking([in_progress]):
        assert worker.run_once() == 1
    assert worker.batches == [["b"]]
    assert in_progress.receipt_handle == "new"
    assert "redelivered_in_progress" in [entry["event"] for entry in logs]


def test_receive_failures_back_off_exponentially() -> None:
    """Each failed receive in a row waits about twice as long as the last, up to the cap."""
    queue = FakeQueue()
    queue.receives = [ConnectionError("down")] * 5
    worker = Recorder(queue)
    worker._stopping.set()  # the backoff waits return at once; the delays are still computed
    with capture_logs() as logs:
        for _ in range(5):
            worker.receive()
    delays = [(entry["failures"], entry["retry_in"]) for entry in logs if entry["event"] == "receive_failed"]
    assert [failures for failures, _ in delays] == [1, 2, 3, 4, 5]
    for failures, delay in delays:
        ceiling = min(1.0, 0.2 * 2 ** (failures - 1))
        assert max(0.1, ceiling / 2) <= delay <= ceiling
