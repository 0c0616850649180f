"""Envelopes: event messages that arrive wrapped by SNS or EventBridge, and their unwrapping.

The events queue may be fed directly, by an SNS topic subscription or by an
EventBridge rule whose target is the queue:

- direct, and SNS with raw message delivery: the body is the event message;
- an SNS notification (raw delivery off): the body is SNS's JSON envelope, whose
  ``Message`` (JSON text) is the event message and whose ``MessageAttributes``
  count as the message's attributes (so a ``traceparent`` published to SNS is seen);
- an EventBridge event: its ``detail`` is the event message, which takes a missing
  ``event_name`` from ``detail-type``, ``created_at`` from ``time`` and ``id`` from
  the EventBridge event's ``id``.

Only a document without ``event_name`` is looked at as an envelope: every event
message has one, and neither envelope does, so a direct event pays one lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from briefy.choreographer.errors import BadInput
from briefy.choreographer.events.jsontext import load_json

SNS = "sns"
EVENTBRIDGE = "eventbridge"
#: The SNS message type that carries a published message; the others (subscription
#: confirmations...) carry no event.
NOTIFICATION = "Notification"
#: Other SNS message types, named in reasons (any other type is not quoted: it is the
#: producer's text).
OTHER_SNS_TYPES = ("SubscriptionConfirmation", "UnsubscribeConfirmation")
#: SNS attribute types whose ``Value`` is text (``Binary`` values are base64 and not read).
_TEXT_TYPES = ("String", "Number", "String.Array")


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the envelope of an event message said about it."""

    #: ``sns`` or ``eventbridge``.
    kind: str
    #: Where it came from: the SNS topic ARN, or the EventBridge ``source``.
    origin: str
    #: The envelope's own id: the SNS ``MessageId`` or the EventBridge ``id``.
    message_id: str = ""
    #: The SNS notification's ``MessageAttributes`` with text values (EventBridge has none).
    attributes: Mapping[str, str] = field(default_factory=dict)


def unwrap(document: Mapping[str, Any]) -> tuple[Any, Envelope | None]:
    """The event message ``document`` holds and its envelope; ``(document, None)`` when it
    is no envelope. Raises ``BadInput`` (its ``envelope`` set) for an envelope that holds
    no event message."""
    kind, origin = document.get("Type"), document.get("TopicArn")
    if isinstance(kind, str) and isinstance(origin, str):
        return _sns(document, kind, origin)
    detail_type, source = document.get("detail-type"), document.get("source")
    if isinstance(detail_type, str) and isinstance(source, str) and "detail" in document:
        return _eventbridge(document, detail_type, source)
    return document, None


def describe(document: Any) -> Envelope | None:
    """The envelope of a parsed body, if it is one (no checks of what it holds): for the
    tools that show a message as it came."""
    if not isinstance(document, Mapping) or "event_name" in document:
        return None
    try:
        return unwrap(document)[1]
    except BadInput as error:
        found: Envelope | None = error.envelope
        return found


def inner_event_name(document: Any) -> str:
    """The event name an envelope's message gives, when it can be read without checks."""
    if not isinstance(document, Mapping):
        return ""
    name: Any = None
    if isinstance(document.get("detail"), Mapping):
        name = document["detail"].get("event_name") or document.get("detail-type")
    elif isinstance(document.get("Message"), str):
        try:
            inner = load_json(document["Message"])
        except BadInput:
            return ""
        name = inner.get("event_name") if isinstance(inner, Mapping) else None
    return name if isinstance(name, str) else ""


def _sns(document: Mapping[str, Any], kind: str, topic: str) -> tuple[Any, Envelope]:
    message_id = document.get("MessageId")
    envelope = Envelope(SNS, topic, message_id if isinstance(message_id, str) else "", _attributes(document))
    if kind != NOTIFICATION:
        named = f"an SNS {kind} message" if kind in OTHER_SNS_TYPES else "an SNS message of another type"
        raise _bad(
            "unsupported_envelope", f"{named} carries no event (only Notification messages do)", envelope
        )
    message = document.get("Message")
    if message is None:
        raise _bad("missing_field", "the SNS notification has no Message", envelope)
    if not isinstance(message, str):
        raise _bad("wrong_type", "the SNS notification's Message must be JSON text", envelope)
    try:
        return load_json(message), envelope
    except BadInput as error:
        raise _bad(error.error_type, f"the SNS notification's Message: {error.message}", envelope) from None


def _eventbridge(document: Mapping[str, Any], detail_type: str, source: str) -> tuple[Any, Envelope]:
    event_id = document.get("id")
    envelope = Envelope(EVENTBRIDGE, source, event_id if isinstance(event_id, str) else "")
    detail = document["detail"]
    if detail is None:
        raise _bad("missing_field", "the EventBridge event's detail is missing", envelope)
    if not isinstance(detail, dict):
        raise _bad("not_an_object", "the EventBridge event's detail is not a JSON object", envelope)
    defaults = {"event_name": detail_type, "created_at": document.get("time"), "id": event_id}
    missing = {key: value for key, value in defaults.items() if detail.get(key) is None and value is not None}
    return ({**detail, **missing} if missing else detail), envelope


def _attributes(document: Mapping[str, Any]) -> dict[str, str]:
    """The text values of an SNS notification's ``MessageAttributes``."""
    found = document.get("MessageAttributes")
    if not isinstance(found, Mapping):
        return {}
    attributes = {}
    for name, attribute in found.items():
        if isinstance(attribute, Mapping) and attribute.get("Type") in _TEXT_TYPES:
            value = attribute.get("Value")
            if isinstance(name, str) and isinstance(value, str):
                attributes[name] = value
    return attributes


def _bad(error_type: str, message: str, envelope: Envelope) -> BadInput:
    error = BadInput(error_type, message)
    error.envelope = envelope
    return error
