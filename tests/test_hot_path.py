"""The hot path's shortcuts give the same results as the plain ways they replace."""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs
from zope.component import adapter, getGlobalSiteManager
from zope.interface import implementedBy

from briefy.choreographer.actions import Action, output_id
from briefy.choreographer.data.lead import LeadDTO
from briefy.choreographer.events import event_factory, parse_event
from briefy.choreographer.events.envelope import NAMESPACE
from briefy.choreographer.events.lead import ILeadCreated
from briefy.choreographer.logging import (
    REDACTED,
    IsoTimestamp,
    JSONLines,
    bound_context,
    bound_fields,
    merge_bound,
    redact,
)
from briefy.choreographer.outbox import PlanningOutbox
from briefy.choreographer.subscribers.lead import handler as lead_handler
from briefy.choreographer.worker import Worker
from briefy.common.queue.message import OutgoingMessage
from tests.support import LEAD_DATA, MAIL_DATA, event


@pytest.mark.parametrize("action", ["lead.created.mail", "x", "é/ü", ""])
def test_output_id_is_the_uuid5_of_event_and_action(action: str) -> None:
    """output_id computes exactly str(uuid5(NAMESPACE, 'event_id/action'))."""
    for _ in range(50):
        event_id = str(uuid.uuid4())
        assert output_id(event_id, action) == str(uuid.uuid5(NAMESPACE, f"{event_id}/{action}"))


@adapter(LeadDTO, ILeadCreated)
class EarlyAction(Action):
    """A test action that runs before the reference one."""

    weight = 10
    _queue_name = "mail.queue"

    def transform(self) -> dict[str, Any]:
        return {}


def lead_actions() -> list[str]:
    message = parse_event(orjson.dumps(event("lead.created", LEAD_DATA)))
    internal = event_factory(message.event_name)(message, PlanningOutbox())
    return [action.name for action in lead_handler.actions(LeadDTO(internal), internal)]


def test_handler_orderings_follow_registry_changes(registry: Any) -> None:
    """An action registered or removed after a lookup is seen by the next lookup, in weight order."""
    assert lead_actions() == ["lead.created.mail"]
    registry.registerAdapter(EarlyAction, name="lead.created.early")
    assert lead_actions() == ["lead.created.early", "lead.created.mail"]
    getGlobalSiteManager().unregisterAdapter(EarlyAction, name="lead.created.early")
    assert lead_actions() == ["lead.created.mail"]


def test_handler_orderings_are_reused(registry: Any) -> None:
    """The same lookup gives the very same ordering, worked out once."""
    specs = (implementedBy(LeadDTO), ILeadCreated)
    assert lead_handler.factories(*specs) is lead_handler.factories(*specs)
    assert [name for name, _ in lead_handler.factories(*specs)] == ["lead.created.mail"]


def test_redact_replaces_personal_data_at_any_depth() -> None:
    """Personal keys are redacted in the line, in nested dicts and in lists; the rest is kept."""
    line = {
        "event": "x",
        "email": "ada@example.org",
        "fullname": "",
        "payload": {"to_name": "Ada", "items": [{"address": "a@b.c"}, 3]},
        "count": 2,
    }
    assert redact(None, "info", line) == {
        "event": "x",
        "email": REDACTED,
        "fullname": "",
        "payload": {"to_name": REDACTED, "items": [{"address": REDACTED}, 3]},
        "count": 2,
    }


class Opaque:
    """A value JSON cannot hold: rendered with its repr."""

    def __repr__(self) -> str:
        return "Opaque(ada@example.org)"


#: Lines of every shape redaction deals with, and the plain ones it must leave alone.
LINES: list[dict[str, Any]] = [
    {"event": "action_sent", "event_id": "e1", "queue": "mail.queue", "count": 3, "ok": True, "x": None},
    {"event": "x", "email": "ada@example.org", "fullname": "", "phone": None},
    {"event": "x", "FullName": "Ada", "Event_ID": "e1"},
    {"event": "x", "reason": "field 'created_at' is not a date: 'ada@example.org'"},
    {"event": "x", "body": orjson.dumps({"data": {"fullname": "Ada", "n": 1}}).decode()},
    {"event": "x", "body": '  [{"name": "Ada"}]', "other": "{not json"},
    {"event": "x", "payload": {"to_name": "Ada", "items": [{"address": "a b"}, 3]}},
    {"event": "x", "payload": OrderedDict(email="ada"), "tags": ["a", "b"]},
    {"event": "x", "detail": 'said "hello"', "value": Opaque()},
    {"event": "x", "text": "[1, 2]", "name": "Ada Lovelace", "ratio": 0.5},
]


@pytest.mark.parametrize("line", LINES)
def test_json_lines_redact_as_the_redact_processor_does(line: dict[str, Any]) -> None:
    """The production renderer's quick check never lets through what ``redact`` would change."""
    expected = redact(None, "info", {**line, "level": "info"})
    rendered = orjson.loads(JSONLines(redacting=True)(None, "info", dict(line)))
    del rendered["timestamp"]
    assert rendered == orjson.loads(orjson.dumps(expected, default=repr))
    assert "@" not in orjson.dumps(rendered).decode()


def test_json_lines_without_redaction_keep_everything() -> None:
    """With redaction off the line is rendered as given, level and timestamp added."""
    line = {"event": "x", "email": "ada@example.org", "body": '{"fullname": "Ada"}'}
    rendered = orjson.loads(JSONLines(redacting=False)(None, "warning", dict(line)))
    assert rendered == {**line, "level": "warning", "timestamp": rendered["timestamp"]}


def test_json_lines_add_bound_fields_without_overriding_the_line() -> None:
    """Fields bound for the block reach the line; a field the line sets wins."""
    with bound_context(event_id="bound", guid="g"):
        rendered = orjson.loads(JSONLines(redacting=True)(None, "info", {"event": "x", "event_id": "own"}))
    assert (rendered["event_id"], rendered["guid"]) == ("own", "g")


@pytest.mark.parametrize(
    ("body", "attributes"),
    [
        ("{}", {}),
        ('{"a": "plain"}', {"event_id": "e1", "request_id": ""}),
        ('{"name": "Zoë 北京"}', {"action": "ünïcode", "empty": "", "emoji": "🎉"}),
    ],
)
def test_message_size_counts_utf8_bytes(body: str, attributes: dict[str, str]) -> None:
    """size() is the UTF-8 bytes of the body and of each sent attribute's name, value and type."""
    sent = {k: v for k, v in attributes.items() if v}
    expected = len(body.encode()) + sum(len((k + v + "String").encode()) for k, v in sent.items())
    assert OutgoingMessage(body, attributes).size() == expected


def test_redact_looks_into_mapping_subclasses() -> None:
    """A value of a dict subclass is not taken for a plain one: its personal data is redacted."""
    line = {"event": "x", "payload": OrderedDict(email="ada@example.org")}
    assert redact(None, "info", line)["payload"] == {"email": REDACTED}


def test_timestamps_are_iso_utc_to_the_microsecond() -> None:
    """Each line gets the current UTC time as ISO 8601 with microseconds and a Z."""
    stamp = IsoTimestamp()
    before = datetime.now(UTC)
    first = stamp(None, "info", {})["timestamp"]
    second = stamp(None, "info", {})["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first)
    when = datetime.fromisoformat(first.replace("Z", "+00:00"))
    assert abs((when - before).total_seconds()) < 5
    assert second >= first


def test_bound_context_binds_for_the_block_and_restores() -> None:
    """Fields are bound inside the block (nested blocks add to outer ones); earlier ones come back."""
    with bound_context(event_id="outer", guid="g"):
        with bound_context(event_id="inner"):
            assert bound_fields() == {"event_id": "inner", "guid": "g"}
        assert bound_fields() == {"event_id": "outer", "guid": "g"}
    assert bound_fields() == {}


def test_bound_fields_reach_lines_without_overriding_them() -> None:
    """merge_bound adds the bound fields to a line; what the line sets itself wins."""
    with bound_context(event_id="bound", guid="g"):
        line = merge_bound(None, "info", {"event": "x", "event_id": "explicit"})
    assert line == {"event": "x", "event_id": "explicit", "guid": "g"}


def test_info_logging_is_a_line_per_event_and_per_action(app: Any) -> None:
    """A batch logs one INFO line per event and per action sent, and its summary at DEBUG."""
    worker = Worker(app.events, app.settings, app.dead_letters)
    messages = [
        event("lead.created", LEAD_DATA),
        event("mail.sent", MAIL_DATA),
        event("lead.created", LEAD_DATA),
    ]
    for message in messages:
        app.client.send_message(QueueUrl=app.events.url, MessageBody=orjson.dumps(message).decode())
    with capture_logs() as logs:
        assert worker.run_once() == 3
    info = [line["event"] for line in logs if line["log_level"] == "info"]
    assert sorted(info) == ["action_sent"] * 3 + ["event_dispatched"] * 3
    [summary] = [line for line in logs if line["event"] == "batch_done"]
    assert summary["log_level"] == "debug" and summary["received"] == 3


def test_a_derived_event_id_is_the_uuid5_of_the_message_id() -> None:
    """An event without an id gets exactly str(uuid5(NAMESPACE, sqs_message_id)), kept when carried again."""
    from briefy.choreographer.events.envelope import derived_id

    message_id = str(uuid.uuid4())
    first = derived_id(message_id, "{}")
    assert first == str(uuid.uuid5(NAMESPACE, message_id))
    assert derived_id(first, "{}") == first
