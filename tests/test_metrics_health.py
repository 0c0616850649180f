"""Health checks and the HTTP endpoint that serves them with the metrics."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from prometheus_client.parser import text_string_to_metric_families

from briefy.choreographer.bootstrap import StartupError
from briefy.choreographer.config import Settings
from briefy.choreographer.ops.health import Health, stale_after
from briefy.choreographer.ops.metrics import Metrics
from briefy.choreographer.ops.monitor import CONNECTION_LIMIT, MonitorServer
from tests.support import http_get


@dataclass
class FakeWorker:
    """What the health checks read of a worker."""

    last_turn: float
    stopping: bool = False


class FakeProbe:
    """An SQS client stand-in that answers GetQueueAttributes, or fails as told."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:events"}}


UNREACHABLE = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


def health(worker: FakeWorker | None = None, probe: FakeProbe | None = None, ttl: float = 60.0) -> Health:
    return Health(
        worker or FakeWorker(time.monotonic()),  # type: ignore[arg-type]
        probe or FakeProbe(),
        "http://sqs/123456789012/events",
        wait_time=10,
        ttl=ttl,
    )


def test_a_recent_turn_is_alive() -> None:
    """A loop that turned within the limit is alive."""
    check = health().live()
    assert check.ok and check.detail["status"] == "ok"


def test_an_old_turn_is_stalled() -> None:
    """A loop that has not turned for longer than the limit is not alive."""
    worker = FakeWorker(time.monotonic() - stale_after(10) - 1)
    check = health(worker).live()
    assert not check.ok and check.detail["status"] == "stalled"


def test_the_limit_grows_with_the_wait_time() -> None:
    """A longer long-poll wait allows a longer pause between turns."""
    assert stale_after(20) > stale_after(10) > 10


def test_ready_when_the_events_queue_answers() -> None:
    """Readiness asks SQS for the events queue's attributes."""
    probe = FakeProbe()
    assert health(probe=probe).ready().ok
    assert probe.calls == 1


def test_readiness_answers_are_reused_within_the_ttl() -> None:
    """Probes within the TTL reuse the last answer: one SQS call."""
    probe = FakeProbe()
    checks = health(probe=probe)
    for _ in range(5):
        checks.ready()
    assert probe.calls == 1


def test_readiness_asks_again_after_the_ttl() -> None:
    """With a TTL of zero every probe asks SQS."""
    probe = FakeProbe()
    checks = health(probe=probe, ttl=0)
    checks.ready()
    checks.ready()
    assert probe.calls == 2


def test_not_ready_when_sqs_is_unreachable() -> None:
    """An SQS that does not answer makes the worker not ready, with the error named."""
    check = health(probe=FakeProbe(UNREACHABLE)).ready()
    assert not check.ok
    assert check.detail["error"] == "EndpointConnectionError"


def test_a_stopping_worker_is_alive_but_not_ready() -> None:
    """During a graceful stop the worker stays alive and stops being ready."""
    checks = health(FakeWorker(time.monotonic(), stopping=True))
    assert checks.live().ok
    assert checks.ready().detail["status"] == "stopping" and not checks.ready().ok


@pytest.fixture
def served() -> Iterator[tuple[MonitorServer, Metrics, FakeProbe]]:
    """The HTTP endpoint on a free loopback port, with fresh metrics."""
    metrics, probe = Metrics(), FakeProbe()
    server = MonitorServer(metrics, health(probe=probe, ttl=0), "127.0.0.1", 0).start()
    yield server, metrics, probe
    server.stop()


def test_metrics_are_served_in_prometheus_format(served: tuple[MonitorServer, Metrics, FakeProbe]) -> None:
    """GET /metrics returns the worker's metrics in the text format."""
    server, metrics, _ = served
    metrics.events_received.labels("lead.created").inc(2)
    status, body = http_get(f"{server.url}/metrics")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert status == 200
    [sample] = [s for s in families["choreographer_events_received"].samples if s.name.endswith("_total")]
    assert sample.labels == {"event_name": "lead.created"} and sample.value == 2
    assert "choreographer_messages_in_flight" in families


def test_health_endpoints_answer_200_when_healthy(served: tuple[MonitorServer, Metrics, FakeProbe]) -> None:
    """/health/live and /health/ready answer 200 with a JSON status."""
    server, _, _ = served
    for path in ("/health/live", "/health/ready"):
        status, body = http_get(server.url + path)
        assert (status, json.loads(body)["status"]) == (200, "ok")


def test_readiness_answers_503_when_sqs_fails(served: tuple[MonitorServer, Metrics, FakeProbe]) -> None:
    """/health/ready answers 503 naming the error when SQS does not answer."""
    server, _, probe = served
    probe.error = UNREACHABLE
    status, body = http_get(f"{server.url}/health/ready")
    assert status == 503
    answer = json.loads(body)
    assert (answer["status"], answer["error"]) == ("unavailable", "EndpointConnectionError")


def test_unknown_paths_answer_404(served: tuple[MonitorServer, Metrics, FakeProbe]) -> None:
    """Any other path answers 404 listing the served ones."""
    server, _, _ = served
    status, body = http_get(f"{server.url}/healthz")
    assert status == 404 and "/health/live" in json.loads(body)["paths"]


def test_a_busy_port_is_a_startup_error() -> None:
    """A port already in use stops start-up with an error naming the setting."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MonitorServer(Metrics(), health(), "127.0.0.1", port)
        with pytest.raises(StartupError, match=rf"127\.0\.0\.1:{port}.*CHOREOGRAPHER_METRICS_PORT"):
            server.start()


def test_half_sent_requests_hold_no_thread_and_block_no_probe() -> None:
    """300 connections that never finish their request add no thread; a probe still answers."""
    server = MonitorServer(Metrics(), health(), "127.0.0.1", 0).start()
    threads = threading.active_count()
    idle = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # never ends the head
            idle.append(sock)
        assert threading.active_count() <= threads + 1
        for sock in idle[CONNECTION_LIMIT:]:  # a probe gets a place once the others go
            sock.close()
        for sock in idle[:CONNECTION_LIMIT]:
            sock.close()
        status, _ = http_get(f"{server.url}/health/live")
        assert status == 200
    finally:
        for sock in idle:
            sock.close()
        server.stop()


def test_an_idle_connection_is_closed_after_the_timeout() -> None:
    """A connection that sends half a request and waits is closed by the server after idle_timeout."""
    server = MonitorServer(Metrics(), health(), "127.0.0.1", 0, idle_timeout=1).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\n")
            sock.settimeout(10)
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 8
    finally:
        server.stop()


def test_the_endpoint_listens_on_loopback_by_default() -> None:
    """Outside containers (which set CHOREOGRAPHER_METRICS_HOST) only this machine reaches it."""
    assert Settings.from_env({"CHOREOGRAPHER_MODE": "production"}).metrics_host == "127.0.0.1"
