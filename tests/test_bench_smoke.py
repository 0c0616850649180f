"""A small run of ``choreographer bench``, so the benchmark cannot rot (speed is not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.inprocess import STAGES

pytestmark = pytest.mark.e2e

ARGS = ["--events", "60", "--rounds", "1", "--warmup", "5", "--seed-events", "1", "--inprocess-events", "200"]


def test_bench_produces_every_figure_from_correct_outputs() -> None:
    """One tiny run prints all four figures and the targets; every output was checked correct."""
    command = [sys.executable, "-m", "benchmarks", *ARGS, "--json"]
    run = subprocess.run(command, capture_output=True, timeout=240, check=False)
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    report = json.loads(run.stdout)
    assert report["problems"] == []
    for name in ("worker", "ceiling"):
        figures = report["summary"][name]
        assert figures["events_per_second"] > 0 and figures["cpu_ms_per_event"] is not None
    [round_] = report["rounds"]
    assert round_["worker"]["tally"]["verified"] == 60
    assert round_["worker"]["exit_code"] == round_["ceiling"]["exit_code"] == 0
    assert report["seed"]["events_per_second"] > 0 and report["seed"]["tally"]["verified"] == 1
    pipeline = report["pipeline"]
    assert pipeline["per_core"] > 0 and pipeline["outputs"] == pipeline["deleted"] == 200
    assert set(pipeline["breakdown"]) == {*STAGES, "other"}
    assert {t["key"]: t["value"] is not None for t in report["targets"]} == {
        "ceiling_ratio": True,
        "cpu_ratio": True,
        "seed_gain": True,
        "per_core": True,
    }
