"""What SQS itself defines, in one place: queue names and URLs, FIFO queues, redrive
policies, the characters it accepts and its limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

#: SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch: entries per call.
BATCH_ENTRIES = 10
#: SendMessageBatch: bytes per call (and SQS's classic message size).
BATCH_BYTES = 262_144
#: Message attributes per message.
MAX_ATTRIBUTES = 10
#: The longest visibility timeout SQS grants, in seconds (12 hours).
MAX_VISIBILITY = 43_200
#: The longest DelaySeconds of a message, in seconds.
MAX_DELAY = 900
#: A FIFO queue's name ends with this.
FIFO_SUFFIX = ".fifo"
#: Characters outside what SQS accepts in a body or attribute value (XML 1.0 characters).
REFUSED = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def is_url(name: str) -> bool:
    """Whether a configured queue name is a queue URL."""
    return name.startswith(("http://", "https://"))


def name_of(name_or_url: str) -> str:
    """The queue name of a queue name or URL (a URL's last part)."""
    return name_or_url.rstrip("/").rsplit("/", 1)[-1] if is_url(name_or_url) else name_or_url


def is_fifo(name_or_url: str) -> bool:
    """Whether the queue so named is a FIFO queue."""
    return name_of(name_or_url).endswith(FIFO_SUFFIX)


def create_attributes(name: str) -> dict[str, str]:
    """The attributes CreateQueue needs for a queue of this name (FIFO when it ends in .fifo)."""
    return {"FifoQueue": "true"} if is_fifo(name) else {}


def name_of_arn(arn: str) -> str:
    """The queue name of a queue ARN (``arn:aws:sqs:region:account:name``)."""
    return arn.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class RedrivePolicy:
    """A queue's redrive policy: SQS moves a message to ``target_arn`` on the receive
    after ``max_receive_count``."""

    target_arn: str
    max_receive_count: int

    @property
    def target(self) -> str:
        """The dead-letter queue's name."""
        return name_of_arn(self.target_arn)

    @classmethod
    def of(cls, attributes: dict[str, Any]) -> RedrivePolicy | None:
        """The policy among a queue's attributes (``RedrivePolicy``), or None."""
        text = attributes.get("RedrivePolicy")
        if not text:
            return None
        try:
            policy = orjson.loads(text)
            return cls(str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def text(self) -> str:
        """The policy as SetQueueAttributes takes it."""
        return orjson.dumps(
            {"deadLetterTargetArn": self.target_arn, "maxReceiveCount": self.max_receive_count}
        ).decode()


def dead_letter_name(
    configured: str | None, events_name: str, policy: RedrivePolicy | None, default: str
) -> str:
    """The dead-letter queue of an events queue: the configured one, else its redrive
    policy's target, else ``default``; a FIFO events queue needs a FIFO one."""
    name = configured or (policy.target if policy else None) or default
    if is_fifo(events_name) and not is_fifo(name) and not is_url(name):
        name += FIFO_SUFFIX
    return name
