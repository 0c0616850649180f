"""The worker loop on moto's mock: outcomes of each kind of message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from structlog.testing import capture_logs

from briefy.choreographer.bootstrap import Application, bootstrap
from briefy.choreographer.clients import tool_client
from briefy.choreographer.config import Settings
from briefy.choreographer.worker import Worker
from tests.faults import Faults, to_queue
from tests.support import LEAD_DATA, MAIL_DATA, event, free_port, with_settings


class Harness:
    """The worker bound to the reference queues, and helpers to use them."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.client = app.client
        self.worker = Worker(app)
        self.urls = {name: queue.url for name, queue in app.queues.items()}
        self.urls["dlq"] = app.dead_letters.url  # type: ignore[union-attr]

    def send(self, body: Any, **kwargs: Any) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        return str(
            self.client.send_message(QueueUrl=self.urls["events.queue"], MessageBody=text, **kwargs)[
                "MessageId"
            ]
        )

    def receive(self, name: str) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.urls[name],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        )
        return list(response.get("Messages", []))

    def bodies(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.receive(name)]

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) on the events queue."""
        attrs = self.client.get_queue_attributes(QueueUrl=self.urls["events.queue"], AttributeNames=["All"])[
            "Attributes"
        ]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def harness(app: Application) -> Harness:
    return Harness(app)


def test_internal_lead_is_sent_to_mail_and_deleted(harness: Harness) -> None:
    """An internal lead's payload lands on the mail queue; the event is deleted."""
    message = event("lead.created", LEAD_DATA)
    harness.send(message)
    assert harness.worker.run_once() == 1
    [payload] = harness.bodies("mail.queue")
    assert payload["email"] == "ada@example.org"
    assert payload["guid"] == message["guid"]
    assert harness.counts() == (0, 0)


def test_the_worker_s_own_client_skips_botocore_s_parameter_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker checks what it sends itself; its SQS client does not check again (a tool's
    does), and the worker works through it: a lead in, its mail out, the event deleted."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env({"CHOREOGRAPHER_EMBEDDED_PORT": str(free_port())})
    app = bootstrap(settings)
    harness = Harness(app)
    try:
        with pytest.raises(ParamValidationError):  # a tool's client: botocore refuses it
            tool_client(settings).get_queue_url(QueueName=5)
        with pytest.raises(ClientError):  # the worker's: SQS refuses it, with its error
            app.client.get_queue_url(QueueName=5)
        harness.send(event("lead.created", LEAD_DATA))
        assert harness.worker.run_once() == 1
        [payload] = harness.bodies("mail.queue")
        assert payload["email"] == "ada@example.org"
        assert harness.counts() == (0, 0)
    finally:
        harness.worker.heartbeat.stop()
        app.close()


def test_mail_sent_is_sent_to_notification(harness: Harness) -> None:
    """mail.sent's notification lands on the notification queue."""
    message = event("mail.sent", MAIL_DATA)
    harness.send(message)
    harness.worker.run_once()
    [payload] = harness.bodies("notification.queue")
    assert payload["id"] == message["guid"]
    assert payload["address"] == "ada@example.org"


def test_non_internal_lead_sends_nothing_and_is_deleted(harness: Harness) -> None:
    """A non-internal lead has no available action: nothing is sent, the event is deleted."""
    harness.send(event("lead.created", {**LEAD_DATA, "internal": False}))
    harness.worker.run_once()
    assert harness.receive("mail.queue") == []
    assert harness.counts() == (0, 0)


def test_unknown_event_is_logged_and_deleted(harness: Harness) -> None:
    """An unknown event name is logged (by the logger subscriber) and deleted, not dead-lettered."""
    with capture_logs() as logs:
        harness.send(event("order.shipped", {}))
        harness.worker.run_once()
    assert [entry["event_class"] for entry in logs if entry["event"] == "event_dispatched"] == [
        "InternalEvent"
    ]
    assert harness.receive("dlq") == []
    assert harness.counts() == (0, 0)


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ("{not json", "invalid_json"),
        ("[]", "not_an_object"),
        (json.dumps({"event_name": "lead.created"}), "missing_field"),
        (json.dumps(event("lead.created", {**LEAD_DATA, "email": ""})), "invalid_payload"),
    ],
)
def test_bad_input_is_dead_lettered_intact(harness: Harness, body: str, error_type: str) -> None:
    """Bad input goes to the DLQ byte for byte with its reason, and leaves the events queue."""
    message_id = harness.send(body)
    harness.worker.run_once()
    [letter] = harness.receive("dlq")
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert letter["Body"] == body
    assert attributes["error_type"] == error_type
    assert attributes["error_message"]
    assert attributes["source_message_id"] == message_id
    assert attributes["receive_count"] == "1"
    assert harness.counts() == (0, 0)


def test_failed_send_leaves_the_event_for_a_retry(harness: Harness) -> None:
    """A transient send failure keeps the event (invisible for its backoff), nothing dead-lettered."""
    Faults(harness.client).fail("SendMessageBatch", how="throttle", when=to_queue("/mail"))
    harness.send(event("lead.created", LEAD_DATA))
    with capture_logs() as logs:
        harness.worker.run_once()
    assert harness.receive("mail.queue") == []
    assert harness.receive("dlq") == []
    assert harness.counts() == (0, 1)
    [retry] = [entry for entry in logs if entry["event"] == "event_retry"]
    assert retry["remaining"] == ["lead.created.mail"]
    assert retry["retry_in"] >= 0


def test_receive_failure_is_logged_and_survived(harness: Harness) -> None:
    """When receiving fails the worker logs it, backs off and goes on."""
    Faults(harness.client).fail("ReceiveMessage", how="connection")
    harness.worker._stopping.set()  # make the backoff wait return at once
    with capture_logs() as logs:
        assert harness.worker.run_once() == 0
    assert [entry["event"] for entry in logs] == ["receive_failed"]
    harness.worker._stopping.clear()
    harness.send(event("lead.created", LEAD_DATA))
    assert harness.worker.run_once() == 1


def test_attempts_exhausted_go_to_the_dlq(app: Application) -> None:
    """After max_attempts failed attempts the event is dead-lettered with the last error."""
    harness = Harness(with_settings(app, max_attempts=1))
    Faults(harness.client).fail("SendMessageBatch", how="5xx", when=to_queue("/mail"))
    harness.send(event("lead.created", LEAD_DATA))
    harness.worker.run_once()
    [letter] = harness.receive("dlq")
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["error_type"] == "attempts_exhausted"
    assert "InternalError" in attributes["error_message"]
    assert harness.counts() == (0, 0)


def test_stop_releases_messages_received_after_it(harness: Harness) -> None:
    """Messages received once stopping are made visible again at once, not processed."""
    harness.send(event("lead.created", LEAD_DATA))
    harness.worker.stop()
    messages = harness.worker.queue.get_messages(10, 0)
    harness.worker.release(messages)
    assert harness.counts() == (1, 0)
    assert harness.receive("mail.queue") == []
