"""``worker --processes N``: the supervisor's children."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from briefy.choreographer.ops.supervisor import Supervisor

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
