"""``choreographer dry-run``: what an event would trigger; nothing is sent."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from zope.event import notify

from briefy.choreographer.choreography import handler_name, subscribers_of
from briefy.choreographer.cli.common import FAILED, OK, fail, guarded, load, settings_for_tool
from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import event_factory, parse_event
from briefy.choreographer.outbox import PlanningOutbox


def register(subparsers: Any) -> None:
    """Add ``dry-run``."""
    parser = subparsers.add_parser(
        "dry-run",
        help="show what an event would trigger; nothing is sent",
        description="Read an event message (a JSON file, or - for stdin) and report its "
        "handlers, its actions in order, whether each is available, the payload each "
        "would send and whether its queue's schema accepts it. Nothing is sent. Exits 1 "
        "when the event is bad input (the worker would dead-letter it).",
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
        fail(f"cannot read {path}: {error.strerror}")


def report(body: bytes) -> dict[str, Any]:
    """The dry run of one event message body, as a JSON-ready dict."""
    try:
        message = parse_event(body, fallback_id="dry-run")
    except BadInput as error:
        return {"ok": False, "outcome": "dead_letter", "error_type": error.error_type, "error": error.message}
    outbox = PlanningOutbox(strict=False)
    factory = event_factory(message.event_name)
    event = factory(message, outbox)
    notify(event)
    actions = []
    for order, planned in enumerate(outbox.planned, 1):
        payload = orjson.loads(planned.message.body) if planned.message else None
        actions.append(
            {
                "order": order,
                "action": planned.name,
                "weight": planned.action.weight,
                "handler": planned.handler,
                "queue": planned.queue_name,
                "available": planned.available,
                "valid": planned.error is None,
                "error": str(planned.error) if planned.error else None,
                "payload": payload,
            }
        )
    invalid = [a for a in actions if not a["valid"]]
    return {
        "ok": not invalid,
        "outcome": "dead_letter"
        if invalid
        else ("send" if any(a["payload"] for a in actions) else "log_only"),
        "event_name": message.event_name,
        "event": f"{factory.__module__}.{factory.__qualname__}",
        "event_id": message.id,
        "guid": message.guid,
        "handlers": [handler_name(h) for h in subscribers_of(event)],
        "actions": actions,
    }


def render(result: dict[str, Any]) -> str:
    """The report as text for people."""
    if "event_name" not in result:
        return (
            f"bad input ({result['error_type']}): {result['error']}\n"
            "outcome: the worker would dead-letter it; nothing was sent (dry run)."
        )
    lines = [f"event: {result['event_name']}  ({result['event']})  guid={result['guid']}", "handlers:"]
    lines += [f"  {i}. {name}" for i, name in enumerate(result["handlers"], 1)]
    lines.append("actions:" if result["actions"] else "actions: none (the event is only logged)")
    for action in result["actions"]:
        state = "available" if action["available"] else "not available (skipped)"
        head = f"  {action['order']}. {action['action']}  weight={action['weight']}"
        lines.append(f"{head}  -> {action['queue']}  {state}")
        if action["payload"] is not None:
            lines.append("     schema: ok")
            body = orjson.dumps(action["payload"], option=orjson.OPT_INDENT_2).decode()
            lines += ["     " + line for line in body.splitlines()]
        elif action["error"]:
            lines.append(f"     schema: REJECTED: {action['error']}")
    verdict = {
        "send": "would be sent",
        "log_only": "nothing to send",
        "dead_letter": "the worker would dead-letter it",
    }
    lines.append(f"outcome: {verdict[result['outcome']]}; nothing was sent (dry run).")
    return "\n".join(lines)


def run(args: Any) -> int:
    """Print the dry run of the event in ``args.file``."""
    settings = settings_for_tool()
    body = read(args.file)
    load(settings)
    result = report(body)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() if args.json else render(result))
    return OK if result["ok"] else FAILED
