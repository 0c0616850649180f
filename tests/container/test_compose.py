"""docker-compose.yml run for real: the worker next to an SQS endpoint, on a compose network.

ElasticMQ's image cannot be had without a registry, so an override file puts moto's
server (an image built here, on the worker's base) in the ``sqs`` service's place
and publishes both services on free loopback ports; the rest is docker-compose.yml
as it is: the worker reaches ``http://sqs:9324`` by the service's name.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from tests.container.base import Base
from tests.container.conftest import FIGURES, ROOT, TAG, Image, not_tested
from tests.container.engine import Engine, EngineError, Podman
from tests.e2e.delivery_support import client_for, until
from tests.support import LEAD_DATA, event, free_port, http_get, wait_for_port

pytestmark = [pytest.mark.container, pytest.mark.timeout(1200)]

HERE = Path(__file__).parent
SQS_TAG = "localhost/briefy-choreographer-sqs:image-test"
QUEUES = ("events", "mail", "notification", "events-dlq")  # what ElasticMQ's configuration creates


def override(sqs_port: int, metrics_port: int) -> str:
    """The compose override: moto's server as ``sqs``, the image just built as ``worker``."""
    return f"""\
services:
  sqs:
    image: {SQS_TAG}
    volumes: !reset []
    ports: !override
      - "127.0.0.1:{sqs_port}:9324"
  worker:
    image: {TAG}
    ports: !override
      - "127.0.0.1:{metrics_port}:8000"
"""


class Compose:
    """One compose project of docker-compose.yml and an override, run with the engine's environment."""

    def __init__(self, engine: Engine, command: list[str], override_file: Path) -> None:
        self.engine = engine
        self.project = f"choreographer-test-{uuid.uuid4().hex[:8]}"
        self.base = [*command, "-p", self.project, "-f", str(ROOT / "docker-compose.yml")]
        self.base += ["-f", str(override_file)]

    def __call__(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.base, *args], env=self.engine.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise EngineError(f"compose {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def container(self, service: str) -> str:
        """The id of the service's container (compose labels what it runs)."""
        labels = [
            f"label=com.docker.compose.project={self.project}",
            f"label=com.docker.compose.service={service}",
        ]
        found = self.engine(
            "ps", "--all", "--quiet", *[arg for label in labels for arg in ("--filter", label)]
        )
        [container] = found.stdout.split()
        return container


@pytest.fixture(scope="module")
def compose_command(engine: Engine) -> list[str]:
    """``docker compose`` or podman-compose, where service names resolve on compose networks."""
    command = engine.compose()
    if command is None:
        not_tested("no compose command (docker compose, or podman-compose from PyPI)", "docker-compose.yml")
    if isinstance(engine, Podman) and not engine.resolves_service_names():
        not_tested("podman has no netavark with aardvark-dns: service names would not resolve", "compose")
    return command


@pytest.fixture(scope="module")
def sqs_image(engine: Engine, base: Base) -> str:
    """moto's server as an image, on the worker's base (cached after the first build)."""
    engine(
        "build",
        *engine.build_options(),
        "--build-arg",
        f"PYTHON_IMAGE={base.image}",
        "--build-arg",
        f"MOTO_VERSION={metadata.version('moto')}",
        "--tag",
        SQS_TAG,
        "--file",
        str(HERE / "sqs.Dockerfile"),
        str(HERE),
        timeout=900,
    )
    return SQS_TAG


@pytest.fixture
def project(
    engine: Engine, compose_command: list[str], image: Image, sqs_image: str, tmp_path: Path
) -> Iterator[tuple[Compose, int, int]]:
    """The compose project on free loopback ports (SQS, metrics), taken down at the end."""
    sqs_port, metrics_port = free_port(), free_port()
    (tmp_path / "override.yml").write_text(override(sqs_port, metrics_port))
    compose = Compose(engine, compose_command, tmp_path / "override.yml")
    try:
        yield compose, sqs_port, metrics_port
    finally:
        compose("down", "--timeout", "5")


def test_compose_runs_the_worker_next_to_sqs(engine: Engine, project: tuple[Compose, int, int]) -> None:
    """Brought up by compose, the worker choreographs an event, is healthy, and stops within its grace."""
    compose, sqs_port, metrics_port = project
    compose("up", "--detach", "--no-build", "sqs")
    wait_for_port(sqs_port)
    client = client_for(f"http://127.0.0.1:{sqs_port}")
    urls = {name: client.create_queue(QueueName=name)["QueueUrl"] for name in QUEUES}
    compose("up", "--detach", "--no-build")
    until(lambda: ready(metrics_port), timeout=90, what="the worker's readiness")
    lead = event("lead.created", LEAD_DATA)
    client.send_message(QueueUrl=urls["events"], MessageBody=json.dumps(lead))
    [mail] = client.receive_message(QueueUrl=urls["mail"], WaitTimeSeconds=20)["Messages"]
    assert json.loads(mail["Body"])["guid"] == lead["guid"]
    worker = compose.container("worker")
    assert engine.healthcheck(worker)
    bindings = json.loads(engine.inspect(worker, "{{json .HostConfig.PortBindings}}"))
    assert [b["HostIp"] for published in bindings.values() for b in published] == ["127.0.0.1"]
    started = time.monotonic()
    compose("stop", "worker", timeout=120)  # with the file's stop_grace_period
    FIGURES["compose stop of the worker"] = f"{time.monotonic() - started:.1f} s"
    assert engine.inspect(worker, "{{.State.ExitCode}}") == "0"


def ready(port: int) -> bool:
    try:
        return http_get(f"http://127.0.0.1:{port}/health/ready")[0] == 200
    except OSError:
        return False
