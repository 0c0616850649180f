"""``choreographer dry-run``: what an event would trigger; nothing is sent."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from zope.event import notify

from briefy.choreographer.admin.introspect import HandlerInfo, condition, handler_name, subscribers_of
from briefy.choreographer.cli.common import FAILED, OK, USAGE, fail, guarded, load, settings_for_tool
from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import (
    Envelope,
    EventMessage,
    InternalEvent,
    event_factory,
    internal_event,
    parse_event,
)
from briefy.choreographer.events.message import derived_id
from briefy.choreographer.events.outbox import PlanningOutbox
from briefy.choreographer.site import Site
from briefy.common.interfaces import IQueue

INDENT = "     "
#: The SQS message id a dry run stands in for (the id of an event without one is derived from it).
DRY_RUN_ID = "dry-run"
NO_ID = "(none: the worker derives one from the SQS message id; output_id below is only an example)"
VERDICTS = {
    "send": "the worker would send {sent} message(s) and delete the event",
    "log_only": "nothing to send: the worker would log the event and delete it",
    "dead_letter": "the worker would dead-letter the event (see the reason above)",
}


def register(subparsers: Any) -> None:
    """Add ``dry-run``."""
    parser = subparsers.add_parser(
        "dry-run",
        help="show what an event would trigger; nothing is sent",
        description="Read an event message (a JSON file, or - for stdin) and report its "
        "handlers in the order they run, its actions in order, whether each is available, "
        "the payload each would send and whether its queue's schema accepts it. Nothing is "
        "sent and SQS is not needed. An event whose class declares a data_schema has its data "
        "checked first, as the worker does. Exit 0 when the worker would process the event, 1 when "
        "it would dead-letter it (bad input), 2 when the file cannot be read.",
    )
    parser.add_argument("file", metavar="FILE", help="event message file, or - for stdin")
    parser.add_argument("--json", action="store_true", help="print a JSON report for scripts")
    parser.set_defaults(run=guarded(run))


def read(path: str) -> bytes:
    """The event file's bytes (stdin for ``-``)."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}", USAGE)


def report(body: bytes, site: Site) -> dict[str, Any]:
    """The dry run of one event message body, as a JSON-ready dict (an SNS notification or
    an EventBridge event is unwrapped as the worker unwraps it)."""
    settings, registry = site.settings, site.registry
    try:
        message = parse_event(body, fallback_id=DRY_RUN_ID)
    except BadInput as error:
        return {
            "ok": False,
            "outcome": "dead_letter",
            "error_type": error.error_type,
            "error": error.message,
            "envelope": envelope_report(error.envelope),
            "actions": [],
        }
    declared = message.event_name in site.data_schemas
    try:
        site.data_schemas.check(message)
    except BadInput as error:
        # The worker checks the data before any handler: none runs, nothing is planned.
        factory = event_factory(message.event_name, registry)
        return {
            **_event_fields(message, factory, body),
            "ok": False,
            "outcome": "dead_letter",
            "error_type": error.error_type,
            "error": error.message,
            "data_schema": {"declared": True, "valid": False, "error": error.message},
            "handlers": [],
            "actions": [],
        }
    queues = dict(registry.getUtilitiesFor(IQueue))
    outbox = PlanningOutbox(queues, strict=False)
    event = internal_event(message, outbox, registry)
    factory = type(event)
    notify(event)
    actions = [
        {
            "order": order,
            "action": planned.name,
            "weight": planned.action.weight,
            "handler": planned.handler,
            "queue": planned.queue_name,
            "sqs_queue": settings.queue_name(
                planned.queue_name, queues[planned.queue_name].default_queue_name
            ),
            "available": planned.available,
            "condition": condition(type(planned.action)),
            "valid": planned.error is None,
            "error": str(planned.error) if planned.error else None,
            "payload": orjson.loads(planned.message.body) if planned.message else None,
        }
        for order, planned in enumerate(outbox.planned, 1)
    ]
    invalid = any(not action["valid"] for action in actions)
    sent = sum(1 for action in actions if action["payload"] is not None)
    return {
        "ok": not invalid,
        "outcome": "dead_letter" if invalid else ("send" if sent else "log_only"),
        **_event_fields(message, factory, body),
        "data_schema": {"declared": declared, "valid": True if declared else None, "error": None},
        "handlers": [handler_name(h) for h in subscribers_of(registry, event)],
        "actions": actions,
    }


def _event_fields(message: EventMessage, factory: Any, body: bytes) -> dict[str, Any]:
    """What the report says of the event itself."""
    return {
        "event_name": message.event_name,
        "event": f"{factory.__module__}.{factory.__qualname__}",
        "known": factory is not InternalEvent,
        "event_id": message.id if _has_id(body, message) else None,
        "envelope": envelope_report(message.envelope),
        "guid": message.guid,
        "request_id": message.request_id,
    }


def envelope_report(envelope: Envelope | None) -> dict[str, str] | None:
    """The envelope an event came in, for the report (None: it came as it is)."""
    if envelope is None:
        return None
    return {"kind": envelope.kind, "origin": envelope.origin, "message_id": envelope.message_id}


def _has_id(body: bytes, message: EventMessage) -> bool:
    """Whether the event's id is its own (given in the message, or by its EventBridge envelope)
    rather than one the worker would derive (from the SQS or the SNS message id)."""
    sns_id = message.envelope.message_id if message.envelope and message.envelope.kind == "sns" else ""
    return message.id not in (derived_id(DRY_RUN_ID, body), derived_id(sns_id, body) if sns_id else "")


def verdict(result: dict[str, Any]) -> str:
    """What the worker would do with the event, in one sentence (with the reason for a dead letter)."""
    if result["outcome"] != "dead_letter":
        sent = sum(1 for action in result["actions"] if action["payload"] is not None)
        return VERDICTS[result["outcome"]].format(sent=sent)
    if "error" in result:
        why = f"bad input ({result['error_type']}): {result['error']}"
    else:
        why = "; ".join(str(a["error"]) for a in result["actions"] if not a["valid"])
    return f"the worker would dead-letter the event: {why}"


def _short(name: str) -> str:
    return HandlerInfo(name, None, ()).short_name


def render(result: dict[str, Any]) -> str:
    """The report as text for people."""
    if "event_name" not in result:
        return "\n".join(
            [
                f"bad input ({result['error_type']}): {result['error']}",
                *_envelope_lines(result),
                "",
                f"outcome: {VERDICTS['dead_letter']}.",
                "Nothing was sent (dry run).",
            ]
        )
    kind = result["event"].rsplit(".", 1)[-1]
    if not result["known"]:
        kind += " (no event is registered under this name: it is only logged)"
    lines = [
        f"event       {result['event_name']}  ->  {kind}",
        f"id          {result['event_id'] or NO_ID}",
        f"guid        {result['guid']}",
        f"request_id  {result['request_id'] or '(none)'}",
        *_envelope_lines(result),
    ]
    schema = result["data_schema"]
    if schema["declared"] and not schema["valid"]:
        lines += [
            f"data        REJECTED ({result['error_type']}): {schema['error']}",
            "",
            "handlers: none run (the data is checked first)",
            "",
            f"outcome: {VERDICTS['dead_letter']}.",
            "Nothing was sent (dry run).",
        ]
        return "\n".join(lines)
    if schema["declared"]:
        lines.append(f"data        valid (data_schema of {result['event_name']})")
    lines += ["", "handlers, in the order they run:"]
    lines += [f"  {i}. {_short(name)}" for i, name in enumerate(result["handlers"], 1)]
    lines += ["", "actions, lowest weight first:" if result["actions"] else "actions: none"]
    for action in result["actions"]:
        lines += _render_action(action)
    sent = sum(1 for action in result["actions"] if action["payload"] is not None)
    lines += ["", f"outcome: {VERDICTS[result['outcome']].format(sent=sent)}.", "Nothing was sent (dry run)."]
    return "\n".join(lines)


def _envelope_lines(result: dict[str, Any]) -> list[str]:
    envelope = result.get("envelope")
    if not envelope:
        return []
    source = "topic" if envelope["kind"] == "sns" else "source"
    return [f"envelope    {envelope['kind']} ({source} {envelope['origin']}), unwrapped"]


def _render_action(action: dict[str, Any]) -> list[str]:
    target = f"{action['queue']} (SQS queue {action['sqs_queue']})"
    lines = [f"  {action['order']}. {action['action']}  weight {action['weight']}  ->  {target}"]
    if not action["available"]:
        return [*lines, f"{INDENT}available  no ({action['condition']}): skipped, nothing sent"]
    lines.append(f"{INDENT}available  yes ({action['condition']})")
    if action["error"]:
        return [*lines, f"{INDENT}schema     REJECTED: {action['error']}"]
    lines += [f"{INDENT}schema     valid", f"{INDENT}payload"]
    body = orjson.dumps(action["payload"], option=orjson.OPT_INDENT_2).decode()
    return lines + [f"{INDENT}  {line}" for line in body.splitlines()]


def run(args: Any) -> int:
    """Print the dry run of the event in ``args.file``."""
    settings = settings_for_tool()
    body = read(args.file)
    result = report(body, load(settings))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() if args.json else render(result))
    return OK if result["ok"] else FAILED
