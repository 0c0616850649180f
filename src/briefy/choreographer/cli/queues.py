"""``choreographer queues create|status``: make the queues, and see how full they are."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

from briefy.choreographer.admin.provision import DEAD_LETTERS, Layout, find_queue, provision, redrive_policy
from briefy.choreographer.cli.common import FAILED, OK, guarded, load, settings_for_tool
from briefy.choreographer.cli.sqs import client_for, talking_to
from briefy.choreographer.cli.table import table
from briefy.choreographer.site import Site
from briefy.common.queue.event import EVENTS_QUEUE

#: The SQS attributes ``status`` reads, and what it calls them.
COUNTS = {
    "ApproximateNumberOfMessages": "visible",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}


def register(subparsers: Any) -> None:
    """Add ``queues`` with ``create`` and ``status``."""
    parser = subparsers.add_parser(
        "queues",
        help="create the queues, or show their depths",
        description="Create the choreographer's SQS queues, or show how many messages each holds.",
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
