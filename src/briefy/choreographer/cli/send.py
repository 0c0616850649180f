"""``choreographer send``: publish an event to the events queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from briefy.choreographer.bootstrap import tool_client
from briefy.choreographer.cli.common import OK, USAGE, fail, guarded, load, settings_for_tool
from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import parse_event
from briefy.common.errors import QueueNotFound
from briefy.common.interfaces import IQueue
from briefy.common.queue.event import EVENTS_QUEUE


def register(subparsers: Any) -> None:
    """Add ``send``."""
    parser = subparsers.add_parser(
        "send",
        help="publish an event to the events queue",
        description="Publish an event; id, created_at and request_id are filled in.",
    )
    parser.add_argument("event_name", metavar="EVENT_NAME", help="e.g. lead.created")
    parser.add_argument("--data", required=True, help="the event's data, a JSON object")
    parser.add_argument("--guid", default=None, help="id of the object (default: a new UUID)")
    parser.add_argument("--actor", default="", help="who caused the event")
    parser.add_argument("--request-id", default=None, help="correlation id (default: a new UUID)")
    parser.set_defaults(run=guarded(run))


def build_event(args: Any) -> dict[str, Any]:
    """The event message for the arguments."""
    try:
        data = orjson.loads(args.data)
    except orjson.JSONDecodeError as error:
        fail(f"--data is not JSON: {error}", USAGE)
    event = {
        "event_name": args.event_name,
        "guid": args.guid or str(uuid.uuid4()),
        "id": str(uuid.uuid4()),
        "actor": args.actor,
        "request_id": args.request_id or str(uuid.uuid4()),
        "created_at": datetime.now(UTC).isoformat(),
        "data": data,
    }
    try:
        parse_event(orjson.dumps(event))
    except BadInput as error:
        fail(f"not a valid event: {error}", USAGE)
    return event


def run(args: Any) -> int:
    """Publish the event and print its ids."""
    settings = settings_for_tool()
    event = build_event(args)
    queue = load(settings).registry.getUtility(IQueue, name=EVENTS_QUEUE)
    client = tool_client(settings)
    try:
        queue.connect(client, settings.queue_name(queue.name, queue.default_queue_name))
        message_id = queue.write_message(event, group_id=event["guid"], dedup_id=event["id"])
    except QueueNotFound as error:
        fail(f"the events queue {error.args[0]!r} does not exist at {client.meta.endpoint_url}")
    except (BotoCoreError, ClientError) as error:
        hint = " (is the worker running? start it with: make run)" if settings.embedded else ""
        fail(f"cannot reach SQS at {client.meta.endpoint_url}: {error}{hint}")
    print(orjson.dumps({"message_id": message_id, **event}).decode())
    return OK
