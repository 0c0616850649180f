"""The benchmark's verdicts and its printed forms: a table for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.inprocess import STAGES
from benchmarks.process import LoopResult
from benchmarks.run import Report


@dataclass(frozen=True)
class Target:
    """One target of issue 4 and the figure that meets it or not."""

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


def _rate(result: LoopResult) -> float:
    return result.rate


def _cpu(result: LoopResult) -> float | None:
    return result.cpu_ms


def _moto(result: LoopResult) -> float | None:
    if result.server_cpu is None or not result.events:
        return None
    return 1000 * result.server_cpu / result.events


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(report: Report) -> list[Target]:
    """The four targets, judged on the run's figures.

    Worker and ceiling are compared round by round (they ran back to back, so
    load from elsewhere falls on both alike), and the median of those ratios counts.
    """
    worker_rate = report.median("worker", _rate)
    seed_rate = report.seed.rate if report.seed else None
    pipeline = report.pipeline
    return [
        Target(
            "ceiling_ratio",
            "default settings reach 0.9 of the transport ceiling's events/s",
            True,
            0.9,
            report.median_ratio(_rate),
        ),
        Target(
            "cpu_ratio",
            "worker CPU per event at most 1.3 x the ceiling loop's",
            False,
            1.3,
            report.median_ratio(_cpu),
        ),
        Target(
            "seed_gain", "at least 100 x the seed's events/s", True, 100.0, _ratio(worker_rate, seed_rate)
        ),
        Target(
            "per_core",
            "in-process pipeline: 20,000 events/s per core, INFO logging on",
            True,
            20_000.0,
            pipeline.per_core if pipeline else None,
        ),
    ]


def integrity(report: Report) -> list[str]:
    """What went wrong besides speed: wrong or missing outputs, events left, unclean exits."""
    found = []
    checked = [*report.loops("worker"), *report.loops("ceiling"), *([report.seed] if report.seed else [])]
    for result in checked:
        tally = result.tally
        if result.name != "ceiling" and tally.verified != result.events:
            found.append(f"{result.name}: {tally.verified} of {result.events} outputs checked correct")
        found += [f"{result.name}: wrong output: {text}" for text in tally.wrong[:5]]
        if tally.unknown:
            found.append(f"{result.name}: {tally.unknown} outputs of events never sent")
        if result.left_behind:
            found.append(f"{result.name}: {result.left_behind} events left on the queue")
        if result.dead_letters:
            found.append(f"{result.name}: {result.dead_letters} events dead-lettered")
        if result.exit_code != 0:
            found.append(f"{result.name}: exited with {result.exit_code} after SIGTERM")
        found += [f"{result.name} said: {line[:300]}" for line in result.problems[:5]]
    pipeline = report.pipeline
    if pipeline and (pipeline.outputs != pipeline.events or pipeline.deleted != pipeline.events):
        counts = f"{pipeline.outputs} outputs and {pipeline.deleted} deletes"
        found.append(f"in-process: {counts} for {pipeline.events} events")
    return found


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _with_spread(report: Report, name: str, figure: Callable[[LoopResult], float | None], spec: str) -> str:
    values = [v for v in (figure(r) for r in report.loops(name)) if v is not None]
    median = _fmt(statistics.median(values) if values else None, spec)
    if len(values) < 2:
        return median
    return f"{median} [{format(min(values), spec)}-{format(max(values), spec)}]"


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
        "choreographer bench",
        f"  machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']} "
        f"({machine['platform']}); moto {machine['moto']}, boto3 {machine['boto3']}",
        f"  load average (1, 5, 15 min): {machine['load_before']} before, {machine.get('load_after')} after; "
        f"{report.seconds:.0f} s in all",
        "",
        f"SQS through moto's server on loopback: {options.rounds} rounds of {options.events} events "
        f"per loop, at most {options.window} awaiting output.",
        "Medians over the rounds [min-max]; CPU is the loop process's own, from /proc; the",
        "targets take the median of the round-by-round ratios.",
        "",
    ]
    rows = [["loop", "events/s", "CPU ms/event", "moto CPU ms/event", "outputs checked"]]
    for label, name in (("worker, default settings", "worker"), ("transport ceiling, boto3 loop", "ceiling")):
        results = report.loops(name)
        checked = f"{sum(r.tally.verified for r in results)}/{sum(r.events for r in results)}"
        duplicates = sum(r.tally.duplicates for r in results)
        if duplicates:
            checked += f" (+{duplicates} again)"
        rows.append(
            [
                label,
                _with_spread(report, name, _rate, ".1f"),
                _with_spread(report, name, _cpu, ".3f"),
                _with_spread(report, name, _moto, ".2f"),
                checked if name == "worker" else "counted only",
            ]
        )
    if report.seed is not None:
        seed = report.seed
        rows.append(
            [
                "seed's loop: 1 per receive, 0.5 s nap",
                _fmt(seed.rate, ".2f"),
                _fmt(seed.cpu_ms, ".3f"),
                _fmt(_moto(seed), ".2f"),
                f"{seed.tally.verified}/{seed.events}",
            ]
        )
    lines += table(rows, "lrrrr")
    lines += [
        "  worker / ceiling, round by round: events/s "
        + " ".join(f"{r:.2f}" for r in report.ratios(_rate))
        + "; CPU per event "
        + " ".join(f"{r:.2f}" for r in report.ratios(_cpu)),
    ]
    redelivered = sum(r.redeliveries for r in report.loops("worker"))
    if redelivered:
        lines += [
            f"  ({redelivered} message(s) handed out by SQS again while in progress: the worker kept",
            "  each from running twice, as designed.)",
        ]
    if any(r.tally.duplicates for r in report.loops("worker")):
        lines += [
            "  (+N again: outputs of events delivered twice, as SQS may; moto's server can hand one",
            "  message to two concurrent receives. Each repeat carries the same output_id.)",
        ]
    pipeline = report.pipeline
    if pipeline is not None:
        lines += [
            "",
            f"In-process pipeline: the worker on an in-memory queue, {pipeline.events} events, one thread,",
            "INFO logging rendered as JSON to the null device.",
            f"  {pipeline.per_core:,.0f} events/s per core: {pipeline.micros:.1f} us of CPU per event, "
            "of which",
        ]
        stages = [
            *STAGES.items(),
            ("other", "the worker's own: jobs, outbox, batching, settling, queue calls"),
        ]
        lines += table(
            [[name, f"{pipeline.breakdown.get(name, 0.0):.1f} us", text] for name, text in stages], "lrl"
        )
    lines += ["", "Targets (issue 4):"]
    for target in targets(report):
        verdict = {True: "PASS", False: "FAIL", None: "N/A "}[target.met]
        spec = ",.0f" if target.key == "per_core" else ".2f"
        lines.append(f"  {verdict}  {target.text:<66} {_fmt(target.value, spec)}")
    problems = integrity(report)
    if problems:
        lines += ["", "Problems (the figures above cannot be trusted):", *(f"  {p}" for p in problems)]
    return "\n".join(lines)


def as_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data."""
    pipeline = report.pipeline
    return {
        "options": dataclasses.asdict(report.options),
        "machine": report.machine,
        "seconds": report.seconds,
        "summary": {
            name: {
                "events_per_second": report.median(name, _rate),
                "cpu_ms_per_event": report.median(name, _cpu),
                "moto_ms_per_event": report.median(name, _moto),
            }
            for name in ("worker", "ceiling")
        },
        "rounds": [{name: _loop(result) for name, result in round_.items()} for round_ in report.rounds],
        "seed": _loop(report.seed) if report.seed else None,
        "pipeline": (
            {
                **dataclasses.asdict(pipeline),
                "per_core": pipeline.per_core,
                "micros_per_event": pipeline.micros,
            }
            if pipeline
            else None
        ),
        "targets": [{**dataclasses.asdict(t), "met": t.met} for t in targets(report)],
        "problems": integrity(report),
    }


def _loop(result: LoopResult) -> dict[str, Any]:
    return {
        **dataclasses.asdict(result),
        "events_per_second": result.rate,
        "cpu_ms_per_event": result.cpu_ms,
        "moto_ms_per_event": _moto(result),
    }
