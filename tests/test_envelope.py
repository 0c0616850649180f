"""The event message: what is accepted and how bad input is named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import parse_event
from tests.support import event


def body(**changes: Any) -> str:
    message = event("lead.created")
    for key, value in changes.items():
        if value is ...:
            del message[key]
        else:
            message[key] = value
    return json.dumps(message)


def test_a_full_message_parses() -> None:
    """A message with every field becomes an EventMessage with those values."""
    raw = event("lead.created")
    parsed = parse_event(json.dumps(raw))
    assert (parsed.event_name, parsed.guid, parsed.id) == (raw["event_name"], raw["guid"], raw["id"])
    assert parsed.request_id == raw["request_id"]
    assert parsed.created_at.year == 2026
    assert parsed.data == raw["data"]


def test_missing_id_is_derived_from_the_fallback() -> None:
    """Without an id the event id is derived from the SQS MessageId: the same on every delivery."""
    first = parse_event(body(id=...), fallback_id="sqs-1")
    again = parse_event(body(id=...), fallback_id="sqs-1")
    other = parse_event(body(id=...), fallback_id="sqs-2")
    assert first.id == again.id != other.id


def test_a_carried_event_id_is_kept() -> None:
    """A derived id carried to a later attempt (envelope, redrive) is the event id again, not rehashed."""
    first = parse_event(body(id=...), fallback_id="2b0f3a56-77c1-4f27-9d0c-6f1b1c3a9e10")
    assert parse_event(body(id=...), fallback_id=first.id).id == first.id


def test_optional_fields_default_to_empty_text() -> None:
    """Absent or null actor and request_id become empty strings."""
    parsed = parse_event(body(actor=..., request_id=None))
    assert (parsed.actor, parsed.request_id) == ("", "")


@pytest.mark.parametrize(
    ("raw", "error_type"),
    [
        ("not json", "invalid_json"),
        ("", "invalid_json"),
        ("[1, 2]", "not_an_object"),
        ('"text"', "not_an_object"),
        ("null", "not_an_object"),
        ("[" * 5000 + "]" * 5000, "invalid_json"),
        (body(event_name=...), "missing_field"),
        (body(event_name=None), "missing_field"),
        (body(event_name=""), "wrong_type"),
        (body(event_name=7), "wrong_type"),
        (body(guid=...), "missing_field"),
        (body(guid=["x"]), "wrong_type"),
        (body(created_at=...), "missing_field"),
        (body(created_at=1732800000), "wrong_type"),
        (body(created_at="yesterday"), "invalid_datetime"),
        (body(created_at="2026-02-30T00:00:00Z"), "invalid_datetime"),
        (body(created_at="2026-11-28"), "invalid_datetime"),
        (body(data=...), "missing_field"),
        (body(data=None), "missing_field"),
        (body(data=[1]), "wrong_type"),
        (body(data="{}"), "wrong_type"),
        (body(id=5), "wrong_type"),
        (body(request_id={"a": 1}), "wrong_type"),
    ],
)
def test_bad_input_is_named(raw: str, error_type: str) -> None:
    """Each kind of bad input raises BadInput with its reason."""
    with pytest.raises(BadInput) as caught:
        parse_event(raw)
    assert caught.value.error_type == error_type
    assert caught.value.message


def test_bad_input_keeps_a_known_event_name() -> None:
    """When the event name was readable, the error carries it."""
    with pytest.raises(BadInput) as caught:
        parse_event(body(data=[1]))
    assert caught.value.event_name == "lead.created"


@pytest.mark.parametrize(
    ("created_at", "reason"),
    [
        ("2026-11-28", "field 'created_at' is a date without a time"),
        ("ada@example.org", "field 'created_at' is not an ISO 8601 date-time"),
        ("2026-02-30T00:00:00Z", "field 'created_at' is not an ISO 8601 date-time"),
    ],
)
def test_a_bad_date_time_is_named_without_quoting_it(created_at: str, reason: str) -> None:
    """A date alone is called a date without a time; anything else that does not parse is not a
    date-time; neither reason quotes the producer's text."""
    with pytest.raises(BadInput) as caught:
        parse_event(body(created_at=created_at))
    assert caught.value.message == reason
