"""Where the real worker's CPU goes: ``python -m benchmarks.where``.

The in-process pipeline (``benchmarks.inprocess``) runs hot in caches of its own; in
the real worker the same code costs more than twice as much, each batch running
cold after the wait before it (docs/performance.rst). This runs the real worker on a
steady stream (``benchmarks.process.measure``, production settings, its own moto
server) with the CPU time of the calling thread taken around each part
(``time.thread_time_ns``; a part's own, the parts inside it left out) and says what
each costs per event over the measured stretch, and how many boto3 calls it makes.

A diagnostic, not a target: the wrappers are installed in the worker by a
``sitecustomize`` module (``benchmarks/where_site``) that only this command puts on
its path. They add about 1.5 µs a call to the part that calls them, so parts called
once per event or less are measured to a microsecond or two. A part renamed in the
code fails the run instead of measuring nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.process import measure
from benchmarks.server import MotoServer

#: The parts: module, attribute, and what the report calls it (parts may share a name).
PARTS = [
    ("botocore.client", "BaseClient._make_api_call", "boto3's calls"),
    ("structlog._base", "BoundLoggerBase._proxy_to_logger", "log lines: processors, JSON, write"),
    ("briefy.common.queue", "Queue.get_messages", "receive: the messages read"),
    ("briefy.choreographer.pipeline.plan", "Planner.job", "jobs: retry state read"),
    ("briefy.choreographer.pipeline.plan", "Planner._plan", "reading: pointer, parse, trace"),
    ("briefy.choreographer.pipeline.plan", "Planner._dispatch", "dispatch: data check, outbox, stamp"),
    ("briefy.choreographer.pipeline.plan", "notify", "ZCA: handlers, actions, transform, JSON"),
    ("briefy.choreographer.pipeline.plan", "bind_contextvars", "logging context: bind, reset"),
    ("briefy.choreographer.pipeline.plan", "reset_contextvars", "logging context: bind, reset"),
    ("briefy.choreographer.worker", "deliver", "deliver: entries, results"),
    ("briefy.choreographer.pipeline.listeners", "LogLines.sent", "lines' fields"),
    ("briefy.choreographer.ops.metrics", "MetricsListener.batch_done", "metrics"),
    ("briefy.choreographer.pipeline.settle", "Settler.settle", "settle, delete"),
    ("briefy.choreographer.pipeline.settle", "Settler.delete", "settle, delete"),
    ("briefy.choreographer.worker", "Worker.process_batch", "the batch's own"),
]
#: The part called once per event: the events of the stretch are its calls.
PER_EVENT = "reading: pointer, parse, trace"
#: The part whose calls are counted too (a receive, the sends, a delete: how full the batches are).
BOTO3 = PARTS[0][2]
SITE = Path(__file__).with_name("where_site")


def run(events: int, tree: Path | None = None) -> dict[str, float]:
    """Microseconds of CPU per event of each part, and of the whole worker (``whole``), and
    boto3's calls per event (``boto3 calls per event``: 0.4 when batches are full);
    ``tree``: the checkout whose ``src`` the worker runs (another commit's worktree)."""
    path = [str(SITE), *([str(tree / "src")] if tree else []), str(SITE.parent.parent)]
    with tempfile.TemporaryDirectory() as folder, MotoServer() as server:
        out = Path(folder, "where.jsonl")
        extra = {
            "PYTHONPATH": os.pathsep.join(path),
            "BENCH_WHERE_OUT": str(out),
            "BENCH_WHERE_PARTS": json.dumps(PARTS),
        }

        def mark(pid: int) -> None:
            seen = len(written(out))
            failed(written(out))  # a part not found: nothing is wrapped, nor SIGUSR1 handled
            os.kill(pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while len(written(out)) <= seen:
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker wrote no figures: is benchmarks/where_site installed?")
                time.sleep(0.05)

        measure(server, "worker", events, extra=extra, mark=mark)
        before, after = written(out)
    calls = after["totals"][PER_EVENT][0] - before["totals"][PER_EVENT][0]
    figures = {
        label: (after["totals"][label][1] - before["totals"][label][1]) / 1e3 / calls
        for label in after["totals"]
    }
    figures["whole"] = (after["process_ns"] - before["process_ns"]) / 1e3 / calls
    figures["boto3 calls per event"] = (after["totals"][BOTO3][0] - before["totals"][BOTO3][0]) / calls
    return figures


def written(out: Path) -> list[dict[str, Any]]:
    """What the worker wrote so far: one line per snapshot (or an error)."""
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def failed(lines: list[dict[str, Any]]) -> None:
    """Raise the error the worker wrote, if any."""
    for line in lines:
        if "error" in line:
            raise RuntimeError(f"{line['error']}: the part moved, update benchmarks/where.py")


def main(argv: list[str] | None = None) -> int:
    """Measure and print the parts, biggest first."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.where", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events of the measured stretch (2000)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--tree", type=Path, help="the checkout whose worker runs (a worktree)")
    args = parser.parse_args(argv)
    figures = run(args.events, args.tree)
    if args.json:
        print(json.dumps(figures))
        return 0
    whole = figures.pop("whole")
    per_event = figures.pop("boto3 calls per event")
    print(f"the worker: {whole:.0f} µs of CPU per event ({args.events} events, a steady stream)")
    print(f"  boto3 calls per event: {per_event:.3f}")
    for label, micros in sorted(figures.items(), key=lambda item: -item[1]):
        print(f"  {micros:7.1f} µs  {100 * micros / whole:4.1f}%  {label}")
    rest = whole - sum(figures.values())
    print(
        f"  {rest:7.1f} µs  {100 * rest / whole:4.1f}%  outside the parts (the receive loop, other threads)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
