"""The delivery soak: hundreds of events through bursts of injected SQS failures,
a SIGKILL and a SIGTERM of the worker (restarted each time).

At the end every event's outputs must be present and nothing dead-lettered; the
duplicate outputs (one ``output_id`` seen more than once) are counted. Run it on
its own to see the figures::

    python -m tests.e2e.soak [--events 400]

``tests/e2e/test_delivery_soak.py`` runs it in the test suite.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from briefy.choreographer.actions import output_id
from tests.e2e.delivery_support import DeliveryQueues, client_for, worker_env
from tests.faultproxy import FaultProxy
from tests.support import LEAD_DATA, MAIL_DATA, MotoServer, WorkerProcess, attributes, event

OUTPUT_QUEUES = ("mail", "notification", "first", "second")
#: What happens when the share of expected outputs seen reaches each mark.
PLAN: list[tuple[float, str, tuple[Any, ...]]] = [
    (0.05, "burst", ("SendMessageBatch", "503", 8)),
    (0.15, "burst", ("ReceiveMessage", "drop", 6)),
    (0.25, "burst", ("DeleteMessageBatch", "500", 6)),
    (0.35, "sigkill", ()),
    (0.45, "burst", ("SendMessageBatch", "throttle", 8)),
    (0.50, "burst", ("SendMessageBatch", "drop_after", 3)),
    (0.55, "burst", ("ChangeMessageVisibilityBatch", "503", 4)),
    (0.65, "sigterm", ()),
    (0.75, "outage", (1.5,)),
    (0.85, "burst", ("DeleteMessageBatch", "drop_after", 4)),
]


@dataclass
class SoakResult:
    """What the soak did and found."""

    events: int = 0
    expected_outputs: int = 0
    outputs_received: int = 0
    missing: int = 0
    unexpected: int = 0
    duplicates: int = 0
    #: Why: the send was logged by two worker processes (a kill or stop came between send and delete),
    #: twice by one process, or SQS kept a send whose answer was lost (botocore sent it again).
    causes: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    events_left: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    workers: int = 0
    sigterm_exit: int | None = None
    final_exit: int | None = None
    in_flight_at_sigkill: int = 0
    seconds: float = 0.0
    log: list[str] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    processes: list[WorkerProcess] = field(default_factory=list)

    def report(self) -> str:
        injected = ", ".join(f"{op} {n}" for op, n in sorted(self.injected.items()))
        return (
            f"soak: {self.events} events, {self.expected_outputs} outputs expected, "
            f"{self.outputs_received} received, {self.missing} missing, {self.unexpected} unexpected, "
            f"{self.duplicates} duplicates ({', '.join(f'{k} {v}' for k, v in self.causes.items())}); "
            f"{self.dead_letters} dead letters, "
            f"{self.events_left} events left; "
            f"injected failures: {sum(self.injected.values())} ({injected}); "
            f"{self.workers} worker processes (SIGKILL with {self.in_flight_at_sigkill} in flight, "
            f"SIGTERM exit {self.sigterm_exit}, final exit {self.final_exit}); {self.seconds:.1f} s"
        )


def soak_events(count: int) -> list[tuple[dict[str, Any], set[str]]]:
    """The events (half leads, a quarter mail.sent, a quarter pair.created), each with its output ids."""
    events = []
    for n in range(count):
        if n % 4 in (0, 1):
            message = event("lead.created", LEAD_DATA)
            actions = ["lead.created.mail"]
        elif n % 4 == 2:
            message = event("mail.sent", MAIL_DATA)
            actions = ["mail.sent.notification"]
        else:
            message = event("pair.created", {"name": f"pair-{n}"})
            actions = ["pair.created.first", "pair.created.second"]
        events.append((message, {output_id(message["id"], action) for action in actions}))
    return events


class Background:
    """Runs ``_run`` in a daemon thread of its own between ``start()`` and ``stop()``."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        raise NotImplementedError


class Collector(Background):
    """Drains the output queues in a thread, counting each output id."""

    def __init__(self, queues: DeliveryQueues) -> None:
        super().__init__("collector")
        self.queues = queues
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def drain_once(self) -> int:
        client, got = self.queues.client, 0
        for key in OUTPUT_QUEUES:
            url = self.queues.urls[key]
            while True:
                messages = client.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
                ).get("Messages", [])
                if not messages:
                    break
                got += len(messages)
                with self._lock:
                    self.seen.update(attributes(m)["output_id"] for m in messages)
                client.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )
        return got

    def ids(self) -> set[str]:
        """The output ids seen so far."""
        with self._lock:
            return set(self.seen)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.drain_once():
                self._stop.wait(0.1)


class Feeder(Background):
    """Sends the events in tens, in a thread, while fewer than ``ahead`` of the outputs of those
    sent are still to be collected: the worker never runs far ahead of the collector, so each
    fault of the plan, armed at a share of the outputs collected, meets calls still to come (with
    every event sent at once, the worker could finish while the collector caught up, and a late
    burst went unused)."""

    def __init__(
        self,
        queues: DeliveryQueues,
        events: list[tuple[dict[str, Any], set[str]]],
        collector: Collector,
        ahead: int = 60,
    ) -> None:
        super().__init__("feeder")
        self.queues, self.events, self.collector, self.ahead = queues, events, collector, ahead

    def _run(self) -> None:
        awaited: set[str] = set()
        for start in range(0, len(self.events), 10):
            chunk = self.events[start : start + 10]
            while len(awaited - self.collector.ids()) >= self.ahead:
                if self._stop.wait(0.05):
                    return
            self.queues.send_batch([message for message, _ in chunk])
            for _, ids in chunk:
                awaited |= ids


def wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"soak: {what} not reached within {timeout}s")
        time.sleep(0.1)


def run_soak(
    moto_url: str,
    events: int = 400,
    timeout: float = 120.0,
    plan: list[tuple[float, str, tuple[Any, ...]]] | None = None,
) -> SoakResult:
    """Run the soak (``PLAN`` by default) against moto's server at ``moto_url``; return what it found."""
    started = time.monotonic()
    result = SoakResult(events=events)
    queues = DeliveryQueues(client_for(moto_url))
    queues.create(visibility_timeout=3)
    soak = soak_events(events)
    expected = set().union(*(ids for _, ids in soak))
    result.expected_outputs = len(expected)
    with FaultProxy(moto_url) as proxy:
        env = worker_env(
            proxy.url,
            queues,
            AWS_MAX_ATTEMPTS="3",
            CHOREOGRAPHER_CONCURRENCY="4",
            CHOREOGRAPHER_MAX_ATTEMPTS="100",
            CHOREOGRAPHER_SHUTDOWN_TIMEOUT="30",
        )
        collector = Collector(queues).start()
        feeder = Feeder(queues, soak, collector).start()
        workers = [WorkerProcess(env).start()]
        try:
            for mark, action, args in PLAN if plan is None else plan:
                wait(
                    lambda mark=mark: len(expected & collector.ids()) >= mark * len(expected),
                    timeout,
                    f"{mark:.0%}",
                )
                result.log.append(f"{mark:.0%}: {action} {args}")
                if action == "burst":
                    operation, how, times = args
                    proxy.fail(operation, how=how, times=times)
                elif action == "outage":
                    proxy.down()
                    time.sleep(args[0])
                    proxy.up()
                elif action == "sigkill":
                    result.in_flight_at_sigkill = queues.counts()[1]
                    workers[-1].kill()
                    workers.append(WorkerProcess(env).start())
                elif action == "sigterm":
                    result.sigterm_exit = workers[-1].stop(signal.SIGTERM, timeout=60)
                    workers.append(WorkerProcess(env).start())
            wait(lambda: expected <= collector.ids(), timeout, "every output")
            wait(lambda: queues.depth("events") == 0, timeout, "an empty events queue")
            result.final_exit = workers[-1].stop(signal.SIGTERM, timeout=60)
        finally:
            for worker in workers:
                worker.kill()
            feeder.stop()
            collector.stop()
        collector.drain_once()
        result.injected = dict(proxy.injected)
    seen = result.seen = collector.seen
    result.processes = workers
    result.workers = len(workers)
    result.outputs_received = sum(seen.values())
    result.missing = len(expected - set(seen))
    result.unexpected = len(set(seen) - expected)
    result.duplicates = sum(count - 1 for count in seen.values())
    result.causes = duplicate_causes(seen, workers)
    result.dead_letters = queues.depth("dlq")
    result.events_left = queues.depth("events")
    result.seconds = time.monotonic() - started
    return result


def duplicate_causes(seen: Counter[str], workers: list[WorkerProcess]) -> dict[str, int]:
    """Sort the duplicates by what the worker logs say caused them."""
    sends: dict[str, Counter[int]] = {}
    for number, worker in enumerate(workers):
        for line in worker.find("action_sent"):
            sends.setdefault(output_id(line["event_id"], line["action"]), Counter())[number] += 1
    causes = Counter({"across processes": 0, "within a process": 0, "lost answers": 0})
    for oid, count in seen.items():
        logged = sends.get(oid, Counter())
        causes["across processes"] += max(0, len(logged) - 1)
        causes["within a process"] += sum(n - 1 for n in logged.values())
        causes["lost answers"] += max(0, count - sum(logged.values()))
    return dict(causes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=400, help="how many events (default 400)")
    args = parser.parse_args(argv)
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = MotoServer().start()
    try:
        result = run_soak(server.url, events=args.events)
    finally:
        server.stop()
    print("\n".join(result.log))
    print(result.report())
    ok = not (result.missing or result.unexpected or result.dead_letters or result.events_left)
    return 0 if ok and result.sigterm_exit == 0 and result.final_exit == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
