"""What a wait before each batch costs the pipeline: ``python -m benchmarks.cold``.

The real worker's choreography costs it more than twice the in-process figure. This
runs the in-process worker (``benchmarks.inprocess``) batch after batch, doing
something else before each batch: nothing, sleeping, spinning, or real boto3 calls
to a moto server of its own. Only the pipeline is timed (the thread's CPU time
around each ``run_once``), so what the figures differ by is how cold the pipeline
runs after what came before it. A diagnostic, not a target (docs/performance.rst).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.inprocess import prepare
from benchmarks.server import MotoServer
from briefy.choreographer.worker import Worker
from tests import reference

#: What runs before each batch, by name (``boto3`` ones use the moto server's client).
BEFORE = (
    "nothing",
    "sleep 0.5 ms",
    "sleep 3 ms",
    "sleep 20 ms",
    "spin 3 ms",
    "1 boto3 call",
    "3 boto3 calls",
)


def spin(seconds: float) -> None:
    """Keep the thread busy for ``seconds``."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def before_each(sqs: Any, url: str) -> dict[str, Callable[[], object]]:
    """What runs before each batch, by name."""
    entries = [
        {
            "Id": str(number),
            "MessageBody": json.dumps({"number": number, "payload": "x" * 300}),
            "MessageAttributes": {name: {"DataType": "String", "StringValue": "v" * 36} for name in "abcdef"},
        }
        for number in range(10)
    ]

    def three_calls() -> None:
        # A send, a receive and a delete of ten, as the worker's calls around a batch.
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        handles = [message["ReceiptHandle"] for message in received.get("Messages", [])]
        if handles:
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)]
            )

    return {
        "nothing": lambda: None,
        "sleep 0.5 ms": lambda: time.sleep(0.0005),
        "sleep 3 ms": lambda: time.sleep(0.003),
        "sleep 20 ms": lambda: time.sleep(0.02),
        "spin 3 ms": lambda: spin(0.003),
        "1 boto3 call": lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]),
        "3 boto3 calls": three_calls,
    }


def run(events: int, rounds: int) -> dict[str, list[float]]:
    """Microseconds of the pipeline's CPU per event, per round, for each ``BEFORE``."""
    figures: dict[str, list[float]] = {name: [] for name in BEFORE}
    with open(os.devnull, "w", encoding="utf-8") as null, MotoServer() as server:
        app, memory = prepare(null)
        worker = Worker(app)
        events_url = str(app.events.url)
        sqs = server.client()
        steps = before_each(sqs, sqs.create_queue(QueueName="cold")["QueueUrl"])
        gc.freeze()  # as the worker does after start-up
        bodies = [reference.body(reference.event(n)) for n in range(events)]
        try:
            for body in bodies[: min(300, events)]:  # warm up
                memory.put(events_url, body)
            while worker.run_once():
                pass
            for _ in range(rounds):
                for name in BEFORE:
                    for body in bodies:
                        memory.put(events_url, body)
                    spent = done = 0
                    while True:
                        steps[name]()
                        started = time.thread_time_ns()
                        handled = worker.run_once()
                        spent += time.thread_time_ns() - started
                        if not handled:
                            break
                        done += handled
                    figures[name].append(spent / 1e3 / done)
        finally:
            gc.unfreeze()
            worker.heartbeat.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    """Measure and print the pipeline's CPU per event after each kind of wait."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="events per measurement (3000)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every measurement (2)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    args = parser.parse_args(argv)
    figures = run(args.events, args.rounds)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"the pipeline's CPU per event, {args.events} events a round, after each batch's wait:")
    for name, micros in figures.items():
        print(f"  {name:14}  " + "  ".join(f"{value:6.1f} µs" for value in micros))
    return 0


if __name__ == "__main__":
    sys.exit(main())
