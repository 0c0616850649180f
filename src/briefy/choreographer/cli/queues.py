"""``choreographer queues create|status|peek``: make the queues, see how full they are, look inside."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from briefy.choreographer.admin.deadletters import peek
from briefy.choreographer.admin.provision import DEAD_LETTERS, Layout, find_queue, provision, redrive_policy
from briefy.choreographer.cli.common import (
    FAILED,
    OK,
    USAGE,
    fail,
    guarded,
    load,
    positive,
    settings_for_tool,
)
from briefy.choreographer.cli.sqs import client_for, talking_to
from briefy.choreographer.cli.table import table
from briefy.choreographer.site import Site
from briefy.common.interfaces import IQueue
from briefy.common.queue import Queue
from briefy.common.queue.event import EVENTS_QUEUE
from briefy.common.queue.message import SQSMessage

#: The SQS attributes ``status`` reads, and what it calls them.
COUNTS = {
    "ApproximateNumberOfMessages": "visible",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}


def register(subparsers: Any) -> None:
    """Add ``queues`` with ``create``, ``status`` and ``peek``."""
    parser = subparsers.add_parser(
        "queues",
        help="create the queues, show their depths, or look at an output queue's messages",
        description="Create the choreographer's SQS queues, show how many messages each holds, "
        "or look at the messages of an output queue.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="create the events queue, its DLQ and every output queue",
        description="Create the events queue (with a redrive policy to its dead-letter queue), "
        "the dead-letter queue and every registered output queue, named as the worker names "
        "them (CHOREOGRAPHER_*_QUEUE; a .fifo name makes a FIFO queue). Safe to run again: "
        "queues that exist are reported as such and left as they are (an events queue with no "
        "redrive policy gets one). Exit 1 if a queue given by URL does not exist.",
    )
    create.add_argument("--json", action="store_true", help="print JSON for scripts")
    create.set_defaults(run=guarded(run_create), command="queues create")
    status = actions.add_parser(
        "status",
        help="messages visible, in flight and delayed per queue, and dead letters",
        description="For the events queue, every output queue and the dead-letter queue: the "
        "messages waiting (visible), being processed (in flight: received, not yet deleted) "
        "and delayed (retries waiting for their backoff). SQS counts are approximate. "
        "Exit 1 if a queue is missing.",
    )
    status.add_argument("--json", action="store_true", help="print JSON for scripts")
    status.set_defaults(run=guarded(run_status), command="queues status")
    look = actions.add_parser(
        "peek",
        help="print an output queue's messages as JSON lines; consumes nothing",
        description="Print up to --max messages of an output queue (its utility name, such as "
        "mail.queue, or its SQS queue name), one JSON object a line: message id, when it was "
        "sent, its receive count, attributes and body. Nothing is consumed: the messages are "
        "held for the moment of the look and made visible again at once (a receive with a "
        "visibility timeout of 0 would leave them visible, but SQS may then hand back the same "
        "first ones on every receive, and a FIFO queue always does). Each look adds one "
        "to their SQS receive count; if the look is killed, they come back within 30 s. "
        "Dead letters: `choreographer dlq show`.",
    )
    look.add_argument("name", metavar="NAME", help="the output queue, e.g. mail.queue or mail")
    look.add_argument("--max", type=positive, default=10, metavar="N", help="at most N messages (default 10)")
    look.set_defaults(run=guarded(run_peek), command="queues peek")


def run_create(args: Any) -> int:
    """Create the queues and report each."""
    settings = settings_for_tool()
    site = load(settings)
    client = client_for(settings)
    with talking_to(client, settings):
        found = provision(client, site.registry, settings)
    if args.json:
        print(orjson.dumps([asdict(item) for item in found], option=orjson.OPT_INDENT_2).decode())
    else:
        print(f"SQS endpoint: {client.meta.endpoint_url}")
        rows = [(item.queue_name, item.utility, item.status, item.note) for item in found]
        print(table(("queue", "role", "status", "note"), rows))
    return FAILED if any(item.status == "missing" for item in found) else OK


@dataclass(frozen=True)
class QueueStatus:
    """How many messages one queue holds (None for a missing queue)."""

    utility: str
    queue_name: str
    url: str | None
    visible: int | None = None
    in_flight: int | None = None
    delayed: int | None = None


def survey(client: Any, site: Site) -> list[QueueStatus]:
    """The events queue, the output queues and the DLQ (the one the worker uses), with counts."""
    settings = site.settings
    layout = Layout.of(site.registry, settings)
    events_url = find_queue(client, layout.events)
    policy = redrive_policy(client, events_url) if events_url else None
    named = [(EVENTS_QUEUE, layout.events), *layout.outputs.items()]
    named.append((DEAD_LETTERS, layout.dead_letters(settings, policy)))
    found = []
    for utility, queue_name in named:
        url = find_queue(client, queue_name)
        if url is None:
            found.append(QueueStatus(utility, queue_name, None))
            continue
        raw = client.get_queue_attributes(QueueUrl=url, AttributeNames=list(COUNTS))["Attributes"]
        counts = {field: int(raw.get(attribute, 0)) for attribute, field in COUNTS.items()}
        found.append(QueueStatus(utility, queue_name, url, **counts))
    return found


def run_status(args: Any) -> int:
    """Print the queues' counts."""
    settings = settings_for_tool()
    site = load(settings)
    client = client_for(settings)
    with talking_to(client, settings):
        found = survey(client, site)
    missing = [item for item in found if item.url is None]
    if args.json:
        print(orjson.dumps([asdict(item) for item in found], option=orjson.OPT_INDENT_2).decode())
        return FAILED if missing else OK
    print(f"SQS endpoint: {client.meta.endpoint_url}  (approximate counts)")
    rows = [
        (item.queue_name, item.utility, item.visible, item.in_flight, item.delayed)
        if item.url
        else (item.queue_name, item.utility, "missing", "-", "-")
        for item in found
    ]
    print(table(("queue", "role", "visible", "in flight", "delayed"), rows))
    dead = found[-1]
    if dead.url and (dead.visible or dead.in_flight or dead.delayed):
        total = (dead.visible or 0) + (dead.in_flight or 0) + (dead.delayed or 0)
        print(f"\n{total} dead letter(s) in {dead.queue_name}: see why with `choreographer dlq show`.")
    if missing:
        names = ", ".join(item.queue_name for item in missing)
        print(f"\nmissing: {names}: create them with `choreographer queues create`.")
        return FAILED
    return OK


def output_queue(site: Site, name: str) -> tuple[Queue, str]:
    """The output queue utility called ``name`` (or whose SQS queue is), with its SQS name."""
    layout = Layout.of(site.registry, site.settings)
    for utility, queue_name in layout.outputs.items():
        if name in (utility, queue_name):
            return site.registry.getUtility(IQueue, name=utility), queue_name
    names = ", ".join(f"{utility} ({queue_name})" for utility, queue_name in layout.outputs.items())
    fail(f"no output queue is called {name!r}; the output queues are: {names}", USAGE)


def peeked(message: SQSMessage) -> dict[str, Any]:
    """A message as the JSON line ``peek`` prints (a JSON body as JSON, any other as text)."""
    try:
        body = orjson.loads(message.body)
    except orjson.JSONDecodeError:
        body = message.body
    sent = int(message.attributes.get("SentTimestamp", "0") or 0)
    return {
        "message_id": message.message_id,
        "sent_at": datetime.fromtimestamp(sent / 1000, UTC).isoformat() if sent else None,
        "receive_count": message.receive_count,
        "attributes": message.message_attributes,
        "body": body,
    }


def run_peek(args: Any) -> int:
    """Print an output queue's messages, consuming none."""
    settings = settings_for_tool()
    site = load(settings)
    queue, queue_name = output_queue(site, args.name)
    client = client_for(settings)
    with talking_to(client, settings):
        queue.connect(client, queue_name)
        letters = peek(queue, args.max)
    for letter in letters:
        print(orjson.dumps(peeked(letter.message)).decode())
    return OK
