"""SNS notifications and EventBridge events: unwrapped into the event message, or named as bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from briefy.choreographer.admin.deadletters import DeadLetter
from briefy.choreographer.bootstrap import Application
from briefy.choreographer.cli.dryrun import render, report
from briefy.choreographer.config import Settings
from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import parse_event
from briefy.choreographer.events.envelopes import describe, inner_event_name
from briefy.choreographer.pipeline.state import RetryState
from briefy.choreographer.site import load_site
from briefy.choreographer.worker import Worker
from briefy.common.queue.message import SQSMessage
from tests.aws import EVENT_SOURCE, TOPIC_ARN, eventbridge_event, sns_notification
from tests.support import LEAD_DATA, TEST_SEAL, event


def detail(**changes: Any) -> dict[str, Any]:
    """An event message as an EventBridge detail: name, time and id left to the envelope."""
    message = event("lead.created", LEAD_DATA)
    for key in ("event_name", "created_at", "id"):
        del message[key]
    message.update(changes)
    return message


def test_an_sns_notification_is_unwrapped() -> None:
    """The notification's Message is the event; the envelope names SNS, the topic and its attributes."""
    raw = event("lead.created", LEAD_DATA)
    body = sns_notification(raw, {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
    parsed = parse_event(body, "sqs-id")
    assert (parsed.event_name, parsed.guid, parsed.id, parsed.data) == (
        "lead.created",
        raw["guid"],
        raw["id"],
        raw["data"],
    )
    assert parsed.envelope is not None
    assert (parsed.envelope.kind, parsed.envelope.origin) == ("sns", TOPIC_ARN)
    assert parsed.envelope.message_id == json.loads(body)["MessageId"]
    assert parsed.envelope.attributes == {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    assert parsed.body == body


def test_a_notification_without_an_id_takes_one_from_the_sns_message_id() -> None:
    """Two deliveries of one notification (different SQS ids) are one event; a carried id is kept."""
    raw = event("lead.created", LEAD_DATA)
    del raw["id"]
    body = sns_notification(raw)
    first, again = parse_event(body, "sqs-1"), parse_event(body, "sqs-2")
    assert first.id == again.id
    assert first.id != parse_event(json.dumps(raw), "sqs-1").id
    assert parse_event(body, fallback_id=first.id).id == first.id


def test_an_eventbridge_event_is_unwrapped_with_its_defaults() -> None:
    """detail is the event; its name, time and id come from detail-type, time and id."""
    body = eventbridge_event(detail())
    envelope = json.loads(body)
    parsed = parse_event(body, "sqs-id")
    assert parsed.event_name == "lead.created"
    assert parsed.created_at.isoformat() == "2026-11-28T12:00:00+00:00"
    assert parsed.id == envelope["id"]
    assert parsed.envelope is not None
    assert (parsed.envelope.kind, parsed.envelope.origin) == ("eventbridge", EVENT_SOURCE)


def test_the_detail_s_own_fields_win_over_the_envelope_s() -> None:
    """A detail that has event_name, created_at and id keeps them."""
    own = detail(event_name="mail.sent", created_at="2026-01-02T03:04:05Z", id="own-id")
    parsed = parse_event(eventbridge_event(own, detail_type="Lead Created"))
    assert (parsed.event_name, parsed.id) == ("mail.sent", "own-id")
    assert parsed.created_at.year == 2026 and parsed.created_at.month == 1


def test_big_integers_inside_a_notification_stay_exact() -> None:
    """An integer beyond 64 bits in the SNS Message reaches the event unchanged."""
    parsed = parse_event(sns_notification(event("lead.created", {**LEAD_DATA, "category": 2**70 + 1})))
    assert parsed.data["category"] == 2**70 + 1


@pytest.mark.parametrize(
    ("body", "error_type", "words"),
    [
        (sns_notification("{not json"), "invalid_json", "SNS notification's Message: body is not JSON"),
        (sns_notification("[1]"), "not_an_object", "not an object"),
        (sns_notification({**event("lead.created", LEAD_DATA), "guid": None}), "missing_field", "'guid'"),
        (sns_notification("{}", Message=7), "wrong_type", "Message must be JSON text"),
        (sns_notification("{}", Message=None), "missing_field", "has no Message"),
        (sns_notification("{}", Type="SubscriptionConfirmation"), "unsupported_envelope", "Subscription"),
        (sns_notification("{}", Type="<script>"), "unsupported_envelope", "of another type"),
        (eventbridge_event(detail(data=None)), "missing_field", "'data'"),
        (eventbridge_event(detail(), time="yesterday"), "invalid_datetime", "created_at"),
        (eventbridge_event([1, 2]), "not_an_object", "detail is not a JSON object"),
        (eventbridge_event(None), "missing_field", "detail is missing"),
    ],
)
def test_a_bad_envelope_is_bad_input_with_its_envelope(body: str, error_type: str, words: str) -> None:
    """The inner message's reason (or unsupported_envelope) is raised, the envelope kept on the error."""
    with pytest.raises(BadInput) as caught:
        parse_event(body)
    assert caught.value.error_type == error_type
    assert words in caught.value.message
    assert caught.value.envelope is not None and caught.value.envelope.origin in (TOPIC_ARN, EVENT_SOURCE)
    assert "<script>" not in caught.value.message


def test_a_plain_body_is_never_taken_for_an_envelope() -> None:
    """A direct event with SNS-like keys is read as it is; one without event_name stays missing_field."""
    direct = parse_event(json.dumps({**event("lead.created", LEAD_DATA), "Type": "x", "TopicArn": "y"}))
    assert direct.envelope is None
    with pytest.raises(BadInput) as caught:
        parse_event(json.dumps({"guid": "g", "created_at": "2026-11-28T12:00:00Z", "data": {}}))
    assert caught.value.error_type == "missing_field" and caught.value.envelope is None


def test_the_tools_read_an_envelope_without_checks() -> None:
    """describe and inner_event_name find the envelope and the event name, even of a bad message."""
    sns = json.loads(sns_notification({"event_name": "lead.created"}))
    bridge = json.loads(eventbridge_event("not an object", detail_type="mail.sent"))
    assert describe(sns) is not None and inner_event_name(sns) == "lead.created"
    assert describe(bridge) is not None and inner_event_name(bridge) == ""
    assert inner_event_name(json.loads(eventbridge_event({}, detail_type="mail.sent"))) == "mail.sent"
    assert describe(event("lead.created", LEAD_DATA)) is None and describe([1]) is None


# -- the worker -----------------------------------------------------------------
def run(app: Application, body: str, **kwargs: Any) -> tuple[Worker, list[dict[str, Any]]]:
    """One worker turn on ``body``, with its log lines (the bound context merged)."""
    worker = Worker(app)
    app.client.send_message(QueueUrl=app.events.url, MessageBody=body, **kwargs)
    with capture_logs(processors=[merge_contextvars]) as logs:
        assert worker.run_once() == 1
    return worker, logs


def received(app: Application, url: str | None) -> list[dict[str, Any]]:
    response = app.client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return list(response.get("Messages", []))


@pytest.mark.parametrize("wrap", [sns_notification, lambda raw: eventbridge_event(raw)])
def test_the_worker_choreographs_a_wrapped_event(app: Application, wrap: Any) -> None:
    """A lead in either envelope reaches the mail queue; every line about it names envelope and origin."""
    raw = event("lead.created", LEAD_DATA)
    worker, logs = run(app, wrap(raw))
    [mail] = received(app, app.queues["mail.queue"].url)
    assert json.loads(mail["Body"])["guid"] == raw["guid"]
    about = [line for line in logs if line.get("guid") == raw["guid"]]
    assert {"event_dispatched", "action_sent"} <= {line["event"] for line in about}
    assert {(line["envelope"], line["origin"]) for line in about} in (
        {("sns", TOPIC_ARN)},
        {("eventbridge", EVENT_SOURCE)},
    )
    envelope = about[0]["envelope"]
    assert worker.metrics.envelopes.labels(envelope)._value.get() == 1


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (sns_notification({**event("lead.created", LEAD_DATA), "created_at": None}), "missing_field"),
        (
            sns_notification("{}", Type="SubscriptionConfirmation", SubscribeURL="https://x"),
            "unsupported_envelope",
        ),
        (eventbridge_event({"guid": "g"}), "missing_field"),
    ],
)
def test_a_bad_envelope_is_dead_lettered_whole(app: Application, body: str, error_type: str) -> None:
    """The dead letter's body is the whole envelope byte for byte; the log line names the envelope."""
    worker, logs = run(app, body)
    [letter] = received(app, app.dead_letters.url)
    assert letter["Body"] == body
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == error_type
    [line] = [line for line in logs if line["event"] == "event_dead_lettered"]
    assert line["envelope"] in ("sns", "eventbridge") and line["origin"] in (TOPIC_ARN, EVENT_SOURCE)
    assert received(app, app.queues["mail.queue"].url) == []
    assert (
        worker.metrics.events_dead_lettered.labels(line["event_name"] or "(none)", error_type)._value.get()
        == 1
    )


def test_state_inside_an_sns_envelope_steers_nothing(app: Application) -> None:
    """Retry state among the SNS MessageAttributes (sealed with the key, or not) is never read."""
    raw = event("lead.created", LEAD_DATA)
    inner = json.dumps(raw)
    forged = TEST_SEAL.attributes(RetryState(("lead.created.mail",), 3, "forged"), inner)
    run(app, sns_notification(inner, {**forged, "choreographer.done": "lead.created.mail"}))
    [mail] = received(app, app.queues["mail.queue"].url)
    assert mail["MessageAttributes"]["event_id"]["StringValue"] == raw["id"]


def test_dry_run_and_dlq_show_name_the_envelope(registry: Any) -> None:
    """dry-run says which envelope it unwrapped; a dead letter shows its envelope and inner event name."""
    result = report(sns_notification(event("lead.created", LEAD_DATA)).encode(), load_site(Settings()))
    assert result["ok"] and result["envelope"]["kind"] == "sns"
    assert f"envelope    sns (topic {TOPIC_ARN}), unwrapped" in render(result)
    assert result["event_id"] is not None
    bad = report(eventbridge_event({"guid": "g"}).encode(), load_site(Settings()))
    assert not bad["ok"] and bad["envelope"]["origin"] == EVENT_SOURCE
    assert f"envelope    eventbridge (source {EVENT_SOURCE})" in render(bad)
    letter = DeadLetter(SQSMessage("m", "r", eventbridge_event({"guid": "g"}, detail_type="lead.created")))
    assert letter.event_name == "lead.created"
    assert letter.as_dict()["envelope"] == {"kind": "eventbridge", "origin": EVENT_SOURCE}
