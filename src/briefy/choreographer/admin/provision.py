"""Creating the choreographer's queues (embedded endpoint, ``choreographer queues create``).

Safe to run again: a queue that exists is found and left as it is, except that an
events queue with no redrive policy gets one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from briefy.choreographer.config import Settings
from briefy.common.interfaces import IQueue
from briefy.common.queue import sqs
from briefy.common.queue.event import EVENTS_QUEUE, EventQueue
from briefy.common.queue.sqs import RedrivePolicy

#: Receives beyond the worker's own attempt limit after which SQS itself dead-letters
#: (a backstop for workers that crash on a message; the worker acts well before).
REDRIVE_MARGIN = 5
#: The role of the dead-letter queue in reports (it is no queue utility).
DEAD_LETTERS = "dead letters"


@dataclass(frozen=True)
class Provisioned:
    """What ``provision`` found or made for one queue."""

    utility: str
    queue_name: str
    url: str | None
    status: str  # "created", "exists" or "missing" (a queue given by URL that is not there)
    note: str = ""


@dataclass(frozen=True)
class Layout:
    """The queues a choreography uses under some settings: utility name to SQS queue name."""

    events: str
    outputs: dict[str, str]
    default_dead_letters: str

    @classmethod
    def of(cls, registry: Any, settings: Settings) -> Layout:
        """The queues of the queue utilities in ``registry``, named by ``settings``."""
        found = dict(registry.getUtilitiesFor(IQueue))
        events = found.pop(EVENTS_QUEUE)
        return cls(
            events=settings.queue_name(EVENTS_QUEUE, events.default_queue_name),
            outputs={
                name: settings.queue_name(name, q.default_queue_name) for name, q in sorted(found.items())
            },
            default_dead_letters=str(
                getattr(events, "default_dead_letter_queue", EventQueue.default_dead_letter_queue)
            ),
        )

    def dead_letters(self, settings: Settings, policy: RedrivePolicy | None) -> str:
        """The dead-letter queue the worker uses (see ``sqs.dead_letter_name``)."""
        return sqs.dead_letter_name(
            settings.dead_letter_queue, self.events, policy, self.default_dead_letters
        )


def find_queue(client: Any, queue_name: str) -> str | None:
    """The URL of a queue, or None when it does not exist."""
    try:
        if sqs.is_url(queue_name):
            client.get_queue_attributes(QueueUrl=queue_name, AttributeNames=["QueueArn"])
            return queue_name
        return str(client.get_queue_url(QueueName=queue_name)["QueueUrl"])
    except client.exceptions.QueueDoesNotExist:
        return None


def redrive_policy(client: Any, url: str) -> RedrivePolicy | None:
    """The queue's redrive policy, if it has one."""
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get(
        "Attributes", {}
    )
    return RedrivePolicy.of(attributes)


def provision(client: Any, registry: Any, settings: Settings) -> list[Provisioned]:
    """Find or create the events queue, its DLQ (with the redrive policy) and every
    output queue utility's queue, in that order."""
    layout = Layout.of(registry, settings)
    found = _events_and_dead_letters(client, layout, settings)
    for name, queue_name in layout.outputs.items():
        found.append(_ensure(client, name, queue_name))
    return found


def create_queues(client: Any, registry: Any, settings: Settings) -> list[str]:
    """Create (or find) every queue; return the URLs of those that are there."""
    return [item.url for item in provision(client, registry, settings) if item.url]


def _ensure(
    client: Any, utility: str, queue_name: str, attributes: dict[str, str] | None = None
) -> Provisioned:
    """Find the queue, or create it with ``attributes`` (FIFO when the name ends in .fifo)."""
    url = find_queue(client, queue_name)
    if url is not None:
        return Provisioned(utility, queue_name, url, "exists")
    if sqs.is_url(queue_name):
        return Provisioned(utility, queue_name, None, "missing", "given as a URL: create it there")
    attributes = {**sqs.create_attributes(queue_name), **(attributes or {})}
    url = client.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    return Provisioned(utility, queue_name, str(url), "created")


def _events_and_dead_letters(client: Any, layout: Layout, settings: Settings) -> list[Provisioned]:
    """The events queue and its DLQ, tied by a redrive policy."""
    url = find_queue(client, layout.events)
    policy = redrive_policy(client, url) if url is not None else None
    dlq = _ensure(client, DEAD_LETTERS, layout.dead_letters(settings, policy))
    if dlq.url is None:
        return [_ensure(client, EVENTS_QUEUE, layout.events), dlq]
    arn = client.get_queue_attributes(QueueUrl=dlq.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    wanted = RedrivePolicy(arn, settings.max_attempts + REDRIVE_MARGIN)
    moved = f"dead letters to {dlq.queue_name}"
    if url is None:
        created = _ensure(client, EVENTS_QUEUE, layout.events, {"RedrivePolicy": wanted.text()})
        note = f"{moved} after {wanted.max_receive_count} receives" if created.url else created.note
        return [Provisioned(EVENTS_QUEUE, layout.events, created.url, created.status, note), dlq]
    if policy is None:
        client.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": wanted.text()})
        note = f"redrive policy added: {moved} after {wanted.max_receive_count} receives"
    elif policy.target_arn != arn:
        note = (
            f"its redrive policy sends dead letters to {policy.target}, not {dlq.queue_name}: left as it is"
        )
    else:
        note = f"{moved} after {policy.max_receive_count} receives"
    return [Provisioned(EVENTS_QUEUE, layout.events, url, "exists", note), dlq]
