"""``choreographer dry-run`` in-process: the report, its JSON, its exit codes; nothing sent."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.cli import main
from briefy.choreographer.cli.dryrun import report
from briefy.choreographer.config import Settings
from tests.support import LEAD_DATA, MAIL_DATA, event

Capture = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _default_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read default settings, whatever the test runner's environment holds."""
    for name in [n for n in os.environ if n.startswith("CHOREOGRAPHER_")]:
        monkeypatch.delenv(name)


def dry_run(tmp_path: Path, message: Any, *options: str) -> int:
    """Run `choreographer dry-run FILE` in-process on ``message``; return the exit code."""
    path = tmp_path / "event.json"
    path.write_text(json.dumps(message))
    return main(["dry-run", str(path), *options])


def test_internal_lead_report(registry: Any, tmp_path: Path, capsys: Capture) -> None:
    """The text report names handlers in run order, the action, its queue, schema and payload."""
    message = event("lead.created", LEAD_DATA)
    code = dry_run(tmp_path, message)
    out = capsys.readouterr().out
    assert code == 0
    assert out.index("1. logger.handler") < out.index("2. LeadHandler")
    assert "1. lead.created.mail  weight 100  ->  mail.queue (SQS queue mail)" in out
    assert "available  yes (Only internal leads get the mail)" in out
    assert "schema     valid" in out
    assert '"FULLNAME": "Ada Lovelace"' in out
    assert "would send 1 message(s)" in out and "Nothing was sent (dry run)." in out


def test_json_report_has_the_payload_the_worker_would_send(
    registry: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json gives every action with its order, queue, availability, validity and payload."""
    message = event("mail.sent", MAIL_DATA)
    code = dry_run(tmp_path, message, "--json")
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["ok"] and result["outcome"] == "send"
    [action] = result["actions"]
    assert {k: action[k] for k in ("order", "action", "queue", "sqs_queue", "available", "valid")} == {
        "order": 1,
        "action": "mail.sent.notification",
        "queue": "notification.queue",
        "sqs_queue": "notification",
        "available": True,
        "valid": True,
    }
    assert action["payload"]["id"] == message["guid"] and action["payload"]["address"] == "ada@example.org"
    assert result["event_id"] == message["id"] and result["request_id"] == message["request_id"]


def test_unavailable_action_is_skipped(
    registry: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lead that is not internal: the action is listed as not available, nothing to send, exit 0."""
    code = dry_run(tmp_path, event("lead.created", {**LEAD_DATA, "internal": False}))
    out = capsys.readouterr().out
    assert code == 0
    assert "available  no (Only internal leads get the mail): skipped, nothing sent" in out
    assert "nothing to send" in out


def test_rejected_payload_exits_1(registry: Any, tmp_path: Path, capsys: Capture) -> None:
    """A payload the queue's schema rejects is reported with the reason; the worker would dead-letter."""
    code = dry_run(tmp_path, event("lead.created", {**LEAD_DATA, "email": ""}))
    out = capsys.readouterr().out
    assert code == 1
    assert "schema     REJECTED: lead.created.mail: mail.queue: data.email" in out
    assert "would dead-letter the event" in out


def test_bad_input_from_stdin_exits_1(
    registry: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-` reads stdin; a body that is not JSON is bad input, with its error type."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"{broken")))
    assert main(["dry-run", "-"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("bad input (invalid_json): body is not JSON")


def test_missing_file_is_a_usage_error(
    registry: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that cannot be read exits 2 with the reason on stderr."""
    assert main(["dry-run", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_unknown_event_is_only_logged(
    registry: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unregistered name is made an InternalEvent: the logger only, no actions, exit 0."""
    code = dry_run(tmp_path, event("order.shipped", {}))
    out = capsys.readouterr().out
    assert code == 0
    assert "InternalEvent (no event is registered under this name: it is only logged)" in out
    assert "actions: none" in out


def test_event_without_id_says_the_worker_derives_one(registry: Any) -> None:
    """With no id in the body, the report says so rather than showing a made-up one."""
    message = event("lead.created", LEAD_DATA)
    del message["id"]
    assert report(json.dumps(message).encode(), Settings())["event_id"] is None


def test_nothing_is_sent(app: Application) -> None:
    """A dry run against bound queues leaves every output queue empty."""
    report(json.dumps(event("lead.created", LEAD_DATA)).encode(), app.settings)
    report(json.dumps(event("mail.sent", MAIL_DATA)).encode(), app.settings)
    for queue in app.queues.values():
        attributes = app.client.get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0", queue.name
