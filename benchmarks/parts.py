"""Where the in-process pipeline's CPU goes: ``python -m benchmarks.parts``.

Each part of the pipeline is taken out in turn, and the in-process pipeline
(``benchmarks.inprocess``: the real worker on in-memory queues) measured without
it, in a process of its own, alternating with the whole pipeline: the difference
of the medians is what the part costs. A profiler cannot say this (it costs more
than the calls it times, and more for small ones); taking a part out measures it
where it runs, caches and garbage collector shared with the rest.

A diagnostic: a part is taken out by replacing it in the measuring process,
which nothing else does. ``replace`` refuses a name that is not there, so a part
renamed in the code fails the run instead of measuring nothing.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

#: Each part: what it is, as the report says it.
PARTS = {
    "whole": "the whole pipeline, nothing taken out",
    "lines": "the event's two INFO lines, all of structlog's work for them",
    "redaction": "redaction of the lines",
    "timestamp": "the ISO timestamp of the lines (structlog's TimeStamper)",
    "merge": "merging the logging context into the lines",
    "binding": "binding the event's ids to the logging context, and unbinding them",
    "metrics": "the metrics listener",
    "trace": "the trace context stamped on each output",
    "schema": "the schema check of each output's payload",
}


def replace(owner: Any, name: str, value: Any) -> None:
    """Set ``owner.name`` to ``value``; it must be there already."""
    if not hasattr(owner, name):
        raise AttributeError(f"{owner!r} has no {name!r}: the part moved, update benchmarks/parts.py")
    setattr(owner, name, value)


def _after_logging(adjust: Callable[[], None]) -> None:
    """Configure logging as the pipeline does, then ``adjust`` structlog's configuration."""
    from benchmarks import inprocess

    configure = inprocess.configure_logging

    def configured(*args: Any, **kwargs: Any) -> None:
        configure(*args, **kwargs)
        adjust()

    replace(inprocess, "configure_logging", configured)


def _processors(keep: Callable[[Any], bool]) -> None:
    """Keep only the logging processors ``keep`` accepts."""
    import structlog

    _after_logging(
        lambda: structlog.configure(processors=[p for p in structlog.get_config()["processors"] if keep(p)])
    )


def take_out(part: str) -> None:
    """Take ``part`` out of the pipeline of this process."""
    import structlog

    if part == "whole":
        return
    if part == "lines":
        _after_logging(
            lambda: structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
        )
    elif part == "redaction":
        from briefy.choreographer import redaction

        replace(redaction.Redactor, "__call__", lambda self, logger, method, event_dict: event_dict)
    elif part == "timestamp":
        _processors(lambda p: not isinstance(p, structlog.processors.TimeStamper))
    elif part == "merge":
        _processors(lambda p: p is not structlog.contextvars.merge_contextvars)
    elif part == "binding":
        from briefy.choreographer.pipeline import plan

        replace(plan, "bind_contextvars", lambda **values: {})
        replace(plan, "reset_contextvars", lambda **tokens: None)
    elif part == "metrics":
        from briefy.choreographer import worker
        from briefy.choreographer.pipeline.listeners import PipelineListener

        class Unheard(PipelineListener):
            def __init__(self, *args: Any) -> None:
                pass

        replace(worker, "MetricsListener", Unheard)
    elif part == "trace":
        from briefy.choreographer.pipeline.trace import Tracing

        replace(Tracing, "stamp", lambda self, job, planned: None)
    elif part == "schema":
        from briefy.common.queue import Queue

        replace(Queue, "validate", lambda self, *args, **kwargs: None)
    else:
        raise ValueError(f"no part {part!r}; the parts: {', '.join(PARTS)}")


def measure(part: str, events: int) -> float:
    """CPU microseconds per event of the in-process pipeline without ``part``, in a process of
    its own (a part taken out stays out for the life of the process)."""
    command = [sys.executable, "-m", "benchmarks.parts", "--one", part, "--events", str(events)]
    run = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"{part}: {run.stderr.strip()[-2000:]}")
    return float(run.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    """Measure every part ``--repeats`` times, alternating, and print what each costs."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.parts",
        description="Where the in-process pipeline's CPU goes: each part taken out in turn.",
    )
    parser.add_argument("--events", type=int, default=10_000, help="events a measurement (10000)")
    parser.add_argument("--repeats", type=int, default=7, help="measurements of each part (7)")
    parser.add_argument("--one", choices=PARTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # one measurement, in this process
        from benchmarks import inprocess

        take_out(args.one)
        print(f"{inprocess.run(args.events).micros:.2f}")
        return 0
    figures: dict[str, list[float]] = {part: [] for part in PARTS}
    for repeat in range(args.repeats):
        for part in PARTS:
            print(f"parts: {repeat + 1}/{args.repeats} without {part}", file=sys.stderr, flush=True)
            figures[part].append(measure(part, args.events))
    whole = statistics.median(figures["whole"])
    print(f"In-process pipeline, {args.events} events a measurement, {args.repeats} of each, alternating;")
    print("medians, µs of CPU per event [min-max]; a part costs the whole's median less its own.")
    print(f"  {'part':<9}  {'costs':>6}  {'without it':>20}")
    for part, text in PARTS.items():
        values = figures[part]
        median = statistics.median(values)
        cost = "-" if part == "whole" else f"{whole - median:.1f}"
        spread = f"{median:.1f} [{min(values):.1f}-{max(values):.1f}]"
        print(f"  {part:<9}  {cost:>6}  {spread:>20}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
