"""Messages as they come from SQS and as they go to it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from briefy.common.queue.sqs import REFUSED

#: Longest id the worker writes in an attribute, in characters (a UUID has 36).
MAX_ID = 256


def sqs_text(value: str) -> str:
    """``value`` with the characters SQS refuses in attribute values replaced by U+FFFD."""
    return REFUSED.sub("\ufffd", value) if REFUSED.search(value) else value


def id_text(value: str, limit: int = MAX_ID) -> str:
    """An id cut to ``limit`` characters for an attribute (the full value stays in the
    body, or in the log line; ``OutgoingMessage`` replaces the characters SQS refuses)."""
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def number(text: str | None, default: int) -> int:
    """An attribute SQS sets that should be a whole number, or ``default`` if it is not."""
    try:
        return int(text) if text else default
    except ValueError:
        return default


@dataclass(slots=True, eq=False)
class SQSMessage:
    """A received SQS message: its body, receipt handle and attributes.

    Each delivery is its own object and compares by identity, which keeps the
    worker's membership checks over a batch cheap.
    """

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str] = field(default_factory=dict)
    message_attributes: dict[str, str] = field(default_factory=dict)
    #: When (``time.monotonic()``) its visibility timeout started, at the latest: when the
    #: receive call was made (the heartbeat counts from here, to be safe).
    received_at: float = field(default_factory=time.monotonic)
    #: When the receive call returned it (durations count from here: waiting is no work).
    arrived_at: float = field(default_factory=time.monotonic)

    @classmethod
    def from_response(
        cls, raw: dict[str, Any], received_at: float | None = None, arrived_at: float | None = None
    ) -> SQSMessage:
        """Build from one entry of a ReceiveMessage response (asked for at ``received_at``,
        returned at ``arrived_at``)."""
        now = time.monotonic()
        attributes = {
            name: str(value.get("StringValue", ""))
            for name, value in raw.get("MessageAttributes", {}).items()
        }
        return cls(
            message_id=raw["MessageId"],
            receipt_handle=raw["ReceiptHandle"],
            body=raw.get("Body", ""),
            attributes=dict(raw.get("Attributes", {})),
            message_attributes=attributes,
            received_at=now if received_at is None else received_at,
            arrived_at=now if arrived_at is None else arrived_at,
        )

    @property
    def receive_count(self) -> int:
        """How many times SQS has delivered this message (1 on the first delivery)."""
        return max(1, number(self.attributes.get("ApproximateReceiveCount"), 1))

    @property
    def group_id(self) -> str | None:
        """The FIFO MessageGroupId, if any."""
        return self.attributes.get("MessageGroupId")


@dataclass(slots=True)
class OutgoingMessage:
    """A message ready to send: serialised body, attributes, FIFO ids.

    Attributes are strings unless ``data_types`` gives another SQS data type for one
    (``Number``); ``system_attributes`` are message system attributes
    (``AWSTraceHeader``), which SQS counts neither among the 10 attributes nor in the size.
    """

    body: str
    attributes: dict[str, str] = field(default_factory=dict)
    dedup_id: str | None = None
    group_id: str | None = None
    delay: int = 0
    # Most messages have neither: they share one empty mapping (none made per message).
    system_attributes: Mapping[str, str] | None = None
    data_types: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        # The one place attribute values are made fit for SQS: every write goes through here.
        self.attributes = {name: sqs_text(value) for name, value in self.attributes.items()}

    def size(self) -> int:
        """Bytes SQS counts against its size limits: body plus attributes."""
        # Empty values are not sent (see ``entry``); the rest count name, value and type.
        # ASCII text (the usual) has as many bytes as characters: no need to encode it.
        body = self.body
        total = len(body) if body.isascii() else len(body.encode("utf-8"))
        for name, value in self.attributes.items():
            if value:
                text = name + value
                total += (len(text) if text.isascii() else len(text.encode("utf-8"))) + len("String")
        return total

    def entry(self, entry_id: str, fifo: bool) -> dict[str, Any]:
        """The SendMessageBatch entry (or SendMessage arguments without ``Id``)."""
        entry: dict[str, Any] = {"Id": entry_id, "MessageBody": self.body}
        types = self.data_types
        if self.attributes and not types:
            entry["MessageAttributes"] = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in self.attributes.items()
                if value != ""
            }
        elif self.attributes and types:
            entry["MessageAttributes"] = {
                name: {"DataType": types.get(name, "String"), "StringValue": value}
                for name, value in self.attributes.items()
                if value != ""
            }
        if self.system_attributes:
            entry["MessageSystemAttributes"] = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in self.system_attributes.items()
            }
        if fifo:
            entry["MessageGroupId"] = self.group_id or "default"
            if self.dedup_id:
                entry["MessageDeduplicationId"] = self.dedup_id
        elif self.delay:
            entry["DelaySeconds"] = self.delay
        return entry


@dataclass(slots=True, frozen=True)
class SendResult:
    """The outcome of sending one ``OutgoingMessage``."""

    message: OutgoingMessage
    message_id: str | None = None
    error_code: str = ""
    error_message: str = ""
    transient: bool = False

    @property
    def ok(self) -> bool:
        """True when SQS accepted the message."""
        return self.message_id is not None
