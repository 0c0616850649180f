"""One benchmark run: worker and ceiling against moto's server (a steady stream, then a
backlog), round by round, each loop on a server of its own, then the in-process pipeline."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from benchmarks import inprocess
from benchmarks.options import Options
from benchmarks.process import LoopResult, measure
from benchmarks.server import MotoServer

#: The two ways events reach the loops: a steady stream, and a backlog waiting for them.
SCENARIOS = ("steady", "backlog")
LOOPS = ("worker", "ceiling")


@dataclass
class Report:
    """Everything one run measured."""

    options: Options
    machine: dict[str, Any]
    #: Scenario -> one {loop: result} per round.
    rounds: dict[str, list[dict[str, LoopResult]]] = field(default_factory=lambda: {s: [] for s in SCENARIOS})
    pipeline: inprocess.PipelineResult | None = None
    seconds: float = 0.0

    def loops(self, scenario: str, name: str) -> list[LoopResult]:
        """The results of loop ``name`` in ``scenario``, one per round."""
        return [round_[name] for round_ in self.rounds[scenario] if name in round_]

    def ratios(self, scenario: str, figure: Callable[[LoopResult], float | None]) -> list[float]:
        """Worker over ceiling for a figure, round by round (the two ran back to back)."""
        found = []
        for round_ in self.rounds[scenario]:
            if "worker" in round_ and "ceiling" in round_:
                worker, ceiling = figure(round_["worker"]), figure(round_["ceiling"])
                if worker is not None and ceiling:
                    found.append(worker / ceiling)
        return found

    def median_ratio(self, scenario: str, figure: Callable[[LoopResult], float | None]) -> float | None:
        """The median over the rounds of the worker's figure over the ceiling's."""
        ratios = self.ratios(scenario, figure)
        return statistics.median(ratios) if ratios else None


def machine() -> dict[str, Any]:
    """Where the figures come from."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), ""
            )
    except OSError:
        model = platform.processor()
    return {
        "cpu": model or "unknown",
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "moto": _version("moto"),
        "boto3": _version("boto3"),
        "load_before": _load(),
    }


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def run(options: Options, progress: Callable[[str], None] = lambda _: None) -> Report:
    """Measure everything once; ``progress`` hears what is being measured."""
    report = Report(options, machine())
    start = time.perf_counter()
    extra = {"CHOREOGRAPHER_CONCURRENCY": str(options.concurrency)} if options.concurrency else {}
    for scenario in SCENARIOS:
        events = options.backlog if scenario == "backlog" else options.events
        for number in range(1, options.rounds + 1):
            results = {}
            # Alternate the two so that load from elsewhere falls on both alike.
            for name in LOOPS if number % 2 else reversed(LOOPS):
                # A server of its own for each loop and round: none inherits what another
                # left. On one shared server the first loop of a round cost moto's server
                # more per event in 11 of 12 backlog rounds, and with 3 rounds the worker
                # is first in two.
                with MotoServer() as server:
                    progress(f"{scenario} round {number}/{options.rounds}: {name}, {events} events")
                    results[name] = measure(
                        server,
                        name,
                        events,
                        warmup=options.warmup,
                        window=options.window,
                        timeout=options.timeout,
                        extra=extra if name == "worker" else {},
                        backlog=scenario == "backlog",
                    )
            report.rounds[scenario].append(results)
    progress(f"in-process pipeline, {options.inprocess_events} events")
    report.pipeline = inprocess.run(options.inprocess_events)
    report.machine["load_after"] = _load()
    report.seconds = time.perf_counter() - start
    return report
