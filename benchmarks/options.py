"""What a benchmark run measures, and how much (the defaults of ``choreographer bench``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """What to measure, and how much."""

    events: int = 1000
    rounds: int = 3
    window: int = 40
    warmup: int = 50
    seed_events: int = 8
    inprocess_events: int = 20_000
    concurrency: int | None = None
    timeout: float = 300.0
