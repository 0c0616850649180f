"""Static checks of the container files (no Docker engine needed) and the documented settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from briefy.choreographer.ops.metrics import Metrics
from briefy.choreographer.ops.monitor import MonitorServer
from tests.test_metrics_health import FakeWorker, health

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
CONTRACT = (ROOT / "docs" / "contract.rst").read_text()


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
    assert "127.0.0.1:8000:8000" in worker["ports"] and "127.0.0.1:9324:9324" in sqs["ports"]
    assert any(volume.startswith("./docker/elasticmq.conf:") for volume in sqs["volumes"])


def test_compose_publishes_on_loopback_only() -> None:
    """Every port docker-compose.yml publishes is bound to 127.0.0.1, not to every interface."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ports = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert ports
    assert [port for port in ports if not str(port).startswith("127.0.0.1:")] == []


def locked() -> dict[str, list[str]]:
    """docker/requirements.txt: each pinned distribution (normalised name==version) and its hashes."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "docker" / "requirements.txt").read_text())
    pins: dict[str, list[str]] = {}
    for line in text.splitlines():
        if match := re.match(r"([A-Za-z0-9._-]+)==(\S+)", line):
            pins[f"{normalise(match[1])}=={match[2]}"] = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
    return pins


def normalise(name: str) -> str:
    """A distribution name as indexes compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    return {normalise(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]) for requirement in requirements}


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    """The lock pins setup.py's dependencies and the build tools, each version with at least one hash."""
    pins = locked()
    names = {pin.split("==")[0] for pin in pins}
    runtime = [r for r in metadata.requires("briefy.choreographer") or [] if "extra ==" not in r]
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert requirement_names(runtime) | requirement_names(build) <= names
    assert [pin for pin, hashes in pins.items() if not hashes] == []


def test_the_image_installs_the_lock_alone() -> None:
    """The build installs the lock in hash-checking mode, then the package without resolving anything."""
    runs = [args for op, args in instructions() if op == "RUN"]
    assert any("pip install --require-hashes -r requirements.txt" in run for run in runs)
    assert any("pip install --no-deps --no-build-isolation ." in run for run in runs)
    assert ("COPY", "docker/requirements.txt ./") in instructions()


def test_the_sqs_server_creates_the_reference_queues() -> None:
    """The ElasticMQ configuration declares events (with its DLQ), mail, notification and events-dlq."""
    conf = (ROOT / "docker" / "elasticmq.conf").read_text()
    declared = set(re.findall(r"^\s{2}([\w-]+)\s*\{", conf.split("queues {", 1)[1], re.MULTILINE))
    assert declared == {"events", "events-dlq", "mail", "notification"}
    assert 'name = "events-dlq"' in conf


def test_every_setting_is_documented() -> None:
    """Each CHOREOGRAPHER_* variable config.py reads has a row in docs/contract.rst's settings."""
    source = (ROOT / "src" / "briefy" / "choreographer" / "config.py").read_text()
    names = set(re.findall(r'reader\.\w+\(\s*"([A-Z_]+)"', source))
    assert {"MODE", "METRICS_PORT", "EXTENSIONS"} <= names
    missing = [name for name in sorted(names) if f"``CHOREOGRAPHER_{name}``" not in CONTRACT]
    assert missing == []
