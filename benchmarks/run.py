"""One benchmark run: the worker and the ceiling side by side, at the same time, against
moto's server (a steady stream, then a backlog), round by round, each loop with a server
and a feeder of its own; then the in-process pipeline.

Measured one after the other, two loops meet different machines: this one's speed
moves within minutes (the ceiling measured twice in a row came out at 0.69 to 1.64
times its own CPU per event), more than the worker and the ceiling differ. Side by
side, both meet the machine as it is at that moment: the ceiling measured beside
itself, one round per scenario, shows what is left of the noise.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from benchmarks import inprocess
from benchmarks.options import Options
from benchmarks.process import ROOT, LoopResult, from_json

#: The two ways events reach the loops: a steady stream, and a backlog waiting for them.
SCENARIOS = ("steady", "backlog")
#: The loops, in the order the first round starts them (the next rounds alternate).
LOOPS = ("worker", "ceiling")


@dataclass
class Report:
    """Everything one run measured."""

    options: Options
    machine: dict[str, Any]
    #: Scenario -> one {loop: result} per round, both loops measured at the same time.
    rounds: dict[str, list[dict[str, LoopResult]]] = field(default_factory=lambda: {s: [] for s in SCENARIOS})
    #: Scenario -> pairs of the ceiling measured beside itself: the resolution of the ratios.
    alike: dict[str, list[tuple[LoopResult, LoopResult]]] = field(
        default_factory=lambda: {s: [] for s in SCENARIOS}
    )
    pipeline: inprocess.PipelineResult | None = None
    seconds: float = 0.0

    def loops(self, scenario: str, name: str) -> list[LoopResult]:
        """The results of loop ``name`` in the rounds of ``scenario``, in order."""
        return [round_[name] for round_ in self.rounds[scenario] if name in round_]

    def paired(
        self, scenario: str, figure: Callable[[LoopResult], float | None]
    ) -> list[tuple[float, float]]:
        """Round by round, a figure of the worker and of the ceiling measured beside it."""
        found = []
        for round_ in self.rounds[scenario]:
            if "worker" in round_ and "ceiling" in round_:
                worker, ceiling = figure(round_["worker"]), figure(round_["ceiling"])
                if worker is not None and ceiling:
                    found.append((worker, ceiling))
        return found

    def ratios(self, scenario: str, figure: Callable[[LoopResult], float | None]) -> list[float]:
        """Worker over ceiling for a figure, round by round."""
        return [worker / ceiling for worker, ceiling in self.paired(scenario, figure)]

    def differences(self, scenario: str, figure: Callable[[LoopResult], float | None]) -> list[float]:
        """Worker less ceiling for a figure, round by round: for the CPU per event, what the
        choreography costs over the transport, whatever the transport costs."""
        return [worker - ceiling for worker, ceiling in self.paired(scenario, figure)]

    def noise(self, scenario: str, figure: Callable[[LoopResult], float | None]) -> list[float]:
        """The ceiling against itself: of each pair measured side by side, the second over the first."""
        found = []
        for first, second in self.alike[scenario]:
            a, b = figure(first), figure(second)
            if a and b is not None:
                found.append(b / a)
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
    for scenario in SCENARIOS:
        for number in range(1, options.rounds + 1):
            order = LOOPS if number % 2 else LOOPS[::-1]
            label = f"round {number}/{options.rounds}"
            first, second = pair(options, scenario, order, label, progress)
            report.rounds[scenario].append({first.name: first, second.name: second})
        if options.rounds:
            report.alike[scenario].append(
                pair(options, scenario, ("ceiling", "ceiling"), "the ceiling beside itself", progress)
            )
    progress(f"in-process pipeline, {options.inprocess_events} events")
    report.pipeline = inprocess.run(options.inprocess_events)
    report.machine["load_after"] = _load()
    report.seconds = time.perf_counter() - start
    return report


def pair(
    options: Options,
    scenario: str,
    loops: tuple[str, str],
    label: str,
    progress: Callable[[str], None],
) -> tuple[LoopResult, LoopResult]:
    """Two loops measured at the same time in ``scenario``, each in a process of its own
    (``benchmarks.one``) with a moto server of its own: none inherits what another left
    (on one shared server the first loop of a round cost moto's server more per event in
    11 of 12 backlog rounds). When one fails, the other is stopped at once."""
    events = options.backlog if scenario == "backlog" else options.events
    progress(f"{scenario} {label}: {' and '.join(loops)} side by side, {events} events each")
    command = [
        sys.executable,
        "-m",
        "benchmarks.one",
        *("--events", str(events), "--warmup", str(options.warmup)),
        *("--window", str(options.window), "--timeout", str(options.timeout)),
        *(["--backlog"] if scenario == "backlog" else []),
        *(["--concurrency", str(options.concurrency)] if options.concurrency else []),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="bench-pair-") as folder:
        outputs = [os.path.join(folder, f"{number}.json") for number in range(len(loops))]
        # Each in a process group of its own, with its server and loop: stopping the group
        # stops all three, even a server whose start a signal interrupted. (Not a session of
        # its own: Linux's scheduler would share the CPU out by session then, not by thread.)
        children = [
            subprocess.Popen([*command, "--output", output, loop], env=env, process_group=0)
            for loop, output in zip(loops, outputs, strict=True)
        ]
        stopped = set()
        try:
            _wait_all(children, deadline=time.monotonic() + 4 * options.timeout)
        finally:  # one failed, an error, a signal: stop the others, with their servers and loops
            for child in children:
                if child.poll() is None:
                    _signal_group(child.pid, signal.SIGTERM)
                    stopped.add(child.pid)
            for child in children:
                child.wait()
                if child.returncode != 0:  # what it left behind (it did not stop them itself)
                    _signal_group(child.pid, signal.SIGKILL)
        for loop, child in zip(loops, children, strict=True):
            if child.returncode != 0 and child.pid not in stopped:
                raise RuntimeError(f"measuring the {loop} failed (exit {child.returncode}): see above")
        first, second = (from_json(orjson.loads(Path(output).read_bytes())) for output in outputs)
    return first, second


def _signal_group(group: int, signum: int) -> None:
    """Send ``signum`` to process group ``group``, if anything is left in it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _wait_all(children: list[subprocess.Popen[bytes]], deadline: float) -> None:
    """Wait until every child has exited, or one has failed; past ``deadline``, TimeoutError."""
    while True:
        codes = [child.poll() for child in children]  # every child, each time
        if all(code is not None for code in codes) or any(code not in (None, 0) for code in codes):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("a measurement did not end in time")
        time.sleep(0.2)
