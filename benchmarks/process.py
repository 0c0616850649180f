"""One loop under test (the worker or the ceiling) measured as a process.

The process runs against its own queues on the moto server. A warm-up stretch
of the stream proves it is up; then its CPU time is read from ``/proc`` before
and after the measured stretch, so start-up and shut-down are not counted. The
stretch is either a steady stream (``measure``) or a backlog already waiting
when the loop resumes (``drain``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from benchmarks.cpu import cpu_seconds
from benchmarks.queues import QueueSet
from benchmarks.server import ENV, MotoServer, free_port
from benchmarks.stream import Stream, Tally
from tests import reference

#: The loops, as commands.
COMMANDS = {
    "worker": [sys.executable, "-m", "briefy.choreographer.worker"],
    "ceiling": [sys.executable, "-m", "benchmarks.ceiling"],
}
#: An event no handler knows: it wakes long polls at shut-down and is merely logged.
NUDGE = "bench.nudge"
NUDGES = 16


@dataclass
class LoopResult:
    """How one loop did on its measured stretch."""

    name: str
    events: int
    seconds: float
    cpu_seconds: float | None
    tally: Tally
    #: CPU seconds of moto's server and of this process (feeding, draining) in the stretch.
    server_cpu: float | None = None
    harness_cpu: float | None = None
    exit_code: int | None = None
    left_behind: int = 0
    dead_letters: int = 0
    problems: list[str] = field(default_factory=list)
    #: Messages SQS handed out again while the worker still had them (it does not rerun them).
    redeliveries: int = 0
    #: When the measured stretch began and ended (seconds since the epoch: loops measured
    #: side by side, in processes of their own, compare them).
    started: float = 0.0
    ended: float = 0.0

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float | None:
        """CPU milliseconds of the process per event."""
        if self.cpu_seconds is None or not self.events:
            return None
        return 1000 * self.cpu_seconds / self.events


ROOT = str(Path(__file__).resolve().parent.parent)


def environment(server: MotoServer, queues: QueueSet, extra: Mapping[str, str]) -> dict[str, str]:
    """The process's environment: default settings (production mode) on the run's queues."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CHOREOGRAPHER_", "AWS_"))}
    return {
        **base,
        **ENV,
        "AWS_ENDPOINT_URL_SQS": server.url,
        "CHOREOGRAPHER_MODE": "production",
        # The reference choreography, whatever else is installed beside it.
        "CHOREOGRAPHER_EXTENSIONS": "none",
        # Metrics and health served, as in production, on a port of the run's own.
        "CHOREOGRAPHER_METRICS_PORT": str(free_port()),
        # As a deployment sets it (a key made for the run, never kept).
        "CHOREOGRAPHER_STATE_KEY": secrets.token_urlsafe(32),
        # The loops of this folder run as ``python -m benchmarks.<loop>`` from the checkout.
        "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH", "")])),
        **queues.env(),
        **extra,
    }


def measure(
    server: MotoServer,
    name: str,
    events: int,
    *,
    warmup: int = 50,
    window: int = 30,
    timeout: float = 300.0,
    extra: Mapping[str, str] | None = None,
    backlog: bool = False,
    mark: Callable[[int], object] | None = None,
) -> LoopResult:
    """Run loop ``name`` on fresh queues and measure ``events`` events through it: a steady
    stream of at most ``window`` awaiting their output, or (``backlog``) all of them waiting
    on the queue when the loop, paused while they were sent, resumes. ``mark`` is called
    with the loop's pid where the measured stretch begins and where it ends."""
    client = server.client()
    with QueueSet(client) as queues, tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            COMMANDS[name],
            env=environment(server, queues, extra or {}),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            stream = Stream(queues, window=window)
            alive = lambda: process.poll() is None  # noqa: E731
            stream.run(warmup, timeout=max(60.0, timeout / 4), alive=alive)
            earlier = stream.tally.copy()
            if backlog:
                process.send_signal(signal.SIGSTOP)
                stream.preload(events)
                process.send_signal(signal.SIGCONT)
            if mark is not None:
                mark(process.pid)
            before = [cpu_seconds(process.pid), server.cpu_seconds(), time.process_time()]
            started = time.time()
            seconds = stream.run(0 if backlog else events, timeout=timeout, alive=alive, expect=events)
            ended = time.time()
            after = [cpu_seconds(process.pid), server.cpu_seconds(), time.process_time()]
            if mark is not None:
                mark(process.pid)
            cpu, server_cpu, harness_cpu = (
                a - b if a is not None and b is not None else None for a, b in zip(after, before, strict=True)
            )
            result = LoopResult(
                name, events, seconds, cpu, stream.tally.since(earlier), server_cpu, harness_cpu
            )
            result.started, result.ended = started, ended
            result.exit_code = stop(process, queues)
        except BaseException:
            process.kill()
            process.wait()
            output.seek(0)
            sys.stderr.write(output.read()[-4000:].decode("utf-8", "replace"))
            raise
        result.left_behind = leftovers(queues)
        result.dead_letters = queues.depth("dlq")
        result.problems = problems(output)
        result.redeliveries = redeliveries(output)
    return result


def stop(process: subprocess.Popen[bytes], queues: QueueSet, timeout: float = 30.0) -> int | None:
    """SIGTERM, then nudge the long polls awake; the exit code (None if it had to be killed)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(0.3)  # the loop handles the signal at once; its long polls may not end
    except subprocess.TimeoutExpired:
        pass
    nudge = reference.body({**reference.event(0), "event_name": NUDGE})
    for _ in range(NUDGES):  # one at a time: each wakes one waiting long poll
        queues.client.send_message(QueueUrl=queues.urls["events"], MessageBody=nudge)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def leftovers(queues: QueueSet) -> int:
    """Events still on the events queue after the process stopped (nudges aside)."""
    count = 0
    while True:
        messages = queues.client.receive_message(
            QueueUrl=queues.urls["events"], MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", [])
        if not messages:
            return count
        count += sum(1 for m in messages if orjson.loads(m["Body"]).get("event_name") != NUDGE)


#: Warnings that tell of SQS handing out a message the worker still has in progress
#: (moto's server does under concurrent receives) and the worker keeping it from running
#: twice, as designed: counted and reported, not a problem of the run.
HANDLED = frozenset({"redelivered_in_progress"})


def redeliveries(output: IO[bytes]) -> int:
    """How many messages SQS handed out again while in progress (``HANDLED`` lines)."""
    output.seek(0)
    count = 0
    for line in output:
        if b"redelivered_in_progress" in line:
            with contextlib.suppress(orjson.JSONDecodeError):
                entry = orjson.loads(line)
                if isinstance(entry, dict) and entry.get("event") in HANDLED:
                    count += int(entry.get("count", 1))
    return count


def problems(output: IO[bytes]) -> list[str]:
    """Warnings and errors the process wrote (JSON log lines at WARNING and above, other text)."""
    found: list[str] = []
    output.seek(0)
    for line in output:
        try:
            entry: Any = orjson.loads(line)
        except orjson.JSONDecodeError:
            entry = None
        if isinstance(entry, dict):
            if entry.get("level") in ("warning", "error", "critical") and entry.get("event") not in HANDLED:
                found.append(line.decode("utf-8", "replace").strip())
        elif line.strip():
            found.append(line.decode("utf-8", "replace").strip())
    return found


def to_json(result: LoopResult) -> dict[str, Any]:
    """``result`` as JSON-ready data (``from_json`` reads it back)."""
    return dataclasses.asdict(result)


def from_json(data: Mapping[str, Any]) -> LoopResult:
    """The ``LoopResult`` that ``to_json`` wrote."""
    return LoopResult(**{**data, "tally": Tally(**data["tally"])})
