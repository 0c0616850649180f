"""Static checks of the container files (no Docker engine needed) and the documented settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from briefy.choreographer.ops.metrics import Metrics
from briefy.choreographer.ops.monitor import MonitorServer
from tests.test_metrics_health import FakeWorker, health

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
README = (ROOT / "README.rst").read_text()


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def healthcheck_code() -> str:
    """The Python code of the HEALTHCHECK command."""
    [command] = [args for op, args in instructions() if op == "HEALTHCHECK"]
    exec_form = json.loads(command[command.index("CMD") + 3 :].strip())
    assert exec_form[:2] == ["python", "-c"]
    return str(exec_form[2])


def test_the_image_is_multi_stage_and_runs_as_a_user() -> None:
    """Two stages; the final one runs as a non-root user, in production mode, the worker module."""
    ops = instructions()
    assert [op for op, _ in ops].count("FROM") == 2
    [user] = [args for op, args in ops if op == "USER"]
    assert user not in ("0", "root")
    env = " ".join(args for op, args in ops if op == "ENV")
    assert "CHOREOGRAPHER_MODE=production" in env and "CHOREOGRAPHER_METRICS_PORT=8000" in env
    assert ("EXPOSE", "8000") in ops
    assert ops[-1] == ("CMD", '["python", "-m", "briefy.choreographer.worker"]')


@pytest.fixture
def endpoint() -> Iterator[tuple[MonitorServer, FakeWorker]]:
    """A health endpoint on a free port for a worker whose last turn the test sets."""
    worker = FakeWorker(time.monotonic())
    server = MonitorServer(Metrics(), health(worker), "127.0.0.1", 0).start()
    yield server, worker
    server.stop()


def run_healthcheck(port: int) -> int:
    env = {**os.environ, "CHOREOGRAPHER_METRICS_PORT": str(port)}
    return subprocess.run(
        [sys.executable, "-c", healthcheck_code()], env=env, capture_output=True, timeout=30
    ).returncode


def test_the_healthcheck_passes_while_the_loop_turns(endpoint: tuple[MonitorServer, FakeWorker]) -> None:
    """The HEALTHCHECK command exits 0 against a live worker's endpoint."""
    server, _ = endpoint
    assert run_healthcheck(server.port) == 0


def test_the_healthcheck_fails_when_the_loop_is_stuck(endpoint: tuple[MonitorServer, FakeWorker]) -> None:
    """The HEALTHCHECK command exits non-zero when liveness answers 503."""
    server, worker = endpoint
    worker.last_turn = time.monotonic() - 3600
    assert run_healthcheck(server.port) != 0


def test_compose_runs_the_worker_next_to_sqs() -> None:
    """docker-compose.yml parses; the worker reaches the sqs service and publishes its metrics port."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    sqs, worker = compose["services"]["sqs"], compose["services"]["worker"]
    assert worker["build"] == "."
    assert worker["environment"]["AWS_ENDPOINT_URL_SQS"] == "http://sqs:9324"
    assert "8000:8000" in worker["ports"] and "9324:9324" in sqs["ports"]
    assert any(volume.startswith("./docker/elasticmq.conf:") for volume in sqs["volumes"])


def test_the_sqs_server_creates_the_reference_queues() -> None:
    """The ElasticMQ configuration declares events (with its DLQ), mail, notification and events-dlq."""
    conf = (ROOT / "docker" / "elasticmq.conf").read_text()
    declared = set(re.findall(r"^\s{2}([\w-]+)\s*\{", conf.split("queues {", 1)[1], re.MULTILINE))
    assert declared == {"events", "events-dlq", "mail", "notification"}
    assert 'name = "events-dlq"' in conf


def test_every_setting_is_documented() -> None:
    """Each CHOREOGRAPHER_* variable config.py reads has a row in the README."""
    source = (ROOT / "src" / "briefy" / "choreographer" / "config.py").read_text()
    names = set(re.findall(r'reader\.\w+\(\s*"([A-Z_]+)"', source))
    assert {"MODE", "METRICS_PORT", "EXTENSIONS"} <= names
    missing = [name for name in sorted(names) if f"``CHOREOGRAPHER_{name}``" not in README]
    assert missing == []
