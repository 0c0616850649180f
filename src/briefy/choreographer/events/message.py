"""The event message: parse and check the body of an ``events`` queue message."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from briefy.choreographer.errors import BadInput
from briefy.choreographer.events.envelopes import Envelope, unwrap
from briefy.choreographer.events.jsontext import load_json

#: Namespace of the ids the choreographer derives (event ids, output ids).
NAMESPACE = uuid.UUID("6f1d3c56-4a53-5b7e-9d0e-5b1f0c6a2e91")

_REQUIRED_TEXT = ("event_name", "guid")
_OPTIONAL_TEXT = ("id", "actor", "request_id")


@dataclass(frozen=True, slots=True)
class EventMessage:
    """A checked event message: the fields of the event message (docs/contract.rst)."""

    event_name: str
    guid: str
    id: str
    actor: str
    request_id: str
    created_at: datetime
    data: Mapping[str, Any]
    body: str
    #: The SNS or EventBridge envelope it came in, if any (``events.envelopes``).
    envelope: Envelope | None = None


def parse_event(body: str | bytes, fallback_id: str = "") -> EventMessage:
    """Parse and check an event message body; raise ``BadInput`` saying what is wrong.

    Numbers are kept exactly: an integer beyond 64 bits stays an integer. A
    ``created_at`` without a time zone is taken to be UTC.

    An absent ``id`` is derived from ``fallback_id`` (the SQS MessageId), so every
    redelivery of one message gets the same event id; a fallback that is such a
    derived id already (carried by a retry envelope or a redriven dead letter) is
    kept as it is.

    A body that is an SNS notification or an EventBridge event is unwrapped first
    (``events.envelopes``): the event message is the one it holds, and an error in
    it is raised with the envelope on it. A notification without an ``id`` gets one
    derived from the SNS MessageId (SNS may deliver one notification twice).
    """
    document = load_json(body)
    if type(document) is not dict or "event_name" in document:
        return _checked(document, body, fallback_id, None)
    document, envelope = unwrap(document)
    if (
        envelope is not None
        and envelope.kind == "sns"
        and envelope.message_id
        and not is_derived(fallback_id)
    ):
        fallback_id = envelope.message_id
    try:
        return _checked(document, body, fallback_id, envelope)
    except BadInput as error:
        error.envelope = envelope
        raise


def _checked(document: Any, body: str | bytes, fallback_id: str, envelope: Envelope | None) -> EventMessage:
    """The checked event message of ``document``, read from ``body``."""
    if not isinstance(document, dict):
        raise BadInput("not_an_object", f"body is a JSON {type(document).__name__}, not an object")
    name = document.get("event_name")
    event_name = name if isinstance(name, str) else ""
    for key in _REQUIRED_TEXT:
        value = document.get(key)
        if value is None:
            raise BadInput("missing_field", f"required field {key!r} is missing", event_name)
        if not isinstance(value, str) or not value.strip():
            raise BadInput("wrong_type", f"field {key!r} must be a non-empty string", event_name)
    for key in _OPTIONAL_TEXT:
        if document.get(key) is not None and not isinstance(document[key], str):
            raise BadInput("wrong_type", f"field {key!r} must be a string", event_name)
    created_at = _created_at(document.get("created_at"), event_name)
    data = document.get("data")
    if data is None:
        raise BadInput("missing_field", "required field 'data' is missing", event_name)
    if not isinstance(data, dict):
        raise BadInput("wrong_type", "field 'data' must be a JSON object", event_name)
    event_id = document.get("id") or derived_id(fallback_id, body)
    return EventMessage(
        event_name=event_name,
        guid=document["guid"],
        id=event_id,
        actor=document.get("actor") or "",
        request_id=document.get("request_id") or "",
        created_at=created_at,
        data=data,
        body=body_text(body),
        envelope=envelope,
    )


def derived_id(fallback_id: str, body: str | bytes) -> str:
    """The id of an event whose body has none: a name-based UUID of ``fallback_id``.

    A fallback that is a name-based UUID already is one derived here before and
    carried to a later attempt (``choreographer.event_id``): hashing it again would
    give the same event a new id, and its outputs new output ids.
    """
    if is_derived(fallback_id):
        return fallback_id
    return str(uuid.uuid5(NAMESPACE, fallback_id or body_text(body)))


def is_derived(event_id: str) -> bool:
    """Whether ``event_id`` has the canonical form of a version 5 UUID (one derived here)."""
    return len(event_id) == 36 and event_id[14] == "5" and event_id.count("-") == 4


def _created_at(value: Any, event_name: str) -> datetime:
    if value is None:
        raise BadInput("missing_field", "required field 'created_at' is missing", event_name)
    if not isinstance(value, str):
        raise BadInput("wrong_type", "field 'created_at' must be an ISO 8601 string", event_name)
    # The value is not quoted in the reason: it is the producer's text, and may be anything.
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(
            "invalid_datetime", "field 'created_at' is not an ISO 8601 date-time", event_name
        ) from None
    if "T" not in value.upper() and " " not in value:
        raise BadInput("invalid_datetime", "field 'created_at' is a date without a time", event_name)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def body_text(body: str | bytes) -> str:
    """The body as text."""
    return body if isinstance(body, str) else body.decode("utf-8", "replace")
