"""``choreographer dry-run`` in-process: the report, its text, reading the event; nothing sent."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.cli.common import CommandError
from briefy.choreographer.cli.dryrun import read, render, report
from briefy.choreographer.config import Settings
from briefy.choreographer.site import load_site
from tests.support import LEAD_DATA, MAIL_DATA, event


def dry_run(message: Any, settings: Settings | None = None) -> tuple[dict[str, Any], str]:
    """The dry run of ``message``: the JSON report and its text."""
    result = report(json.dumps(message).encode(), load_site(settings or Settings()))
    return result, render(result)


def test_internal_lead_report(registry: Any) -> None:
    """The text report names handlers in run order, the action, its queue, schema and payload."""
    result, out = dry_run(event("lead.created", LEAD_DATA))
    assert result["ok"]
    assert out.index("1. logger.handler") < out.index("2. LeadHandler")
    assert "1. lead.created.mail  weight 100  ->  mail.queue (SQS queue mail)" in out
    assert "available  yes (Only internal leads get the mail)" in out
    assert "schema     valid" in out
    assert '"FULLNAME": "Ada Lovelace"' in out
    assert "would send 1 message(s)" in out and "Nothing was sent (dry run)." in out


def test_json_report_has_the_payload_the_worker_would_send(registry: Any) -> None:
    """The report gives every action with its order, queue, availability, validity and payload."""
    message = event("mail.sent", MAIL_DATA)
    result, _ = dry_run(message, Settings(queue_names={"CHOREOGRAPHER_NOTIFICATION_QUEUE": "acme-notes"}))
    result = json.loads(json.dumps(result))  # what --json prints
    assert result["ok"] and result["outcome"] == "send"
    [action] = result["actions"]
    assert {k: action[k] for k in ("order", "action", "queue", "sqs_queue", "available", "valid")} == {
        "order": 1,
        "action": "mail.sent.notification",
        "queue": "notification.queue",
        "sqs_queue": "acme-notes",
        "available": True,
        "valid": True,
    }
    assert action["payload"]["id"] == message["guid"] and action["payload"]["address"] == "ada@example.org"
    assert result["event_id"] == message["id"] and result["request_id"] == message["request_id"]


def test_unavailable_action_is_skipped(registry: Any) -> None:
    """A lead that is not internal: the action is listed as not available, nothing to send."""
    result, out = dry_run(event("lead.created", {**LEAD_DATA, "internal": False}))
    assert result["ok"] and result["outcome"] == "log_only"
    assert "available  no (Only internal leads get the mail): skipped, nothing sent" in out
    assert "nothing to send" in out


def test_rejected_payload_is_not_ok(registry: Any) -> None:
    """A payload the queue's schema rejects is reported with the reason; the worker would dead-letter."""
    result, out = dry_run(event("lead.created", {**LEAD_DATA, "email": ""}))
    assert not result["ok"] and result["outcome"] == "dead_letter"
    assert "schema     REJECTED: lead.created.mail: mail.queue: data.email" in out
    assert "would dead-letter the event" in out


def test_bad_input_is_reported_with_its_error_type(registry: Any) -> None:
    """A body that is not JSON is bad input, with its error type; nothing else is reported."""
    result = report(b"{broken", load_site(Settings()))
    assert (result["ok"], result["error_type"], result["actions"]) == (False, "invalid_json", [])
    assert render(result).startswith("bad input (invalid_json): body is not JSON")


def test_stdin_is_read_for_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`-` reads the event from stdin."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"a": 1}')))
    assert read("-") == b'{"a": 1}'


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    """A file that cannot be read stops the command with exit code 2 and the reason."""
    with pytest.raises(CommandError) as caught:
        read(str(tmp_path / "nope.json"))
    assert caught.value.code == 2 and "cannot read" in str(caught.value)


def test_unknown_event_is_only_logged(registry: Any) -> None:
    """An unregistered name is made an InternalEvent: the logger only, no actions."""
    result, out = dry_run(event("order.shipped", {}))
    assert result["ok"] and not result["known"]
    assert "InternalEvent (no event is registered under this name: it is only logged)" in out
    assert "actions: none" in out


def test_event_without_id_says_the_worker_derives_one(registry: Any) -> None:
    """With no id in the body, the report says so rather than showing a made-up one."""
    message = event("lead.created", LEAD_DATA)
    del message["id"]
    assert report(json.dumps(message).encode(), load_site(Settings()))["event_id"] is None


def test_nothing_is_sent(app: Application) -> None:
    """A dry run against bound queues leaves every output queue empty."""
    report(json.dumps(event("lead.created", LEAD_DATA)).encode(), app.site)
    report(json.dumps(event("mail.sent", MAIL_DATA)).encode(), app.site)
    for queue in app.queues.values():
        attributes = app.client.get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0", queue.name
