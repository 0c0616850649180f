"""Logs fit for production: personal data redacted, correlation ids on every line."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import structlog
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.config import Settings
from briefy.choreographer.logging import configure_logging, correlation
from briefy.choreographer.redaction import REDACTED, Redactor
from briefy.choreographer.worker import Worker
from tests.faults import Faults, to_queue
from tests.support import LEAD_DATA, event


def redacted(**fields: Any) -> dict[str, Any]:
    return dict(Redactor()(None, "info", dict(fields)))


class Rendered:
    """structlog configured by ``configure_logging`` into memory; the lines as JSON."""

    def __init__(self, settings: Settings, worker: str = "") -> None:
        self.stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        configure_logging(settings, self.stream, worker=worker)
        self.log = structlog.get_logger("test")  # a fresh logger: module loggers stay uncached

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.buffer.getvalue().splitlines()]  # type: ignore[attr-defined]

    def text(self) -> str:
        return self.stream.buffer.getvalue().decode()  # type: ignore[attr-defined]


PRODUCTION = Settings(mode="production")
#: Log lines about one SQS call of a batch rather than about an event.
BATCH_LINES = {"send_batch_failed", "queue_call_failed", "delete_failed", "messages_released", "batch_done"}


def test_personal_keys_are_redacted_in_any_case_and_depth() -> None:
    """Names and e-mails are hidden under any key case, inside dicts and lists."""
    out = redacted(payload={"FULLNAME": "Ada", "data": [{"Email": "ada@example.org", "category": "other"}]})
    assert out["payload"] == {"FULLNAME": REDACTED, "data": [{"Email": REDACTED, "category": "other"}]}


def test_empty_personal_values_stay_visible() -> None:
    """An empty name is shown as empty: that it is missing is worth knowing."""
    assert redacted(fullname="", email=None) == {"fullname": "", "email": None}


def test_json_text_is_redacted_inside() -> None:
    """A logged message body (JSON text) has its personal fields hidden."""
    body = json.dumps(
        {"event_name": "lead.created", "data": {"fullname": "Ada Lovelace", "email": "a@b.org"}}
    )
    out = json.loads(redacted(body=body)["body"])
    assert out == {"event_name": "lead.created", "data": {"fullname": REDACTED, "email": REDACTED}}


def test_emails_in_free_text_are_redacted() -> None:
    """E-mail addresses quoted in error messages are replaced."""
    reason = "cannot mail 'ada.lovelace+x@example.co.uk' today"
    assert redacted(reason=reason)["reason"] == f"cannot mail '{REDACTED}' today"


def test_other_fields_are_left_alone() -> None:
    """Ids, queue names and counts pass through unchanged."""
    fields = {"event_id": "e1", "queue": "mail.queue", "count": 3, "broken": "{not json"}
    assert redacted(**fields) == fields


def test_production_logs_are_redacted_by_default() -> None:
    """In production mode a payload logged by anyone shows no names or e-mails."""
    out = Rendered(PRODUCTION)
    out.log.info("payload_seen", payload={"fullname": "Ada Lovelace", "email": "ada@example.org"})
    [line] = out.lines()
    assert line["payload"] == {"fullname": REDACTED, "email": REDACTED}


def test_a_named_worker_is_named_on_every_line() -> None:
    """Configured with a worker name (``--processes N``), every line carries it; without one, none."""
    out = Rendered(Settings(log_format="json"), worker="2/3 pid 4242")
    out.log.info("worker_started")
    out.log.warning("receive_failed", error="Throttling")
    assert [line["worker"] for line in out.lines()] == ["2/3 pid 4242"] * 2
    alone = Rendered(Settings(log_format="json"))
    alone.log.info("worker_started")
    assert "worker" not in alone.lines()[0]


def test_library_lines_take_the_same_form_redacted_and_named() -> None:
    """A line the standard library's logging writes (botocore, waitress) comes out as the
    worker's own do: JSON in production, personal data redacted, the worker named."""
    out = Rendered(PRODUCTION, worker="1/2 pid 77")
    logging.getLogger("botocore.hooks").error("retry for %s failed", "ada@example.org")
    [line] = out.lines()
    assert line["event"] == "retry for [redacted] failed"
    assert (line["logger"], line["level"], line["worker"]) == ("botocore.hooks", "error", "1/2 pid 77")
    assert "timestamp" in line
    assert "ada@example.org" not in out.text()


def test_configuring_again_replaces_the_library_handler() -> None:
    """configure_logging called twice leaves one handler of its own on the root logger: a
    library line is written once, to the latest stream."""
    first = Rendered(PRODUCTION)
    second = Rendered(PRODUCTION)
    logging.getLogger("waitress").error("too many connections")
    assert first.lines() == []
    assert [line["event"] for line in second.lines()] == ["too many connections"]


def test_development_logs_are_not_redacted_by_default() -> None:
    """In development mode the data is shown as it is (so the test above can fail)."""
    out = Rendered(Settings(mode="development", log_format="json"))
    out.log.info("payload_seen", payload={"email": "ada@example.org"})
    assert out.lines()[0]["payload"] == {"email": "ada@example.org"}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"CHOREOGRAPHER_MODE": "production"}, True),
        ({"CHOREOGRAPHER_MODE": "production", "CHOREOGRAPHER_REDACT": "false"}, False),
        ({"CHOREOGRAPHER_REDACT": "on"}, True),
        ({}, False),
    ],
)
def test_redaction_follows_the_mode_unless_set(environ: dict[str, str], expected: bool) -> None:
    """CHOREOGRAPHER_REDACT overrides the mode's default (on in production)."""
    assert Settings.from_env(environ).redact_personal_data is expected


def test_tracebacks_show_no_locals_or_emails_when_redacting() -> None:
    """An exception logged in production carries neither frame locals nor e-mails from its message."""
    out = Rendered(PRODUCTION)

    def transform(data: dict[str, str]) -> None:
        fullname = data["fullname"]
        raise ValueError(f"cannot mail {data['email']} ({len(fullname)})")

    try:
        transform({"fullname": "Ada Lovelace", "email": "ada@example.org"})
    except ValueError:
        out.log.exception("handler_failed")
    text = out.text()
    assert "Ada Lovelace" not in text and "ada@example.org" not in text
    [line] = out.lines()
    assert line["exception"][0]["exc_type"] == "ValueError"
    assert line["exception"][0]["frames"][-1]["name"] == "transform"


def test_console_tracebacks_are_redacted_too() -> None:
    """With redaction asked for in console mode, the formatted traceback is scrubbed."""
    stream = io.StringIO()
    configure_logging(Settings(mode="development", log_format="console", redact=True), stream)
    try:
        raise ValueError("bad address ada@example.org")
    except ValueError:
        structlog.get_logger("test").exception("handler_failed")
    assert "ada@example.org" not in stream.getvalue() and REDACTED in stream.getvalue()


def test_correlation_ids_of_an_event() -> None:
    """The ids that tie a log line to its event; none for a body that did not parse."""
    from briefy.choreographer.events import parse_event

    message = parse_event(json.dumps(event("lead.created", LEAD_DATA, request_id="r-1", id="e-1")))
    assert correlation(message) == {"event_id": "e-1", "guid": message.guid, "request_id": "r-1"}
    assert correlation(None) == {}


def worker_logs(app: Application, body: dict[str, Any], faults: str | None = None) -> list[dict[str, Any]]:
    """The log lines (with the bound context merged) of one worker turn on ``body``."""
    worker = Worker(app)
    if faults:
        Faults(app.client).fail("SendMessageBatch", how=faults, when=to_queue("/mail"))
    app.client.send_message(QueueUrl=app.events.url, MessageBody=json.dumps(body))  # type: ignore[union-attr]
    # The processor configure_logging puts first: structlog's context.
    with capture_logs(processors=[merge_contextvars]) as logs:
        worker.run_once()
    return logs


@pytest.mark.parametrize(
    ("data", "faults", "last"),
    [
        (LEAD_DATA, None, "event_done"),
        (LEAD_DATA, "throttle", "event_retry"),
        ({**LEAD_DATA, "email": ""}, None, "event_dead_lettered"),
    ],
)
def test_every_worker_line_of_an_event_carries_its_request_id(
    app: Application, data: dict[str, Any], faults: str | None, last: str
) -> None:
    """Done, retried or dead-lettered: each log line about the event names its request_id."""
    body = event("lead.created", data)
    logs = worker_logs(app, body, faults)
    about = [line for line in logs if line.get("event_id") == body["id"]]
    assert last in {line["event"] for line in about}
    assert {line["request_id"] for line in about} == {body["request_id"]}
    # Only lines about a whole SQS call (which may span many events) name no event.
    assert {line["event"] for line in logs if "event_id" not in line} <= BATCH_LINES


def test_outputs_carry_the_request_id(app: Application) -> None:
    """The output message has the event's request_id in its body and its attributes."""
    body = event("lead.created", LEAD_DATA)
    worker_logs(app, body)
    mail_url = app.queues["mail.queue"].url
    [message] = app.client.receive_message(QueueUrl=mail_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["request_id"] == body["request_id"]
    assert message["MessageAttributes"]["request_id"]["StringValue"] == body["request_id"]
