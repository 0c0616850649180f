"""The choreography as an AsyncAPI 3.0.0 document, made from the registry and the settings.

The document describes the choreographer as the application: it *receives*
event messages on the events queue (one message per registered event name, with
its ``data_schema`` where the event class declares one), *sends* each action's
payload to the action's output queue (the payload schema is the queue's schema,
the output attributes are the message's headers) and *sends* bad input to the
dead-letter queue with the reason in its headers. Channels carry their ``sqs``
binding (0.2.0). Nothing here reaches SQS: queue names, FIFO and the redrive
policy are what the settings make of them (``choreographer queues create``
creates the same). ``briefy.choreographer.admin.contract`` reads the same
structure back: operation ids and message names are part of its format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

from zope.interface import implementedBy

from briefy.choreographer.admin.introspect import ActionInfo, EventInfo, routes
from briefy.choreographer.admin.provision import REDRIVE_MARGIN, Layout
from briefy.choreographer.errors import ERROR_TYPES
from briefy.choreographer.events.schema import data_schema
from briefy.choreographer.pipeline import deadletter
from briefy.choreographer.pipeline.state import SEAL, STATE
from briefy.choreographer.site import Site
from briefy.common.claimcheck import POINTER_CLASS, SIZE_ATTRIBUTE, SIZE_ATTRIBUTES
from briefy.common.interfaces import IQueue
from briefy.common.queue import sqs
from briefy.common.queue.event import EVENTS_QUEUE
from briefy.common.tracecontext import TRACEPARENT, TRACESTATE

ASYNCAPI = "3.0.0"
SQS_BINDING = "0.2.0"
#: Operation ids the contract check reads back (action operations are ``send.<action>``).
RECEIVE_EVENTS = "receiveEvents"
SEND_DEAD_LETTERS = "sendDeadLetters"
DEAD_LETTERS = "deadLetters"
DEAD_LETTER = "deadLetter"
#: W3C Trace Context ``traceparent``: version, trace id, parent id, flags.
TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"

_NOT_AN_ID = re.compile(r"[^A-Za-z0-9._-]+")
#: zope.interface's declaration API has no annotations.
_implemented_by: Any = implementedBy

_TRACE_IN = {
    TRACEPARENT: {
        "type": "string",
        "description": "W3C Trace Context: the trace the event belongs to "
        "(00-<trace id>-<parent id>-<flags>). Without it, X-Ray's AWSTraceHeader message system "
        "attribute (Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>) is read; in an SNS "
        "envelope, the envelope's MessageAttributes count. A malformed value is ignored, never bad input.",
    },
    TRACESTATE: {
        "type": "string",
        "description": "W3C Trace Context: vendor state, kept with traceparent.",
    },
}
_TRACE_OUT = {
    TRACEPARENT: {
        "type": "string",
        "pattern": TRACEPARENT_PATTERN,
        "description": "W3C Trace Context: the event's trace id, and a parent id of this message's own.",
    },
    TRACESTATE: {
        "type": "string",
        "description": "W3C Trace Context: the event's tracestate, if it had one.",
    },
}
_TRACE_LETTER = {
    TRACEPARENT: {"type": "string", "description": "The trace context the event came with, if any."},
    TRACESTATE: {"type": "string", "description": "The tracestate the event came with, if any."},
}
#: The message attributes that carry trace context, as the worker names them.
TRACE_ATTRIBUTES = (TRACEPARENT, TRACESTATE)


def _described(names: Iterable[str], descriptions: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A header schema per attribute name: its description where known, else a plain string."""
    return {
        name: _copy(descriptions.get(name) or {"type": "string", "description": f"The {name} attribute."})
        for name in names
    }


def document(site: Site) -> dict[str, Any]:
    """The AsyncAPI document of the site's choreography under its settings."""
    settings, registry = site.settings, site.registry
    layout = Layout.of(registry, settings)
    queues = dict(registry.getUtilitiesFor(IQueue))
    ids = _Ids()
    channel_of = {EVENTS_QUEUE: ids.new(EVENTS_QUEUE)}
    dead_letters = ids.new(DEAD_LETTERS)  # before the outputs: its id stays the same
    channel_of.update((utility, ids.new(utility)) for utility in sorted(layout.outputs))
    dlq = layout.dead_letters(settings, None)
    channels = {
        channel_of[EVENTS_QUEUE]: _channel(
            EVENTS_QUEUE, layout.events, queues[EVENTS_QUEUE], dlq, settings.max_attempts + REDRIVE_MARGIN
        ),
        **{channel_of[name]: _channel(name, queue, queues[name]) for name, queue in layout.outputs.items()},
        dead_letters: _dead_letter_channel(dlq),
    }
    found = routes(registry)
    events = channel_of[EVENTS_QUEUE]
    keys = [_add_event(channels[events], events, event) for event in found]
    operations = {RECEIVE_EVENTS: _receive(events, keys)}
    for (name, utility), infos in _actions(found).items():
        channel = channel_of[utility]
        key = _add_output(channels[channel], channel, name, infos, queues[utility])
        operations[ids.new(f"send.{name}")] = _send(channel, key, infos)
    operations[SEND_DEAD_LETTERS] = _send_dead_letters(dead_letters)
    return {
        "asyncapi": ASYNCAPI,
        "info": _info(),
        "defaultContentType": "application/json",
        "servers": servers(site),
        "channels": channels,
        "operations": operations,
    }


class _Ids:
    """Ids of channels and operations: the name where AsyncAPI allows it, made unique."""

    def __init__(self) -> None:
        self.taken: set[str] = {RECEIVE_EVENTS, SEND_DEAD_LETTERS}

    def new(self, name: str) -> str:
        base = _NOT_AN_ID.sub("_", name) or "_"
        found, n = base, 1
        while found in self.taken:
            n += 1
            found = f"{base}_{n}"
        self.taken.add(found)
        return found


def _ref(*parts: str) -> dict[str, str]:
    """A reference to a part of the document (the ids need no escaping: see ``_Ids``)."""
    return {"$ref": "#/" + "/".join(parts)}


def _info() -> dict[str, Any]:
    try:
        release = version("briefy.choreographer")
    except PackageNotFoundError:  # run from a source tree that is not installed
        release = "0.0.0"
    return {
        "title": "briefy.choreographer",
        "version": release,
        "description": "The events this choreographer takes, what it sends for each, and where bad input "
        "goes, generated from its component registry by `choreographer asyncapi` (the site configuration "
        "and the installed extensions loaded). Services publish event messages to the events queue; the "
        "choreographer runs the actions registered for each event and sends their payloads to the output "
        "queues; each output carries an output_id that is the same on every retry, so consumers drop "
        "duplicates. Delivery is at least once.",
    }


def servers(site: Site) -> dict[str, Any]:
    """The SQS endpoint the settings name: the embedded one, a configured one, or AWS's."""
    settings = site.settings
    if settings.embedded:
        return {
            "embedded": {
                "host": f"{settings.embedded_host}:{settings.embedded_port}",
                "protocol": "sqs",
                "description": "The SQS-compatible endpoint the worker serves itself in development "
                "mode when no endpoint is configured (make run).",
            }
        }
    if settings.endpoint_url:
        url = urlsplit(settings.endpoint_url)
        server: dict[str, Any] = {
            "host": url.netloc,
            "protocol": "sqs",
            "description": f"The configured SQS endpoint ({settings.endpoint_url}).",
        }
        if url.path.strip("/"):
            server["pathname"] = url.path
        return {"sqs": server}
    host: dict[str, Any] = {"protocol": "sqs", "description": "Amazon SQS."}
    if settings.region:
        host["host"] = f"sqs.{settings.region}.amazonaws.com"
    else:
        host["host"] = "sqs.{region}.amazonaws.com"
        host["variables"] = {"region": {"description": "The AWS region (AWS_DEFAULT_REGION)."}}
    return {"aws": host}


def _binding(queue_name: str) -> dict[str, Any]:
    return {"name": sqs.name_of(queue_name), "fifoQueue": sqs.is_fifo(queue_name)}


def _channel(
    utility: str, queue_name: str, queue: Any, dlq: str | None = None, max_receive_count: int = 0
) -> dict[str, Any]:
    """The channel of a queue utility with its ``sqs`` binding (and, for the events queue, its DLQ)."""
    binding: dict[str, Any] = {"queue": _binding(queue_name)}
    if dlq is not None:
        binding["queue"]["redrivePolicy"] = {
            "deadLetterQueue": {"name": sqs.name_of(dlq)},
            "maxReceiveCount": max_receive_count,
        }
        binding["deadLetterQueue"] = _binding(dlq)
    doc = _lines(type(queue).__doc__) or [f"The {utility} queue."]
    cls = type(queue)
    where = f"queue utility {utility}: {cls.__module__}.{cls.__qualname__}"
    return {
        "address": queue_name,
        "title": utility,
        "description": f"{doc[0].rstrip('.')} ({where}).",
        "messages": {},
        "bindings": {"sqs": {**binding, "bindingVersion": SQS_BINDING}},
    }


def _dead_letter_channel(dlq: str) -> dict[str, Any]:
    return {
        "address": dlq,
        "title": "dead letters",
        "description": "The events queue's dead-letter queue: CHOREOGRAPHER_DEAD_LETTER_QUEUE, else the "
        "events queue's RedrivePolicy target, else events-dlq (with .fifo for a FIFO events queue).",
        "messages": {DEAD_LETTER: dead_letter_message()},
        "bindings": {"sqs": {"queue": _binding(dlq), "bindingVersion": SQS_BINDING}},
    }


def _add_event(channel: dict[str, Any], channel_id: str, event: EventInfo) -> str:
    """Add the message of ``event`` to the events channel; return its key."""
    key = _key(channel, event.event_name)
    where = f"#/channels/{channel_id}/messages/{key}/payload/properties/data"
    channel["messages"][key] = event_message(event, where)
    return key


def _key(channel: Mapping[str, Any], name: str) -> str:
    """A key for a new message of ``channel`` named ``name``."""
    base = _NOT_AN_ID.sub("_", name) or "_"
    key, n = base, 1
    while key in channel["messages"]:
        n += 1
        key = f"{base}_{n}"
    return key


def event_message(event: EventInfo, where: str) -> dict[str, Any]:
    """The message of one registered event name; its data schema placed at ``where``."""
    factory = event.factory
    schema = data_schema(factory)
    handlers = [h.short_name + (f" ({h.dto})" if h.dto else "") for h in event.handlers]
    actions = [f"{a.name} (weight {a.weight}) to {a.queue}" for h in event.handlers for a in h.actions]
    data_text = (
        "Its data must meet the event's data_schema; data that fails it is dead-lettered as invalid_data."
        if schema is not None
        else "The event declares no data_schema: its data is any JSON object."
    )
    return {
        "name": event.event_name,
        "title": factory.__qualname__,
        "summary": _summary(factory),
        "description": f"Made a {factory.__module__}.{factory.__qualname__}; "
        f"handlers: {', '.join(handlers) or 'none'}; "
        f"actions: {', '.join(actions) or 'none (logged only)'}. {data_text}",
        "contentType": "application/json",
        "correlationId": {"location": "$message.payload#/request_id"},
        "headers": {
            "type": "object",
            "properties": {**_described(TRACE_ATTRIBUTES, _TRACE_IN), **_pointer_headers()},
        },
        "payload": event_payload(event.event_name, schema, where),
    }


def _summary(factory: Any) -> str:
    """The first line of the event's own interface's docstring (else of its class's)."""
    declared = list(_implemented_by(factory))
    for source in (*declared[:1], factory):
        doc = _lines(getattr(source, "__doc__", ""))
        if doc:
            return doc[0]
    return str(factory.__qualname__)


def _lines(doc: Any) -> list[str]:
    """The lines of a docstring, its reStructuredText literals (double backquotes) as Markdown's (single)."""
    return str(doc or "").replace("``", "`").strip().splitlines()


def event_payload(event_name: str, schema: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """The event message (the body of an events queue message) of ``event_name``."""
    data: dict[str, Any] = {"type": "object", "description": "The data of the object the event is about."}
    if schema is not None:
        data = relocate(schema, where)
        data.setdefault("type", "object")
    optional_text = {"type": ["string", "null"]}
    return {
        "type": "object",
        "required": ["event_name", "guid", "created_at", "data"],
        "properties": {
            "event_name": {"type": "string", "const": event_name, "description": "Selects the event class."},
            "guid": {
                "type": "string",
                "pattern": "\\S",
                "description": "The id of the object the event is about (not blank).",
            },
            "id": {
                **optional_text,
                "description": "The id of this event, the idempotency key; when absent, one is derived "
                "from the SQS message id (the same on every redelivery).",
            },
            "actor": {**optional_text, "description": "Who caused the event (a UUID, or empty)."},
            "request_id": {
                **optional_text,
                "description": "Correlation id, carried into the logs and every output.",
            },
            "created_at": {
                "type": "string",
                "format": "date-time",
                "description": "When it happened: an ISO 8601 date-time (taken as UTC without a time zone).",
            },
            "data": data,
        },
    }


def relocate(schema: Any, where: str) -> Any:
    """A copy of ``schema`` whose local ``$ref`` point into its place ``where`` in the document.

    Its ``$id`` and ``$schema`` are left out: inside the document they would change
    what its references mean.
    """
    if isinstance(schema, Mapping):
        return {
            key: (where + value[1:] if key == "$ref" and _local(value) else relocate(value, where))
            for key, value in schema.items()
            if key not in ("$id", "$schema")
        }
    if isinstance(schema, list):
        return [relocate(item, where) for item in schema]
    return schema


def _local(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("#")


def _actions(found: Iterable[EventInfo]) -> dict[tuple[str, str], list[ActionInfo]]:
    """Every action (name and queue), with the (event, handler) routes that reach it."""
    grouped: dict[tuple[str, str], list[ActionInfo]] = {}
    for event in found:
        for handler in event.handlers:
            for action in handler.actions:
                grouped.setdefault((action.name, action.queue), []).append(action)
    return grouped


def _add_output(
    channel: dict[str, Any], channel_id: str, name: str, infos: list[ActionInfo], queue: Any
) -> str:
    """Add what the action ``name`` sends to its queue's channel; return the message key."""
    key = _key(channel, name)
    where = f"#/channels/{channel_id}/messages/{key}/payload"
    events = sorted({info.event_name for info in infos})
    fifo = channel["bindings"]["sqs"]["queue"]["fifoQueue"]
    ids = (
        " On this FIFO queue the MessageGroupId is the event's guid and the MessageDeduplicationId "
        "the output_id."
        if fifo
        else ""
    )
    channel["messages"][key] = {
        "name": name,
        "title": name,
        "summary": f"What {name} sends for {', '.join(events)}",
        "description": f"The payload {name} makes (its transform), checked against the schema of "
        f"{infos[0].queue} before it is sent, with the output_id and request_id the choreographer adds."
        f"{ids}",
        "contentType": "application/json",
        "correlationId": {"location": "$message.header#/request_id"},
        "headers": output_headers(name, events),
        "payload": output_payload(getattr(queue, "schema", None), where),
    }
    return key


def output_headers(action: str, events: list[str]) -> dict[str, Any]:
    """The message attributes of every output of ``action`` (on ``events``)."""
    event_name: dict[str, Any] = {"type": "string", "description": "The event's name."}
    if len(events) == 1:
        event_name["const"] = events[0]
    else:
        event_name["enum"] = events
    return {
        "type": "object",
        "required": ["output_id", "event_id", "event_name", "action"],
        "properties": {
            "output_id": {
                "type": "string",
                "format": "uuid",
                "description": "Derived from the event id and the action: the same on every retry and "
                "redrive, so a consumer that has seen it drops the message.",
            },
            "event_id": {"type": "string", "description": "The event's id (cut to 256 characters)."},
            "event_name": event_name,
            "action": {"type": "string", "const": action, "description": "The action that sent it."},
            "request_id": {
                "type": "string",
                "description": "The event's request_id (absent when the event has none).",
            },
            **_described(TRACE_ATTRIBUTES, _TRACE_OUT),
        },
    }


def output_payload(schema: Any, where: str) -> dict[str, Any]:
    """The queue's payload schema, with the ``output_id`` and ``request_id`` every payload gets."""
    payload: dict[str, Any] = relocate(schema, where) if isinstance(schema, Mapping) else {"type": "object"}
    properties = dict(payload.get("properties") or {})
    properties.setdefault(
        "output_id", {"type": "string", "format": "uuid", "description": "As the output_id header."}
    )
    properties.setdefault(
        "request_id", {"type": "string", "description": "The event's request_id, or empty."}
    )
    payload["properties"] = properties
    payload["required"] = list(dict.fromkeys([*payload.get("required", []), "output_id", "request_id"]))
    return payload


def dead_letter_message() -> dict[str, Any]:
    """A dead letter: the original body as it came, the reason in its message attributes."""
    kinds = "; ".join(f"{name}: {when}" for name, when in ERROR_TYPES.items())
    text = {"type": "string"}
    return {
        "name": DEAD_LETTER,
        "title": "Dead letter",
        "summary": "A message that could not be choreographed, as it came, with the reason",
        "description": "The body is the original body, byte for byte: usually an event message, but bad "
        "input may be any text. The reason is in the headers (message attributes); a letter too big for "
        "the queue gives some up (the full reason is in the worker's log line event_dead_lettered), and a "
        "letter SQS's own redrive policy moved has none.",
        "contentType": "text/plain",
        "headers": {
            "type": "object",
            "properties": {
                deadletter.ERROR_TYPE: {
                    **text,
                    "description": f"Why it was dead-lettered. The error types (the list may grow): {kinds}.",
                },
                deadletter.ERROR_MESSAGE: {
                    **text,
                    "maxLength": deadletter.MAX_REASON,
                    "description": "The reason in words (the log line event_dead_lettered has it whole).",
                },
                deadletter.EVENT_NAME: {**text, "description": "The event's name, when the body had one."},
                deadletter.RECEIVE_COUNT: {
                    **text,
                    "pattern": "^[0-9]+$",
                    "description": "The attempt that gave up (the number of receives).",
                },
                deadletter.WORKER: {**text, "description": "Who wrote the letter: host:pid."},
                deadletter.FAILED_AT: {**text, "format": "date-time", "description": "When it was written."},
                deadletter.SOURCE_MESSAGE_ID: {
                    **text,
                    "description": "The SQS MessageId of the message on the events queue.",
                },
                STATE: {
                    **text,
                    "description": "The retry state the worker sealed (the actions done, the event id), "
                    "with CHOREOGRAPHER_STATE_KEY set: a redrive skips what is done.",
                },
                SEAL: {**text, "description": f"The HMAC sealing {STATE}."},
                **_letter_extras(),
            },
        },
        "payload": {"type": "string", "description": "The original body of the events queue message."},
    }


def _letter_extras() -> dict[str, Any]:
    """The attributes a letter may carry beyond its reason and the retry state, as the dead-letter
    module lists them (what it gives up when a letter is too big), and a large payload's pointer
    attributes."""
    known = {*deadletter.REASONS, STATE, SEAL}
    names = [name for name in deadletter.EXPENDABLE if name not in known]
    pointer = {
        name: {
            "type": "string",
            "description": "Kept from the event when its body is a pointer to a large payload in S3, so "
            "a redrive reads the same object.",
        }
        for name in SIZE_ATTRIBUTES
    }
    return {**_described(names, {**_TRACE_LETTER, **pointer}), **_described(pointer, pointer)}


def _pointer_headers() -> dict[str, Any]:
    """The attributes that say an event's body is a pointer to the event in S3."""
    names = SIZE_ATTRIBUTES
    return {
        # No type: the headers allowed any value under these names before they were described.
        name: {
            "description": "Set (a Number attribute: the event's size in bytes) when the body is not the "
            "event but a pointer to it in S3, as the Amazon SQS Extended Client writes it"
            + ("" if index == 0 else f" (the legacy name of {names[0]})")
            + "; the event is read from the object.",
        }
        for index, name in enumerate(names)
    }


def other_forms() -> str:
    """What ``receiveEvents`` says of the forms an event may arrive in besides its own JSON body:
    the envelopes, and a pointer to S3 as the claim check module reads it."""
    text = (
        " An event may also arrive wrapped, as a topic or a rule delivers it: as an SNS notification (raw "
        "message delivery off; the event is the envelope's Message, its MessageAttributes count as the "
        "message's) or as an EventBridge event (the event is its detail; detail-type, time and id stand "
        "in for a missing event_name, created_at and id). An envelope whose inner message is bad input is "
        "dead-lettered whole with the inner message's reason; another SNS message type as "
        "unsupported_envelope."
    )
    return text + (
        " A body too big for SQS may come as a pointer to the event in S3, in the Amazon SQS Extended "
        f'Client\'s format (["{POINTER_CLASS}", {{"s3BucketName": ..., "s3Key": ...}}] with the '
        f"{SIZE_ATTRIBUTE} attribute); a missing object is dead-lettered as payload_missing."
    )


def _receive(channel: str, keys: list[str]) -> dict[str, Any]:
    return {
        "action": "receive",
        "channel": _ref("channels", channel),
        "summary": "Events the choreographer takes, one message per registered event name",
        "description": "The worker receives batches of up to 10 with long polling, runs the actions of each "
        "event, and deletes it once every available action has sent its payload; transient failures are "
        "retried with backoff. Bad input is dead-lettered at once (see sendDeadLetters). An event name "
        "with no class of its own is logged and deleted." + other_forms(),
        "messages": [_ref("channels", channel, "messages", key) for key in keys],
    }


def _send(channel: str, key: str, infos: list[ActionInfo]) -> dict[str, Any]:
    first = infos[0]
    routes_text = "; ".join(f"on {i.event_name}, by {i.handler.rpartition('.')[2]} ({i.dto})" for i in infos)
    return {
        "action": "send",
        "channel": _ref("channels", channel),
        "title": first.name,
        "summary": f"{first.name}: weight {first.weight}, when: {first.condition}",
        "description": f"Runs {routes_text}, in weight order among the event's actions (lower first), when "
        f"its available condition holds ({first.condition}); its class is "
        f"{first.factory.__module__}.{first.factory.__qualname__}.",
        "messages": [_ref("channels", channel, "messages", key)],
    }


def _send_dead_letters(channel: str) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": _ref("channels", channel),
        "summary": "Bad input, with its reason, to the dead-letter queue",
        "description": "A message that can never be choreographed (not JSON, a field missing or of the "
        "wrong type, data its event's data_schema or its action's queue rejects, ...) is written "
        "here as it came, then deleted from the events queue; so is an event whose transient "
        "failures outlasted the attempt limit. `choreographer dlq show` lists them, "
        "`choreographer dlq redrive` moves them back.",
        "messages": [_ref("channels", channel, "messages", DEAD_LETTER)],
    }


def _copy(value: Any) -> Any:
    """A deep copy of plain data (no object is shared within a document)."""
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
