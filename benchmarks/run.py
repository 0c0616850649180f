"""One benchmark run: worker and ceiling against moto's server (a steady stream, then a
backlog), round by round, each loop on a server of its own, then the in-process pipeline.

Each scenario runs ceiling, worker, ceiling, worker, ..., ceiling: every worker
measurement is compared with the mean of the ceilings just before and just after it,
so a machine that gets faster or slower during the run (this one's backlog rate
went from 17.4 to 11 events/s within an hour) favours neither loop, and the ceiling
measured against itself, one measurement after the next, shows how far two runs of
the very same loop differ: the resolution of the ratios.
"""

from __future__ import annotations

import itertools
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
#: In the order each round runs them.
LOOPS = ("ceiling", "worker")


@dataclass
class Report:
    """Everything one run measured."""

    options: Options
    machine: dict[str, Any]
    #: Scenario -> one {loop: result} per round (the ceiling ran first).
    rounds: dict[str, list[dict[str, LoopResult]]] = field(default_factory=lambda: {s: [] for s in SCENARIOS})
    #: Scenario -> the ceiling measured after the last round, closing its bracket.
    closing: dict[str, LoopResult] = field(default_factory=dict)
    pipeline: inprocess.PipelineResult | None = None
    seconds: float = 0.0

    def loops(self, scenario: str, name: str) -> list[LoopResult]:
        """The results of loop ``name`` in ``scenario``, in the order they ran."""
        found = [round_[name] for round_ in self.rounds[scenario] if name in round_]
        if name == "ceiling" and scenario in self.closing:
            found.append(self.closing[scenario])
        return found

    def bracketed(
        self, scenario: str, figure: Callable[[LoopResult], float | None]
    ) -> list[tuple[float, float]]:
        """Round by round, a figure of the worker and the mean of the ceilings measured just
        before and just after it."""
        ceilings = self.loops(scenario, "ceiling")
        found = []
        for number, round_ in enumerate(self.rounds[scenario]):
            if "worker" not in round_ or "ceiling" not in round_:
                continue
            worker = figure(round_["worker"])
            around = [figure(c) for c in ceilings[number : number + 2]]
            known = [value for value in around if value]
            if worker is not None and known:
                found.append((worker, statistics.fmean(known)))
        return found

    def ratios(self, scenario: str, figure: Callable[[LoopResult], float | None]) -> list[float]:
        """Worker over ceiling for a figure, round by round (``bracketed``)."""
        return [worker / ceiling for worker, ceiling in self.bracketed(scenario, figure)]

    def differences(self, scenario: str, figure: Callable[[LoopResult], float | None]) -> list[float]:
        """Worker less ceiling for a figure, round by round (``bracketed``): for the CPU per
        event, what the choreography costs over the transport, whatever the transport costs."""
        return [worker - ceiling for worker, ceiling in self.bracketed(scenario, figure)]

    def noise(self, scenario: str, figure: Callable[[LoopResult], float | None]) -> list[float]:
        """The ceiling against itself: each of its measurements over the one before it."""
        values = [figure(result) for result in self.loops(scenario, "ceiling")]
        return [b / a for a, b in itertools.pairwise(values) if a and b is not None]

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
    for scenario in SCENARIOS:
        for number in range(1, options.rounds + 1):
            label = f"round {number}/{options.rounds}"
            report.rounds[scenario].append(
                {loop: one(options, scenario, loop, label, progress) for loop in LOOPS}
            )
        if options.rounds:
            report.closing[scenario] = one(options, scenario, "ceiling", "closing", progress)
    progress(f"in-process pipeline, {options.inprocess_events} events")
    report.pipeline = inprocess.run(options.inprocess_events)
    report.machine["load_after"] = _load()
    report.seconds = time.perf_counter() - start
    return report


def one(
    options: Options, scenario: str, name: str, label: str, progress: Callable[[str], None]
) -> LoopResult:
    """One measurement of loop ``name`` in ``scenario``, on a moto server of its own: none
    inherits what another left (on one shared server the first loop of a round cost moto's
    server more per event in 11 of 12 backlog rounds)."""
    events = options.backlog if scenario == "backlog" else options.events
    extra = {"CHOREOGRAPHER_CONCURRENCY": str(options.concurrency)} if options.concurrency else {}
    with MotoServer() as server:
        progress(f"{scenario} {label}: {name}, {events} events")
        return measure(
            server,
            name,
            events,
            warmup=options.warmup,
            window=options.window,
            timeout=options.timeout,
            extra=extra if name == "worker" else {},
            backlog=scenario == "backlog",
        )
