"""The benchmark's verdicts and its printed forms: a table for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.inprocess import STAGES
from benchmarks.process import LoopResult
from benchmarks.run import LOOPS, SCENARIOS, Report


@dataclass(frozen=True)
class Target:
    """A target and the figure that meets it or not."""

    key: str
    text: str
    at_least: bool
    bound: float
    value: float | None

    @property
    def met(self) -> bool | None:
        """True or False; None when the figure could not be measured."""
        if self.value is None:
            return None
        return self.value >= self.bound if self.at_least else self.value <= self.bound


def rate(result: LoopResult) -> float:
    return result.rate


def cpu(result: LoopResult) -> float | None:
    return result.cpu_ms


def moto(result: LoopResult) -> float | None:
    if result.server_cpu is None or not result.events:
        return None
    return 1000 * result.server_cpu / result.events


def targets(report: Report) -> list[Target]:
    """The targets, judged on the run's figures: each worker measurement is compared with
    the ceiling measured beside it, at the same time, and the median of those ratios counts."""
    return [
        Target("steady_rate", "steady stream: at least 0.95 x the ceiling's events/s", True, 0.95,
               report.median_ratio("steady", rate)),
        Target("steady_cpu", "steady stream: at most 1.2 x the ceiling's CPU per event", False, 1.2,
               report.median_ratio("steady", cpu)),
        Target("backlog_rate", "backlog: at least as fast as the ceiling (1.0 x its events/s)", True, 1.0,
               report.median_ratio("backlog", rate)),
    ]  # fmt: skip


def integrity(report: Report) -> list[str]:
    """What went wrong besides speed: wrong or missing outputs, events left, unclean exits."""
    found = []
    for scenario in SCENARIOS:
        for name in LOOPS:
            for result in report.loops(scenario, name):
                found += _problems(f"{scenario} {name}", result)
        for pair in report.alike[scenario]:
            for result in pair:
                found += _problems(f"{scenario} ceiling beside itself", result)
    pipeline = report.pipeline
    if pipeline and (pipeline.outputs != pipeline.events or pipeline.deleted != pipeline.events):
        counts = f"{pipeline.outputs} outputs and {pipeline.deleted} deletes"
        found.append(f"in-process: {counts} for {pipeline.events} events")
    return found


def _problems(label: str, result: LoopResult) -> list[str]:
    tally, found = result.tally, []
    if tally.verified != result.events:
        found.append(f"{label}: {tally.verified} of {result.events} outputs checked correct")
    found += [f"{label}: wrong output: {text}" for text in tally.wrong[:5]]
    if tally.unknown:
        found.append(f"{label}: {tally.unknown} outputs of events never sent")
    if result.left_behind:
        found.append(f"{label}: {result.left_behind} events left on the queue")
    if result.dead_letters:
        found.append(f"{label}: {result.dead_letters} events dead-lettered")
    if result.exit_code != 0:
        found.append(f"{label}: exited with {result.exit_code} after SIGTERM")
    return found + [f"{label} said: {line[:300]}" for line in result.problems[:5]]


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _spread(values: list[float], spec: str) -> str:
    if not values:
        return "n/a"
    median = format(statistics.median(values), spec)
    if len(values) < 2:
        return median
    return f"{median} [{format(min(values), spec)}-{format(max(values), spec)}]"


def _figures(
    report: Report, scenario: str, name: str, figure: Callable[[LoopResult], float | None], spec: str
) -> str:
    return _spread([v for v in (figure(r) for r in report.loops(scenario, name)) if v is not None], spec)


def table(rows: list[list[str]], align: str) -> list[str]:
    """Rows of cells as lines, each column aligned ``l`` (left) or ``r`` (right)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(align))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align, strict=True)]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def render(report: Report) -> str:
    """The report as a table for people."""
    options, machine = report.options, report.machine
    lines = [
        "python -m benchmarks",
        f"  machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']} "
        f"({machine['platform']}); moto {machine['moto']}, boto3 {machine['boto3']}",
        f"  load average (1, 5, 15 min): {machine.get('load_before')} before, "
        f"{machine.get('load_after')} after; {report.seconds:.0f} s in all",
        "",
        "SQS through moto's server on loopback; each loop a process of its own in production mode.",
        f"steady: a stream of {options.events} events a round, at most {options.window} awaiting output;",
        f"backlog: {options.backlog} events waiting when the loop resumes.",
        f"{options.rounds} rounds of the worker and the ceiling side by side, at the same time, each with a",
        "server and a feeder of its own, and one round of the ceiling beside itself. Medians [min-max];",
        "CPU is the loop process's own (its CPU clock); the targets take the median of the rounds' ratios.",
        "",
    ]
    rows = [["scenario", "loop", "events/s", "CPU ms/event", "moto CPU ms/event"]]
    for scenario in SCENARIOS:
        for name in LOOPS:
            rows.append(
                [
                    scenario,
                    "worker, default settings" if name == "worker" else "ceiling: plain boto3 loop",
                    _figures(report, scenario, name, rate, ".1f"),
                    _figures(report, scenario, name, cpu, ".3f"),
                    _figures(report, scenario, name, moto, ".2f"),
                ]
            )
    lines += table(rows, "llrrr")
    lines.append("")
    for scenario in SCENARIOS:
        rates = ", ".join(f"{r:.2f}" for r in report.ratios(scenario, rate))
        cpus = ", ".join(f"{r:.2f}" for r in report.ratios(scenario, cpu))
        lines.append(
            f"  worker / ceiling, {scenario}, round by round: events/s {rates}; CPU per event {cpus}"
        )
    steady = report.paired("steady", cpu)
    if steady:
        extra = ", ".join(f"{worker - ceiling:+.3f}" for worker, ceiling in steady)
        room = ", ".join(f"{0.2 * ceiling:.3f}" for _, ceiling in steady)
        lines.append(
            f"  worker less ceiling, steady, CPU ms per event (what the choreography costs): {extra};"
        )
        lines.append(f"    the CPU target leaves 20% of the ceiling's: {room}")
    lines.append("  the ceiling beside itself (the second over the first; the resolution of the ratios):")
    for scenario in SCENARIOS:
        rates = ", ".join(f"{r:.2f}" for r in report.noise(scenario, rate))
        cpus = ", ".join(f"{r:.2f}" for r in report.noise(scenario, cpu))
        lines.append(f"    {scenario}: events/s {rates}; CPU per event {cpus}")
    pipeline = report.pipeline
    if pipeline is not None:
        lines += [
            "",
            f"In-process pipeline: the worker on an in-memory queue, {pipeline.events} events, one thread,",
            "INFO logging rendered as JSON to the null device.",
            f"  {pipeline.per_core:,.0f} events/s per core: {pipeline.micros:.1f} us of CPU per event;"
            " the stages alone:",
        ]
        lines += [
            f"  {name:<8} {pipeline.stages.get(name, 0):7.1f} us  {text}" for name, text in STAGES.items()
        ]
    lines += ["", "Targets:"]
    for target in targets(report):
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[target.met]
        lines.append(f"  {verdict}  {target.text:<66} {_fmt(target.value, '.2f')}")
    found = integrity(report)
    if found:
        lines += ["", "Problems (the figures above cannot be trusted):", *(f"  {text}" for text in found)]
    return "\n".join(lines)


def as_json(report: Report) -> dict[str, Any]:
    """The report for scripts."""
    return {
        "options": dataclasses.asdict(report.options),
        "machine": report.machine,
        "seconds": report.seconds,
        "rounds": {
            scenario: [{name: _loop_json(result) for name, result in round_.items()} for round_ in rounds]
            for scenario, rounds in report.rounds.items()
        },
        "alike": {
            scenario: [[_loop_json(result) for result in pair] for pair in pairs]
            for scenario, pairs in report.alike.items()
        },
        "ratios": {scenario: _ratios(report.ratios, scenario) for scenario in SCENARIOS},
        "ceiling_against_itself": {scenario: _ratios(report.noise, scenario) for scenario in SCENARIOS},
        "worker_less_ceiling_cpu_ms_per_event": {
            scenario: report.differences(scenario, cpu) for scenario in SCENARIOS
        },
        "pipeline": dataclasses.asdict(report.pipeline) if report.pipeline else None,
        "targets": [{**dataclasses.asdict(t), "met": t.met} for t in targets(report)],
        "problems": integrity(report),
    }


def _ratios(ratios: Callable[[str, Callable[[LoopResult], float | None]], list[float]], scenario: str) -> Any:
    return {"events_per_second": ratios(scenario, rate), "cpu_ms_per_event": ratios(scenario, cpu)}


def _loop_json(result: LoopResult) -> dict[str, Any]:
    return {
        "events": result.events,
        "seconds": result.seconds,
        "events_per_second": result.rate,
        "cpu_ms_per_event": result.cpu_ms,
        "moto_cpu_ms_per_event": moto(result),
        "exit_code": result.exit_code,
        "tally": dataclasses.asdict(result.tally),
        "redeliveries": result.redeliveries,
        "started": result.started,
        "ended": result.ended,
    }
