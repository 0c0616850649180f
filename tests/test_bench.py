"""The benchmark's parts: output checks, the ceiling's fairness, verdicts (speed is not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import orjson
import pytest

from benchmarks import ceiling, inprocess
from benchmarks.cpu import cpu_clock, cpu_seconds, proc_cpu_seconds
from benchmarks.memory import MemoryClient
from benchmarks.options import Options
from benchmarks.process import LoopResult
from benchmarks.report import as_json, cpu, integrity, rate, render, targets
from benchmarks.run import Report, machine
from benchmarks.stream import Tally, wrong_output
from briefy.choreographer.bootstrap import connect
from briefy.choreographer.cli.dryrun import report as dry_run
from briefy.choreographer.config import Settings
from briefy.choreographer.site import load_site
from briefy.choreographer.worker import Worker
from briefy.common.tracecontext import from_aws_trace_header, from_traceparent
from tests import reference


def planned_output(registry: Any, message: dict[str, Any]) -> dict[str, Any]:
    """What the real choreography would send for ``message`` (a dry run)."""
    [action] = dry_run(orjson.dumps(message), load_site(Settings()))["actions"]
    return dict(action)


@pytest.mark.parametrize("number", [0, 1])
def test_the_choreography_output_passes_the_check(registry: Any, number: int) -> None:
    """The check the drainers run accepts what the choreography makes of each reference event."""
    message = reference.event(number)
    action = planned_output(registry, message)
    _, queue, name = reference.KINDS[message["event_name"]]
    payload = action["payload"]
    attributes = {"action": name, "output_id": payload["output_id"]}
    assert wrong_output(queue, message, attributes, payload) == ""


def test_a_wrong_output_is_named(registry: Any) -> None:
    """An output whose payload or queue differs from the reference choreography is reported, with how."""
    message = reference.event(0)
    payload = {**planned_output(registry, message)["payload"], "email": "someone@else.org"}
    attributes = {"action": "lead.created.mail", "output_id": payload["output_id"]}
    problem = wrong_output("notification", message, attributes, payload)
    assert "on notification, not mail" in problem and "payload differs" in problem


def worker_entry(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The queue URL and SendMessageBatch entry the real worker sends for ``message`` (the
    reference site on queues bound to the in-memory client; logging as the tests have it)."""
    entries: list[tuple[str, dict[str, Any]]] = []
    client = MemoryClient()
    send = client.send_message_batch

    def recording(QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        entries.extend((QueueUrl, entry) for entry in Entries)
        return send(QueueUrl=QueueUrl, Entries=Entries)

    client.send_message_batch = recording  # type: ignore[method-assign]
    settings = Settings(region="us-east-1", endpoint_url="memory://", wait_time=0, extensions=())
    app = connect(load_site(settings), client)
    worker = Worker(app)
    client.put(str(app.events.url), reference.body(message))
    try:
        assert worker.run_once() == 1
    finally:
        worker.heartbeat.stop()
    [found] = entries
    return found


@pytest.mark.parametrize("number", [0, 1])
def test_the_ceiling_sends_what_the_worker_sends(number: int) -> None:
    """The ceiling's output is the real worker's message: the same payload to the same queue,
    the same message attributes and the same trace context (a traceparent and the
    AWSTraceHeader of one new trace), so the two loops do the same queue work."""
    message = reference.event(number)
    url, sent = worker_entry(message)
    role, entry = ceiling.output(message)
    assert url.rsplit("/", 1)[-1].startswith(role)
    assert orjson.loads(entry["MessageBody"]) == orjson.loads(sent["MessageBody"])
    assert set(entry["MessageAttributes"]) == set(sent["MessageAttributes"])
    assert set(entry["MessageSystemAttributes"]) == set(sent["MessageSystemAttributes"]) == {"AWSTraceHeader"}
    for name in ("output_id", "event_id", "event_name", "action", "request_id"):
        assert entry["MessageAttributes"][name] == sent["MessageAttributes"][name]
    traceparent = entry["MessageAttributes"]["traceparent"]["StringValue"]
    header = entry["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"]
    assert from_traceparent(traceparent) == from_aws_trace_header(header) is not None
    assert len(traceparent) == len(sent["MessageAttributes"]["traceparent"]["StringValue"])


def test_cpu_seconds_come_from_proc() -> None:
    """A live process has CPU seconds; a process that does not exist has none."""
    assert (cpu_seconds(os.getpid()) or 0) > 0
    assert cpu_seconds(2**22 + 1) is None
    assert (proc_cpu_seconds(os.getpid()) or 0) > 0
    assert proc_cpu_seconds(2**22 + 1) is None


def test_cpu_seconds_of_another_process_count_its_ended_threads_finer_than_a_tick() -> None:
    """Another process's CPU seconds come from its CPU clock: finer than /proc's clock ticks,
    and counting the CPU of its threads that have ended."""
    script = (
        "import sys, threading, time\n"
        "def spin():\n"
        "    end = time.thread_time() + 0.123\n"
        "    while time.thread_time() < end: pass\n"
        "thread = threading.Thread(target=spin); thread.start(); thread.join()\n"
        "print('spun', flush=True); sys.stdin.read()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"spun\n"
        assert cpu_clock(child.pid) is not None
        seconds = cpu_seconds(child.pid) or 0.0
        ticks = proc_cpu_seconds(child.pid) or 0.0
        assert seconds >= 0.123  # the ended thread's spin is in it
        assert abs(seconds - ticks) < 0.05 and round(seconds * 100) != seconds * 100
    finally:
        child.communicate(b"")


def loop(name: str, rate: float, cpu: float) -> LoopResult:
    events = 100
    return LoopResult(name, events, events / rate, cpu * events / 1000, Tally(verified=events), exit_code=0)


def test_targets_are_judged_on_round_by_round_ratios() -> None:
    """Each worker measurement is taken over the ceiling measured beside it, the median of
    those ratios counts; each target meets its bound or not."""
    report = Report(Options(), machine())
    report.rounds["steady"] = [
        {"worker": loop("worker", 190, 0.6), "ceiling": loop("ceiling", 200, 0.5)},
        {"ceiling": loop("ceiling", 100, 0.5), "worker": loop("worker", 180, 0.7)},
        {"worker": loop("worker", 200, 0.55), "ceiling": loop("ceiling", 210, 0.5)},
    ]
    report.rounds["backlog"] = [{"worker": loop("worker", 290, 0.6), "ceiling": loop("ceiling", 300, 0.5)}]
    report.pipeline = inprocess.PipelineResult(events=100, cpu_seconds=0.01, outputs=100, deleted=100)
    # events/s: 190 / 200, 180 / 100, 200 / 210; CPU: 1.2, 1.4, 1.1
    assert [round(r, 3) for r in report.ratios("steady", rate)] == [0.95, 1.8, 0.952]
    verdicts = {t.key: (round(t.value or 0, 2), t.met) for t in targets(report)}
    assert verdicts == {
        "steady_rate": (0.95, True),
        "steady_cpu": (1.2, True),
        "backlog_rate": (0.97, False),
    }
    assert "FAIL  backlog: at least as fast as the ceiling" in render(report)
    # CPU ms: 0.6, 0.7, 0.55 against ceilings of 0.5: the choreography's cost, and the target's room.
    assert [round(d, 3) for d in report.differences("steady", cpu)] == [0.1, 0.2, 0.05]
    assert "(what the choreography costs): +0.100, +0.200, +0.050;" in render(report)
    assert "the CPU target leaves 20% of the ceiling's: 0.100, 0.100, 0.100" in render(report)
    assert as_json(report)["worker_less_ceiling_cpu_ms_per_event"]["steady"] == report.differences(
        "steady", cpu
    )


def test_the_resolution_is_the_ceiling_measured_beside_itself() -> None:
    """The ceiling against itself is the second of each pair measured side by side over the
    first, reported beside the ratios and in the JSON; a pair's problems are the run's."""
    report = Report(Options(), machine())
    report.rounds["steady"] = [{"worker": loop("worker", 95, 0.6), "ceiling": loop("ceiling", 100, 0.5)}]
    report.alike["steady"] = [(loop("ceiling", 100, 0.5), loop("ceiling", 98, 0.51))]
    assert [round(r, 3) for r in report.noise("steady", rate)] == [0.98]
    assert [round(r, 3) for r in report.noise("steady", cpu)] == [1.02]
    assert "steady: events/s 0.98; CPU per event 1.02" in render(report)
    json = as_json(report)
    assert json["ceiling_against_itself"]["steady"]["events_per_second"] == report.noise("steady", rate)
    assert json["alike"]["steady"][0][1]["events_per_second"] == 98
    assert integrity(report) == []
    report.alike["steady"][0][1].exit_code = None
    assert integrity(report) == ["steady ceiling beside itself: exited with None after SIGTERM"]


def test_a_result_crosses_processes_whole() -> None:
    """A measurement made in a process of its own (``benchmarks.one``) reads back as it was."""
    from benchmarks.process import from_json, to_json

    result = loop("worker", 120, 0.8)
    result.tally.wrong.append("e-1: wrong payload")
    result.problems, result.started, result.ended = ["a warning"], 1.5, 9.25
    assert from_json(orjson.loads(orjson.dumps(to_json(result)))) == result


def test_a_handled_redelivery_is_counted_not_a_problem() -> None:
    """A redelivered_in_progress warning is counted as handled; any other warning stays a problem."""
    from io import BytesIO

    from benchmarks.process import problems, redeliveries

    output = BytesIO(
        b'{"event":"redelivered_in_progress","count":2,"level":"warning"}\n'
        b'{"event":"delete_failed","level":"warning"}\n'
        b'{"event":"action_sent","level":"info"}\n'
    )
    assert redeliveries(output) == 2
    assert ['"delete_failed"' in line for line in problems(output)] == [True]


def test_every_part_of_the_pipeline_is_taken_out_and_measured() -> None:
    """``python -m benchmarks.parts`` finds every part where the code has it (one renamed fails
    the run) and reports each part's figure (speed is not asserted)."""
    import subprocess
    import sys

    from benchmarks.parts import PARTS

    command = [sys.executable, "-m", "benchmarks.parts", "--events", "50", "--repeats", "1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {line.split()[0]: line.split() for line in run.stdout.splitlines() if line.startswith("  ")}
    assert set(PARTS) <= set(rows)
    for part, text in PARTS.items():
        _, cost, without, *_ = rows[part]
        assert float(without) > 0 and rows[part][-len(text.split()) :] == text.split()
        if part == "whole":
            assert cost == "-"
        else:  # the whole's median less this one's, each shown to 0.1
            assert float(cost) == pytest.approx(float(rows["whole"][2]) - float(without), abs=0.11)


def test_a_part_that_moved_fails_loudly() -> None:
    """A part no longer where ``benchmarks.parts`` looks is an error naming it, not a silent
    measurement of the whole pipeline; an unknown part is refused."""
    from benchmarks import parts

    with pytest.raises(AttributeError, match="'stamp_everything'"):
        parts.replace(parts, "stamp_everything", None)
    with pytest.raises(ValueError, match="no part 'logging'"):
        parts.take_out("logging")
