"""A steady, closed-loop stream of reference events through a set of queues.

The feeder sends events in batches of ten while fewer than ``window`` events
await their output; drainers take the outputs off the output queues (moto slows
down as queues grow) and check each against what the reference choreography
says it must be. An event counts as done when its output has been drained.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from benchmarks.queues import QueueSet
from briefy.choreographer.actions import output_id
from tests import reference

#: Outputs each drainer takes per call, and how long it long-polls for them.
DRAIN_BATCH = 10
DRAIN_WAIT = 1
#: After a short batch a drainer lets outputs gather for this long (seconds), so that
#: draining costs moto's server few calls: it is the bottleneck of every loop measured.
DRAIN_PAUSE = 0.05


@dataclass
class Tally:
    """What the drainers found."""

    outputs: int = 0
    #: Events whose output came (a duplicate output counts once).
    done: int = 0
    verified: int = 0
    wrong: list[str] = field(default_factory=list)
    #: Outputs of an event that already had one (SQS delivers at least once).
    duplicates: int = 0
    unknown: int = 0

    def since(self, earlier: Tally) -> Tally:
        """What was found after ``earlier`` (a copy taken before)."""
        return Tally(
            outputs=self.outputs - earlier.outputs,
            done=self.done - earlier.done,
            verified=self.verified - earlier.verified,
            wrong=self.wrong[len(earlier.wrong) :],
            duplicates=self.duplicates - earlier.duplicates,
            unknown=self.unknown - earlier.unknown,
        )

    def copy(self) -> Tally:
        """A snapshot."""
        return Tally(self.outputs, self.done, self.verified, list(self.wrong), self.duplicates, self.unknown)


class Stream:
    """Feeds reference events and drains their outputs, keeping queue depths low."""

    def __init__(self, queues: QueueSet, window: int = 40) -> None:
        self.queues = queues
        self.client = queues.client
        self.window = window
        self.tally = Tally()
        self.sent: dict[str, dict[str, Any]] = {}
        self.seen: set[str] = set()
        self.numbered = 0
        self._done = threading.Condition()
        self._failure: BaseException | None = None

    # -- one stretch of the stream -----------------------------------------------
    def run(
        self, count: int, timeout: float, alive: Callable[[], bool] = lambda: True, expect: int | None = None
    ) -> float:
        """Feed ``count`` more events and wait for ``expect`` more outputs (``count`` by
        default); return the seconds it took.

        Raises ``TimeoutError`` when the outputs do not all come within ``timeout``
        seconds (or ``alive`` says the process under test has gone).
        """
        count_out = count if expect is None else expect
        target = self.tally.done + count_out
        stop = threading.Event()
        threads = [threading.Thread(target=self._guard(self._feed, count, stop), daemon=True)]
        threads += [
            threading.Thread(target=self._guard(self._drain, role, stop), daemon=True)
            for role in ("mail", "notification")
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        try:
            with self._done:
                while self.tally.done < target:
                    if self._failure is not None:
                        raise self._failure
                    left = deadline - time.monotonic()
                    missing = f"{target - self.tally.done} of {count_out} outputs did not come"
                    if not alive():
                        raise RuntimeError(f"{missing}: the process under test has exited")
                    if left <= 0:
                        raise TimeoutError(f"{missing} within {timeout:.0f}s")
                    self._done.wait(min(left, 0.5))
            return time.perf_counter() - start
        finally:
            stop.set()
            with self._done:
                self._done.notify_all()
            for thread in threads:
                thread.join(DRAIN_WAIT + 30)

    def _guard(self, target: Callable[..., None], *args: Any) -> Callable[[], None]:
        def run() -> None:
            try:
                target(*args)
            except BaseException as error:  # reported by run()
                with self._done:
                    self._failure = error
                    self._done.notify_all()

        return run

    def preload(self, count: int) -> None:
        """Send ``count`` events at once, for a backlog (their outputs are awaited by ``run``)."""
        for start in range(0, count, 10):
            self._send([reference.event(self.numbered + i) for i in range(min(10, count - start))])

    # -- feeding ------------------------------------------------------------------
    def _feed(self, count: int, stop: threading.Event) -> None:
        left = count
        while left > 0:
            with self._done:
                while self.numbered - self.tally.done > self.window - 10:
                    if stop.is_set():
                        return
                    self._done.wait(0.5)
            chunk = [reference.event(self.numbered + i) for i in range(min(10, left))]
            self._send(chunk)
            left -= len(chunk)

    def _send(self, chunk: list[dict[str, Any]]) -> None:
        with self._done:
            for message in chunk:
                self.sent[message["id"]] = message
            self.numbered += len(chunk)
        entries = [{"Id": str(i), "MessageBody": reference.body(m)} for i, m in enumerate(chunk)]
        response = self.client.send_message_batch(QueueUrl=self.queues.urls["events"], Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"feeding failed: {response['Failed']}")

    # -- draining -----------------------------------------------------------------
    def _drain(self, role: str, stop: threading.Event) -> None:
        url = self.queues.urls[role]
        while not stop.is_set():
            response = self.client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=DRAIN_BATCH,
                WaitTimeSeconds=DRAIN_WAIT,
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if len(messages) < DRAIN_BATCH:
                stop.wait(DRAIN_PAUSE)
            if not messages:
                continue
            self.client.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            with self._done:
                for message in messages:
                    self._check(role, message)
                self.tally.outputs += len(messages)
                self._done.notify_all()

    def _check(self, role: str, message: dict[str, Any]) -> None:
        attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
        event_id = attributes.get("event_id", "")
        event = self.sent.get(event_id)
        if event is None:
            self.tally.unknown += 1
            return
        if event_id in self.seen:
            self.tally.duplicates += 1
            return
        self.seen.add(event_id)
        self.tally.done += 1
        problem = wrong_output(role, event, attributes, orjson.loads(message["Body"]))
        if problem:
            self.tally.wrong.append(problem)
        else:
            self.tally.verified += 1


def wrong_output(role: str, event: dict[str, Any], attributes: dict[str, str], payload: Any) -> str:
    """What is wrong with an output of ``event``, or ``""`` when it is right."""
    _, queue, action = reference.KINDS[event["event_name"]]
    oid = output_id(event["id"], action)
    rest = {k: v for k, v in payload.items() if k not in ("output_id", "request_id")}
    checks = [
        (role == queue, f"on {role}, not {queue}"),
        (attributes.get("action") == action, f"action {attributes.get('action')!r}"),
        (payload.get("output_id") == oid == attributes.get("output_id"), "output_id"),
        (payload.get("request_id") == event["request_id"], "request_id"),
        (rest == reference.expected(event), "payload differs from the reference choreography's"),
    ]
    return "; ".join(f"{event['id']}: {text}" for ok, text in checks if not ok)
