"""Metrics, health and production logs of the real worker process against moto's server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import LEAD_DATA, MotoServer, Queues, WorkerProcess, event, free_port, http_get, running

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of the metrics endpoint, by name and labels."""
    status, body = http_get(f"{url}/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def settled(samples: Samples) -> float:
    """Events settled (any outcome) once their batch is over (nothing left in flight)."""
    if value(samples, "choreographer_messages_in_flight"):
        return -1
    return sum(v for (name, _), v in samples.items() if name == "choreographer_events_processed_total")


def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until ``check()`` holds (polling; the timeout only guards against a hang)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def monitored(moto_server: MotoServer) -> Iterator[tuple[WorkerProcess, str, Queues]]:
    """The worker with metrics and health on a free loopback port (one for the module)."""
    queues = Queues(moto_server.client()).create()
    port = free_port()
    env = {
        "AWS_ENDPOINT_URL_SQS": moto_server.url,
        **queues.env(),
        "CHOREOGRAPHER_METRICS_PORT": str(port),
        "CHOREOGRAPHER_METRICS_HOST": "127.0.0.1",
    }
    with running(WorkerProcess(env)) as worker:
        yield worker, f"http://127.0.0.1:{port}", queues


def test_metrics_count_the_events_sent(monitored: tuple[WorkerProcess, str, Queues]) -> None:
    """3 internal leads and 1 malformed: received 4, processed 3, dead-lettered 1, 3 mails sent."""
    worker, url, queues = monitored
    for _ in range(3):
        queues.send(event("lead.created", LEAD_DATA))
    queues.send("{broken")
    worker.wait_for("action_sent", count=3)
    worker.wait_for("event_dead_lettered")
    done = "choreographer_events_processed_total"
    until(lambda: settled(scrape(url)) == 4)
    samples = scrape(url)
    assert value(samples, "choreographer_events_received_total", event_name="lead.created") == 3
    assert value(samples, "choreographer_events_received_total", event_name="(none)") == 1
    assert value(samples, done, event_name="lead.created", outcome="done") == 3
    assert value(samples, done, event_name="(none)", outcome="dead_lettered") == 1
    assert (
        value(
            samples,
            "choreographer_events_dead_lettered_total",
            event_name="(none)",
            error_type="invalid_json",
        )
        == 1
    )
    assert (
        value(
            samples,
            "choreographer_actions_total",
            action="lead.created.mail",
            queue="mail.queue",
            outcome="sent",
        )
        == 3
    )
    assert value(samples, "choreographer_event_duration_seconds_count", event_name="lead.created") == 3
    assert value(samples, "choreographer_batch_duration_seconds_count") >= 1
    assert len(queues.drain("mail", expected=3)) == 3


def test_health_endpoints_answer_200(monitored: tuple[WorkerProcess, str, Queues]) -> None:
    """A running worker is alive and ready."""
    _, url, _ = monitored
    for path in ("/health/live", "/health/ready"):
        status, body = http_get(url + path)
        assert (status, json.loads(body)["status"]) == (200, "ok")


def test_readiness_fails_when_sqs_goes_away() -> None:
    """With its SQS endpoint gone the worker stays alive, turns not ready, and counts the errors."""
    server = MotoServer().start()
    try:
        queues = Queues(server.client()).create()
        port = free_port()
        env = {
            "AWS_ENDPOINT_URL_SQS": server.url,
            **queues.env(),
            "CHOREOGRAPHER_METRICS_PORT": str(port),
            "CHOREOGRAPHER_METRICS_HOST": "127.0.0.1",
        }
        url = f"http://127.0.0.1:{port}"
        with running(WorkerProcess(env)) as worker:
            assert http_get(f"{url}/health/ready")[0] == 200
            server.stop()
            worker.wait_for("receive_failed")
            until(lambda: http_get(f"{url}/health/ready")[0] == 503)
            assert http_get(f"{url}/health/live")[0] == 200
            samples = scrape(url)
            errors = value(
                samples,
                "choreographer_sqs_errors_total",
                operation="ReceiveMessage",
                error_code="EndpointConnectionError",
            )
            assert errors >= 1
            assert worker.stop() == 0
    finally:
        server.stop()


def test_production_logs_hide_personal_data(moto_server: MotoServer, queues: Queues) -> None:
    """In production an e-mail a producer puts in any field never reaches the log (the event is
    dead-lettered whole); reasons do not quote what the producer sent."""
    env = {"AWS_ENDPOINT_URL_SQS": moto_server.url, **queues.env(), "CHOREOGRAPHER_MODE": "production"}
    bad = event("lead.created", LEAD_DATA, created_at="ada@example.org")
    good = event("lead.created", LEAD_DATA, guid="guid=ada@example.org")
    with running(WorkerProcess(env)) as worker:
        queues.send(bad)
        queues.send(good)
        [line] = worker.wait_for("event_dead_lettered")
        [sent] = worker.wait_for("action_sent")
        assert worker.stop() == 0
    assert line["reason"] == "field 'created_at' is not an ISO 8601 date-time"
    assert sent["guid"] == "guid=[redacted]"
    assert "ada@example.org" not in "\n".join(worker.raw)
    [letter] = queues.drain("dlq", expected=1)
    assert letter["Body"] == json.dumps(bad)


def test_every_log_line_of_an_event_carries_its_request_id(moto_server: MotoServer, queues: Queues) -> None:
    """Each line the worker logs about an event names the event's request_id."""
    env = {"AWS_ENDPOINT_URL_SQS": moto_server.url, **queues.env(), "CHOREOGRAPHER_LOG_LEVEL": "DEBUG"}
    leads = [event("lead.created", LEAD_DATA) for _ in range(3)]
    with running(WorkerProcess(env)) as worker:
        for lead in leads:
            queues.send(lead)
        worker.wait_for("event_done", count=3)
        assert worker.stop() == 0
    for lead in leads:
        lines = [line for line in worker.logs if line.get("event_id") == lead["id"]]
        assert {"event_dispatched", "action_sent", "event_done"} <= {line["event"] for line in lines}
        assert {line["request_id"] for line in lines} == {lead["request_id"]}
