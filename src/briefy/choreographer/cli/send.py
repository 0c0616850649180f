"""``choreographer send``: publish an event to the events queue, once it is checked."""

from __future__ import annotations

import hashlib
import sys
import uuid
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from briefy.choreographer.cli.common import FAILED, OK, USAGE, fail, guarded, load, settings_for_tool
from briefy.choreographer.cli.dryrun import read, report, verdict
from briefy.choreographer.cli.sqs import not_running
from briefy.choreographer.clients import tool_client
from briefy.choreographer.site import Site
from briefy.common.errors import QueueNotFound
from briefy.common.interfaces import IQueue
from briefy.common.queue.event import EVENTS_QUEUE
from briefy.common.queue.message import OutgoingMessage

#: The options that build an event, which ``--file`` (a whole event message) leaves out.
BUILDING = ("event_name", "data", "guid", "request_id")


def register(subparsers: Any) -> None:
    """Add ``send``."""
    parser = subparsers.add_parser(
        "send",
        help="publish an event to the events queue",
        description="Publish an event: built from EVENT_NAME and --data (id, created_at and "
        "request_id are filled in), or a whole event message from --file, sent as it is. "
        "First it is checked as `choreographer dry-run` checks it, and the check says what the "
        "worker would do with it; an event the worker would dead-letter is not sent (exit 1) "
        "unless --force is given.",
    )
    parser.add_argument("event_name", metavar="EVENT_NAME", nargs="?", help="e.g. lead.created")
    parser.add_argument("--data", help="the event's data, a JSON object (with EVENT_NAME)")
    parser.add_argument(
        "--file", metavar="FILE", help="a whole event message, a JSON file (- for stdin), sent as it is"
    )
    parser.add_argument("--guid", default=None, help="id of the object (default: a new UUID)")
    parser.add_argument("--actor", default="", help="who caused the event")
    parser.add_argument("--request-id", default=None, help="correlation id (default: a new UUID)")
    parser.add_argument(
        "--force", action="store_true", help="send even an event the worker would dead-letter"
    )
    parser.set_defaults(run=guarded(run))


def build_event(args: Any) -> dict[str, Any]:
    """The event message for EVENT_NAME and --data (and the ids given)."""
    if not (args.event_name and args.data is not None):
        fail("give EVENT_NAME and --data, or --file with a whole event message", USAGE)
    try:
        data = orjson.loads(args.data)
    except orjson.JSONDecodeError as error:
        fail(f"--data is not JSON: {error}", USAGE)
    return {
        "event_name": args.event_name,
        "guid": args.guid or str(uuid.uuid4()),
        "id": str(uuid.uuid4()),
        "actor": args.actor,
        "request_id": args.request_id or str(uuid.uuid4()),
        "created_at": datetime.now(UTC).isoformat(),
        "data": data,
    }


def body_of(args: Any) -> bytes:
    """The body to send: the file's bytes as they are, or the event built from the options."""
    if args.file is None:
        return orjson.dumps(build_event(args))
    given = [f"--{name.replace('_', '-')}" for name in BUILDING if getattr(args, name) is not None]
    if given or args.actor:
        fail(f"--file sends a whole event message: leave out {', '.join(given) or '--actor'}", USAGE)
    return read(args.file)


def outgoing(body: bytes) -> OutgoingMessage:
    """The SQS message of a body: on a FIFO queue grouped by the event's guid and deduplicated
    by its id (by the body's hash when it has none)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        fail("the event message is not UTF-8 text, which SQS requires", USAGE)
    try:
        fields = orjson.loads(body)
    except orjson.JSONDecodeError:
        fields = None
    fields = fields if isinstance(fields, dict) else {}
    guid, event_id = fields.get("guid"), fields.get("id")
    return OutgoingMessage(
        text,
        dedup_id=event_id if isinstance(event_id, str) and event_id else hashlib.sha256(body).hexdigest(),
        group_id=guid if isinstance(guid, str) and guid else None,
    )


def check(body: bytes, site: Site, force: bool, err: TextIO | None = None) -> None:
    """Say on ``err`` what the worker would do with the event; refuse a dead letter unless forced."""
    result = report(body, site)
    said = verdict(result)
    if result["outcome"] == "dead_letter" and not force:
        fail(f"not sent: {said} (`choreographer dry-run` shows more; --force sends it anyway)", FAILED)
    print(
        f"check: {said}{' (sending it anyway: --force)' if not result['ok'] else ''}", file=err or sys.stderr
    )


def run(args: Any) -> int:
    """Check the event, publish it and print its message id (with the event, when it is JSON)."""
    settings = settings_for_tool()
    body = body_of(args)
    site = load(settings)
    check(body, site, args.force)
    queue = site.registry.getUtility(IQueue, name=EVENTS_QUEUE)
    client = tool_client(settings)
    message = outgoing(body)
    try:
        queue.connect(client, settings.queue_name(queue.name, queue.default_queue_name))
        message_id = queue.send(message)
    except QueueNotFound as error:
        fail(f"the events queue {error.args[0]!r} does not exist at {client.meta.endpoint_url}")
    except (BotoCoreError, ClientError) as error:
        hint = not_running() if settings.embedded else ""
        fail(f"cannot reach SQS at {client.meta.endpoint_url}: {error}{hint}")
    try:
        sent = orjson.loads(body)
    except orjson.JSONDecodeError:
        sent = None
    print(orjson.dumps({"message_id": message_id, **(sent if isinstance(sent, dict) else {})}).decode())
    return OK
