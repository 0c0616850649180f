"""Creating the choreographer's queues (embedded endpoint, ``choreographer queues create``)."""

from __future__ import annotations

from typing import Any

import orjson
from zope.component import getUtilitiesFor

from briefy.choreographer.config import Settings
from briefy.common.interfaces import IQueue
from briefy.common.queue.event import EventQueue

#: Receives beyond the worker's own attempt limit after which SQS itself dead-letters
#: (a backstop for workers that crash on a message; the worker acts well before).
REDRIVE_MARGIN = 5


def create_queues(client: Any, settings: Settings) -> list[str]:
    """Create (or find) the DLQ, the events queue with its redrive policy, and every
    queue utility's queue; return the URLs. Safe to run again."""
    urls = []
    events: EventQueue | None = None
    for name, queue in sorted(getUtilitiesFor(IQueue)):
        queue_name = settings.queue_name(name, queue.default_queue_name)
        if isinstance(queue, EventQueue):
            events = queue
            continue
        queue.connect(client, queue_name, create=True)
        urls.append(queue.url)
    if events is not None:
        events_name = settings.queue_name(events.name, events.default_queue_name)
        fifo = events_name.endswith(".fifo")
        dlq_name = settings.dead_letter_queue or events.default_dead_letter_queue
        if fifo and not dlq_name.endswith(".fifo"):
            dlq_name += ".fifo"
        attributes = {"FifoQueue": "true"} if fifo else {}
        dlq_url = client.create_queue(QueueName=dlq_name, Attributes=attributes)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        policy = {
            "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
            "maxReceiveCount": settings.max_attempts + REDRIVE_MARGIN,
        }
        attributes["RedrivePolicy"] = orjson.dumps(policy).decode()
        url = client.create_queue(QueueName=events_name, Attributes=attributes)["QueueUrl"]
        # create_queue does not change an existing queue: make the policy hold.
        client.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": attributes["RedrivePolicy"]})
        urls += [dlq_url, url]
    return urls
