"""``worker --processes N``: the supervisor's children."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from briefy.choreographer.ops.supervisor import NUMBER, Supervisor, worker_name

#: A stand-in worker that records the metrics port it was given, then exits.
RECORD_PORT = (
    "import os, sys; open(os.path.join(sys.argv[1], os.environ['CHOREOGRAPHER_METRICS_PORT']), 'w').close()"
)


@pytest.mark.parametrize(("base", "expected"), [(8000, {"8000", "8001", "8002"}), (0, {"0"})])
def test_each_worker_gets_a_metrics_port_of_its_own(tmp_path: Path, base: int, expected: set[str]) -> None:
    """Worker k serves metrics on base + k - 1, so N workers never fight over one port (0 stays off)."""
    supervisor = Supervisor(3, {}, [sys.executable, "-c", RECORD_PORT, str(tmp_path)], metrics_port=base)
    supervisor.start()
    for child in supervisor.children:
        assert child.wait(30) == 0
    assert {path.name for path in tmp_path.iterdir()} == expected


#: A stand-in worker that records the number it was given.
RECORD_NUMBER = (
    "import os, sys; number = os.environ['CHOREOGRAPHER_WORKER_NUMBER'].replace('/', ' of '); "
    "open(os.path.join(sys.argv[1], number), 'w').close()"
)


def test_each_worker_is_told_its_number(tmp_path: Path) -> None:
    """Worker k of N is told ``k/N``, which its log lines carry."""
    supervisor = Supervisor(3, {}, [sys.executable, "-c", RECORD_NUMBER, str(tmp_path)])
    supervisor.start()
    for child in supervisor.children:
        assert child.wait(30) == 0
    assert {path.name for path in tmp_path.iterdir()} == {"1 of 3", "2 of 3", "3 of 3"}


def test_worker_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """A supervised worker is its number and pid; a supervisor says so; a lone worker is unnamed."""
    monkeypatch.delenv(NUMBER, raising=False)
    assert worker_name(1) == ""
    assert worker_name(2) == f"supervisor pid {os.getpid()}"
    monkeypatch.setenv(NUMBER, "2/3")
    assert worker_name(1) == f"2/3 pid {os.getpid()}"
