"""A small run of ``python -m benchmarks``, so the benchmark cannot rot (speed is not asserted)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from benchmarks.inprocess import STAGES

pytestmark = pytest.mark.e2e

ARGS = ["--events", "60", "--backlog", "60", "--rounds", "1", "--warmup", "5", "--inprocess-events", "200"]


def test_bench_produces_every_figure_from_correct_outputs() -> None:
    """One tiny run measures both loops side by side in both scenarios, the ceiling beside itself,
    and the in-process pipeline, with every
    output of both loops checked correct (the ceiling does the same work) and every target judged."""
    command = [sys.executable, "-m", "benchmarks", *ARGS, "--json"]
    run = subprocess.run(command, capture_output=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    report = json.loads(run.stdout)
    assert report["problems"] == []
    for scenario in ("steady", "backlog"):
        [round_] = report["rounds"][scenario]
        [alike] = report["alike"][scenario]
        for loop in [*round_.values(), *alike]:
            assert loop["tally"]["verified"] == 60
            assert loop["events_per_second"] > 0 and loop["cpu_ms_per_event"] is not None
            assert loop["exit_code"] == 0
        # Side by side: the two measured stretches of a round overlap in time.
        worker, ceiling = round_["worker"], round_["ceiling"]
        assert worker["started"] < ceiling["ended"] and ceiling["started"] < worker["ended"]
        assert len(report["ceiling_against_itself"][scenario]["cpu_ms_per_event"]) == 1
    pipeline = report["pipeline"]
    assert pipeline["outputs"] == pipeline["deleted"] == 200 and pipeline["cpu_seconds"] > 0
    assert set(pipeline["stages"]) == set(STAGES)
    assert {t["key"]: t["value"] is not None for t in report["targets"]} == {
        "steady_rate": True,
        "steady_cpu": True,
        "backlog_rate": True,
    }


def test_bench_says_what_it_lacks() -> None:
    """Away from a checkout (no tests' reference data) it says so and exits 2, with no traceback."""
    import tempfile

    with tempfile.TemporaryDirectory() as elsewhere:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": root, "PYTHONSAFEPATH": "1"}
        probe = "import sys, runpy; sys.modules['tests'] = None; "
        probe += "runpy.run_module('benchmarks', run_name='__main__')"
        run = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, cwd=elsewhere, env=env, check=False
        )
    assert run.returncode == 2
    assert b"cannot run: run it from a checkout" in run.stderr and b"Traceback" not in run.stderr


def stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command's name (state, parent, ...); None
    once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as file:
            return file.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    return {
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and (fields := stat(entry)) is not None and fields[1] == str(pid)
    }


def test_sigterm_stops_the_benchmark_with_its_server_and_loop() -> None:
    """SIGTERM mid-run unwinds it as Ctrl-C does: the two measuring processes, their moto servers
    and the loops under test end too."""
    command = [sys.executable, "-m", "benchmarks", *ARGS]
    bench = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert bench.stderr is not None
    for line in bench.stderr:  # the first loop under test is starting
        if b"steady round 1/1" in line:
            break
    deadline = time.monotonic() + 60
    started: set[int] = set()
    while len(started) < 6 and time.monotonic() < deadline:  # 2 measurers, each a server and a loop
        measurers = children(bench.pid)
        started = measurers | {pid for measurer in measurers for pid in children(measurer)}
        time.sleep(0.1)
    assert len(started) >= 6, "two measuring processes, each with moto's server and a loop under test"
    bench.send_signal(signal.SIGTERM)
    assert bench.wait(60) == 143
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{pid}") for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in started if (fields := stat(pid)) is not None and fields[0] != "Z"]
    assert left == []


def marked(mark: str) -> list[int]:
    """Processes (not zombies) whose environment holds ``mark``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                holds = mark.encode() in environ.read()
        except OSError:
            continue
        if holds and (fields := stat(entry)) is not None and fields[0] != "Z":
            found.append(int(entry))
    return found


def test_a_measurement_that_fails_stops_the_one_beside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """When one of two loops measured side by side fails, the run says which, and the other
    measurement is stopped with its moto server and loop: nothing is left running."""
    import uuid

    from benchmarks.options import Options
    from benchmarks.run import pair

    mark = f"bench-{uuid.uuid4().hex}"
    monkeypatch.setenv("BENCH_TEST_MARK", mark)
    options = Options(events=5000, warmup=5, timeout=120)
    with pytest.raises(RuntimeError, match=r"measuring the nowhere failed \(exit 2\)"):
        pair(options, "steady", ("worker", "nowhere"), "a failing pair", lambda _: None)
    deadline = time.monotonic() + 30  # a stopped loop may take a moment to be reaped
    while (left := marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == []


def test_where_the_real_workers_cpu_goes() -> None:
    """``python -m benchmarks.where`` measures every part in the real worker, and the parts
    with the rest add up to the whole; it counts boto3's calls (speed is not asserted)."""
    from benchmarks.where import PARTS

    command = [sys.executable, "-m", "benchmarks.where", "--events", "100", "--json"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout)
    whole = figures.pop("whole")
    # A receive, a send per output queue and a delete per batch: at least 3 calls a batch of 10.
    assert 0.3 <= figures.pop("boto3 calls per event") <= 10
    assert set(figures) == {label for _, _, label in PARTS}
    assert all(micros >= 0 for micros in figures.values())
    assert figures["boto3's calls"] > 0 and figures["log lines: processors, JSON, write"] > 0
    assert 0 < sum(figures.values()) <= whole * 1.05


def test_where_fails_loudly_when_a_part_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    """A part no longer where ``benchmarks.where`` looks fails the run, naming it, instead of
    measuring nothing."""
    from benchmarks import where

    monkeypatch.setattr(where, "PARTS", [*where.PARTS, ("briefy.choreographer.worker", "Worker.gone", "x")])
    with pytest.raises(RuntimeError, match=r"Worker\.gone is not there"):
        where.run(10)


def test_cold_measures_the_pipeline_after_each_wait() -> None:
    """``python -m benchmarks.cold`` times the pipeline after each kind of wait, every round
    (speed is not asserted)."""
    from benchmarks.cold import BEFORE

    command = [sys.executable, "-m", "benchmarks.cold", "--events", "40", "--rounds", "2", "--json"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout)
    assert list(figures) == list(BEFORE)
    assert all(len(rounds) == 2 and all(micros > 0 for micros in rounds) for rounds in figures.values())
