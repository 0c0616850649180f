"""The worker's Prometheus metrics, on moto's mock."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from prometheus_client import CollectorRegistry

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.config import Settings
from briefy.choreographer.ops.metrics import NO_NAME, UNREGISTERED, Metrics
from briefy.choreographer.worker import Worker
from briefy.common.queue.message import SQSMessage
from tests.faults import Faults, to_queue
from tests.support import LEAD_DATA, MAIL_DATA, event, free_port


class Run:
    """A worker with metrics of its own on the reference queues of moto's mock."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.worker = Worker(app)
        self.metrics = self.worker.metrics

    def send(self, *bodies: Any) -> None:
        url = self.app.events.url  # type: ignore[union-attr]
        for body in bodies:
            text = body if isinstance(body, str) else json.dumps(body)
            self.app.client.send_message(QueueUrl=url, MessageBody=text)

    def turn(self) -> None:
        while self.worker.run_once():
            pass

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def run(app: Application) -> Run:
    return Run(app)


def test_outcomes_are_counted_by_event_name(run: Run) -> None:
    """Received, done and dead-lettered events are counted under their event names."""
    run.send(
        event("lead.created", LEAD_DATA), event("lead.created", LEAD_DATA), event("mail.sent", MAIL_DATA)
    )
    run.send("{broken")
    run.turn()
    assert run.value("choreographer_events_received_total", event_name="lead.created") == 2
    assert run.value("choreographer_events_received_total", event_name="mail.sent") == 1
    assert run.value("choreographer_events_received_total", event_name=NO_NAME) == 1
    assert run.value("choreographer_events_processed_total", event_name="lead.created", outcome="done") == 2
    assert run.value("choreographer_events_processed_total", event_name="mail.sent", outcome="done") == 1
    assert run.value("choreographer_events_processed_total", event_name=NO_NAME, outcome="dead_lettered") == 1
    assert (
        run.value("choreographer_events_dead_lettered_total", event_name=NO_NAME, error_type="invalid_json")
        == 1
    )


def test_actions_are_counted_by_action_queue_and_outcome(run: Run) -> None:
    """Each sent action counts once under its name and queue utility."""
    run.send(event("lead.created", LEAD_DATA), event("mail.sent", MAIL_DATA))
    run.turn()
    sent = "choreographer_actions_total"
    assert run.value(sent, action="lead.created.mail", queue="mail.queue", outcome="sent") == 1
    assert run.value(sent, action="mail.sent.notification", queue="notification.queue", outcome="sent") == 1


def test_a_transient_send_failure_counts_a_retry(run: Run) -> None:
    """A throttled send counts as a failed action and a retried event, nothing dead-lettered."""
    Faults(run.app.client).fail("SendMessageBatch", how="throttle", when=to_queue("/mail"))
    run.send(event("lead.created", LEAD_DATA))
    run.worker.run_once()
    assert (
        run.value(
            "choreographer_actions_total", action="lead.created.mail", queue="mail.queue", outcome="failed"
        )
        == 1
    )
    assert (
        run.value("choreographer_events_processed_total", event_name="lead.created", outcome="retried") == 1
    )
    assert (
        run.value("choreographer_events_dead_lettered_total", event_name="lead.created", error_type="") == 0
    )


def test_a_rejected_payload_counts_a_dead_letter_with_its_reason(run: Run) -> None:
    """A payload the queue's schema rejects is dead-lettered and counted with its error type."""
    run.send(event("lead.created", {**LEAD_DATA, "email": ""}))
    run.turn()
    assert (
        run.value(
            "choreographer_events_dead_lettered_total",
            event_name="lead.created",
            error_type="invalid_payload",
        )
        == 1
    )


def test_unregistered_event_names_share_one_label(run: Run) -> None:
    """Names with no event factory are counted together, so labels stay bounded."""
    run.send(event("order.shipped", {}), event("random.x1", {}), event("random.x2", {}))
    run.turn()
    assert run.value("choreographer_events_processed_total", event_name=UNREGISTERED, outcome="done") == 3
    assert run.value("choreographer_events_received_total", event_name="order.shipped") == 0


def test_durations_are_observed(run: Run) -> None:
    """Each batch and each event adds an observation to its histogram."""
    run.send(event("lead.created", LEAD_DATA), event("mail.sent", MAIL_DATA))
    run.turn()
    assert run.value("choreographer_batch_duration_seconds_count") >= 1
    assert run.value("choreographer_event_duration_seconds_count", event_name="lead.created") == 1
    assert run.value("choreographer_event_duration_seconds_count", event_name="mail.sent") == 1


def test_durations_leave_out_the_wait_for_messages(run: Run) -> None:
    """Durations count from the receive's return: a receive that waits 0.5 s adds none of it."""
    run.app.client.meta.events.register("before-call.sqs.ReceiveMessage", lambda **_: time.sleep(0.5))
    run.send(event("lead.created", LEAD_DATA))
    run.turn()
    assert run.value("choreographer_event_duration_seconds_count", event_name="lead.created") == 1
    assert run.value("choreographer_event_duration_seconds_sum", event_name="lead.created") < 0.4
    batches = run.value("choreographer_batch_duration_seconds_count")
    assert batches >= 1 and run.value("choreographer_batch_duration_seconds_sum") < 0.4 * batches


def test_received_equals_the_sum_of_outcomes(run: Run) -> None:
    """Every event taken in gets exactly one outcome per attempt."""
    run.send(event("lead.created", LEAD_DATA), "[]", event("mail.sent", MAIL_DATA), event("x.y", {}))
    run.turn()
    families = {f.name: f for f in run.metrics.registry.collect()}
    received = sum(
        s.value for s in families["choreographer_events_received"].samples if s.name.endswith("_total")
    )
    processed = sum(
        s.value for s in families["choreographer_events_processed"].samples if s.name.endswith("_total")
    )
    assert received == processed == 4


def test_in_flight_reads_the_heartbeat(run: Run) -> None:
    """The in-flight gauge shows the messages the heartbeat tracks, at scrape time."""
    run.metrics.watch_worker(run.worker)
    messages = [SQSMessage(f"m{i}", f"r{i}", "{}") for i in range(3)]
    with run.worker.heartbeat.tracking(messages):
        assert run.value("choreographer_messages_in_flight") == 3
    assert run.value("choreographer_messages_in_flight") == 0
    run.worker.heartbeat.stop()


def test_registries_are_separate() -> None:
    """Two workers' metrics never share values (and never touch the global registry)."""
    first, second = Metrics(), Metrics(CollectorRegistry())
    first.sqs_errors.labels("ReceiveMessage", "X").inc()
    assert (
        second.registry.get_sample_value(
            "choreographer_sqs_errors_total", {"operation": "ReceiveMessage", "error_code": "X"}
        )
        is None
    )


def test_sqs_error_answers_are_counted_by_operation_and_code(sqs: Any) -> None:
    """A call SQS answers with an error is counted by botocore's after-call hook."""
    metrics = Metrics()
    metrics.watch_client(sqs)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="nope")
    samples = {
        s.labels["error_code"]: s.value
        for f in metrics.registry.collect()
        if f.name == "choreographer_sqs_errors"
        for s in f.samples
        if s.name.endswith("_total") and s.labels["operation"] == "GetQueueUrl"
    }
    assert samples == {"QueueDoesNotExist": 1.0}


def test_unreachable_sqs_is_counted_by_exception() -> None:
    """A call that gets no answer is counted by botocore's after-call-error hook."""
    client = boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    metrics = Metrics()
    metrics.watch_client(client)
    with pytest.raises(Exception, match="Could not connect"):
        client.list_queues()
    value = metrics.registry.get_sample_value(
        "choreographer_sqs_errors_total", {"operation": "ListQueues", "error_code": "EndpointConnectionError"}
    )
    assert value == 1


def test_production_serves_metrics_by_default() -> None:
    """Production mode serves metrics on port 8000 unless told otherwise; development does not."""
    assert Settings.from_env({"CHOREOGRAPHER_MODE": "production"}).metrics_port == 8000
    assert (
        Settings.from_env(
            {"CHOREOGRAPHER_MODE": "production", "CHOREOGRAPHER_METRICS_PORT": "0"}
        ).metrics_port
        == 0
    )
    assert Settings.from_env({}).metrics_port == 0


def test_a_batch_cut_short_by_a_bug_counts_what_it_settled(run: Run) -> None:
    """A bug of ours after the outcomes were decided (here, in the delete) still leaves the
    settled events counted: the batch's counts are taken whatever ends it."""

    def broken(messages: Any) -> None:
        raise RuntimeError("a bug")

    run.worker.settler.delete = broken  # type: ignore[method-assign]
    run.send(event("lead.created", LEAD_DATA))
    with pytest.raises(RuntimeError):
        run.worker.run_once()
    assert run.value("choreographer_events_received_total", event_name="lead.created") == 1
    assert run.value("choreographer_events_processed_total", event_name="lead.created", outcome="done") == 1
    assert run.value("choreographer_event_duration_seconds_count", event_name="lead.created") == 1
