"""Creating the choreographer's queues (embedded endpoint, ``choreographer queues create``).

Safe to run again: a queue that exists is found and left as it is, except that an
events queue with no redrive policy gets one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from zope.component import getUtilitiesFor, getUtility

from briefy.choreographer.config import Settings
from briefy.common.interfaces import IQueue

#: Receives beyond the worker's own attempt limit after which SQS itself dead-letters
#: (a backstop for workers that crash on a message; the worker acts well before).
REDRIVE_MARGIN = 5
#: The role of the dead-letter queue in reports (it is no queue utility).
DEAD_LETTERS = "dead letters"
EVENTS = "events.queue"


@dataclass(frozen=True)
class Provisioned:
    """What ``provision`` found or made for one queue."""

    utility: str
    queue_name: str
    url: str | None
    status: str  # "created", "exists" or "missing" (a queue given by URL that is not there)
    note: str = ""


def is_url(queue_name: str) -> bool:
    """Whether a configured queue name is a queue URL."""
    return queue_name.startswith(("http://", "https://"))


def dead_letter_name(settings: Settings, events_name: str, redrive_target: str | None = None) -> str:
    """The DLQ the worker uses: the setting, else the events queue's redrive target, else
    ``events-dlq``; a FIFO events queue needs a FIFO DLQ."""
    name = settings.dead_letter_queue or redrive_target or _events_default_dlq()
    if events_name.endswith(".fifo") and not name.endswith(".fifo") and not is_url(name):
        name += ".fifo"
    return name


def _events_default_dlq() -> str:
    for name, queue in getUtilitiesFor(IQueue):
        if name == EVENTS:
            return str(getattr(queue, "default_dead_letter_queue", "events-dlq"))
    return "events-dlq"


def provision(client: Any, settings: Settings) -> list[Provisioned]:
    """Find or create the events queue, its DLQ (with the redrive policy) and every
    output queue utility's queue, in that order."""
    found = _events_and_dead_letters(client, settings)
    for name, queue in sorted(getUtilitiesFor(IQueue)):
        if name != EVENTS:
            found.append(_ensure(client, name, settings.queue_name(name, queue.default_queue_name)))
    return found


def create_queues(client: Any, settings: Settings) -> list[str]:
    """Create (or find) every queue; return the URLs of those that are there."""
    return [item.url for item in provision(client, settings) if item.url]


def find_queue(client: Any, queue_name: str) -> str | None:
    """The URL of a queue, or None when it does not exist."""
    try:
        if is_url(queue_name):
            client.get_queue_attributes(QueueUrl=queue_name, AttributeNames=["QueueArn"])
            return queue_name
        return str(client.get_queue_url(QueueName=queue_name)["QueueUrl"])
    except client.exceptions.QueueDoesNotExist:
        return None


def _ensure(
    client: Any, utility: str, queue_name: str, attributes: dict[str, str] | None = None
) -> Provisioned:
    """Find the queue, or create it with ``attributes`` (FIFO when the name ends in .fifo)."""
    url = find_queue(client, queue_name)
    if url is not None:
        return Provisioned(utility, queue_name, url, "exists")
    if is_url(queue_name):
        return Provisioned(utility, queue_name, None, "missing", "given as a URL: create it there")
    attributes = {**_fifo(queue_name), **(attributes or {})}
    url = client.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    return Provisioned(utility, queue_name, str(url), "created")


def redrive_policy(client: Any, url: str) -> dict[str, Any]:
    """The queue's redrive policy ({} when it has none)."""
    raw = client.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    policy: dict[str, Any] = orjson.loads(raw.get("RedrivePolicy") or "{}")
    return policy


def redrive_target(client: Any, url: str) -> str | None:
    """The name of the DLQ in the queue's redrive policy, if it has one."""
    return str(redrive_policy(client, url).get("deadLetterTargetArn", "")).rsplit(":", 1)[-1] or None


def _fifo(queue_name: str) -> dict[str, str]:
    return {"FifoQueue": "true"} if queue_name.endswith(".fifo") else {}


def _events_and_dead_letters(client: Any, settings: Settings) -> list[Provisioned]:
    """The events queue and its DLQ, tied by a redrive policy."""
    events = getUtility(IQueue, name=EVENTS)
    events_name = settings.queue_name(EVENTS, events.default_queue_name)
    url = find_queue(client, events_name)
    policy = redrive_policy(client, url) if url is not None else {}
    target = str(policy.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1] or None
    dlq = _ensure(client, DEAD_LETTERS, dead_letter_name(settings, events_name, target))
    if dlq.url is None:
        return [_ensure(client, EVENTS, events_name), dlq]
    arn = client.get_queue_attributes(QueueUrl=dlq.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    wanted = {"deadLetterTargetArn": arn, "maxReceiveCount": settings.max_attempts + REDRIVE_MARGIN}
    redrive = orjson.dumps(wanted).decode()
    moved = f"dead letters to {dlq.queue_name}"
    if url is None:
        created = _ensure(client, EVENTS, events_name, {"RedrivePolicy": redrive})
        note = f"{moved} after {wanted['maxReceiveCount']} receives" if created.url else created.note
        return [Provisioned(EVENTS, events_name, created.url, created.status, note), dlq]
    if not policy:
        client.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive})
        note = f"redrive policy added: {moved} after {wanted['maxReceiveCount']} receives"
    elif policy.get("deadLetterTargetArn") != arn:
        note = f"its redrive policy sends dead letters to {target}, not {dlq.queue_name}: left as it is"
    else:
        note = f"{moved} after {policy.get('maxReceiveCount')} receives"
    return [Provisioned(EVENTS, events_name, url, "exists", note), dlq]
