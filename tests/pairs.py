"""The twoactions site (one event, two actions) on moto's mock: ``Pairs`` runs the worker
on its queues; the ``pairs`` fixture (tests/conftest.py) makes one."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

from botocore.exceptions import ClientError

from briefy.choreographer.admin.provision import create_queues
from briefy.choreographer.bootstrap import connect
from briefy.choreographer.config import Settings
from briefy.choreographer.site import load_site
from briefy.choreographer.worker import Worker
from tests.fixtures.twoactions import SITE_ZCML
from tests.support import TEST_STATE_KEY, event


def pair(**fields: Any) -> dict[str, Any]:
    """A ``pair.created`` event (two actions: first.queue, then second.queue)."""
    return event("pair.created", {"name": "left"}, **fields)


class Pairs:
    """The worker on the twoactions site's queues in moto's mock, and helpers to read them."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self.client = client
        site = load_site(settings)
        create_queues(client, site.registry, settings)
        self.app = connect(site, client)
        self.worker = Worker(self.app)
        self.urls = {name: str(queue.url) for name, queue in self.app.queues.items()}
        self.urls["dlq"] = str(self.app.dead_letters.url)
        self.fifo = settings.queue_name("events.queue", "events").endswith(".fifo")
        self.received: list[str] = []
        client.meta.events.register("after-call.sqs.ReceiveMessage", self._record)

    def _record(self, parsed: dict[str, Any], **_: Any) -> None:
        self.received += [message["ReceiptHandle"] for message in parsed.get("Messages", [])]

    def send(self, body: Any, group: str = "g") -> str:
        extra = {"MessageGroupId": group, "MessageDeduplicationId": str(random.random())} if self.fifo else {}
        return str(
            self.client.send_message(
                QueueUrl=self.urls["events.queue"], MessageBody=json.dumps(body), **extra
            )["MessageId"]
        )

    def take(self, name: str) -> list[dict[str, Any]]:
        """Receive (and delete) what is on a queue."""
        found: list[dict[str, Any]] = []
        while True:
            response = self.client.receive_message(
                QueueUrl=self.urls[name], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = response.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                self.client.delete_message(QueueUrl=self.urls[name], ReceiptHandle=message["ReceiptHandle"])
            found += messages

    def expire(self) -> None:
        """Make every event received so far visible again, as if its visibility timeout ran out."""
        for handle in self.received:
            with contextlib.suppress(ClientError):  # deleted, or from another queue
                self.client.change_message_visibility(
                    QueueUrl=self.urls["events.queue"], ReceiptHandle=handle, VisibilityTimeout=0
                )
        self.received.clear()


def pairs_settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "endpoint_url": "http://mocked",
        "zcml": SITE_ZCML,
        "wait_time": 0,
        "backoff_base": 0.0,
        "concurrency": 1,
        "state_keys": (TEST_STATE_KEY.encode(),),
    }
    return Settings(**{**values, **changes})
