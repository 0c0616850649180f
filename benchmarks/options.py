"""What a benchmark run measures, and how much (the defaults of ``python -m benchmarks``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """What to measure, and how much."""

    #: Events per loop and round of the steady stream.
    events: int = 1000
    #: Events waiting on the queue when a loop starts draining a backlog.
    backlog: int = 1000
    #: Rounds of the ceiling then the worker; one more ceiling closes the last round.
    rounds: int = 3
    #: At most this many events await their output in the steady stream.
    window: int = 30
    #: Events through each loop before it is measured.
    warmup: int = 50
    #: Events through the in-process pipeline.
    inprocess_events: int = 20_000
    #: CHOREOGRAPHER_CONCURRENCY of the worker (its default when None).
    concurrency: int | None = None
    timeout: float = 600.0
