"""The delivery soak in the suite: see tests/e2e/soak.py (``pytest -s`` prints its figures)."""

from __future__ import annotations

import pytest

from tests.e2e.soak import run_soak
from tests.support import MotoServer

pytestmark = pytest.mark.e2e


def test_soak_loses_nothing_through_faults_and_restarts(moto_server: MotoServer) -> None:
    """400 events through failure bursts, an outage, a SIGKILL and a SIGTERM: every output, no dead letter."""
    result = run_soak(moto_server.url, events=400)
    print(result.report())
    assert result.missing == 0, result.report()
    assert result.unexpected == 0, result.report()
    assert result.dead_letters == 0 and result.events_left == 0, result.report()
    assert result.sigterm_exit == 0 and result.final_exit == 0, result.report()
    assert result.workers == 3
    assert sum(result.injected.values()) >= 40
