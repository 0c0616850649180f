"""SQS queues: the ``IQueue`` contract and its boto3 implementation, ``Queue``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import fastjsonschema
import orjson
import structlog
from zope.interface import implementer

from briefy.common.errors import InvalidPayload, QueueNotFound, error_code, is_transient
from briefy.common.interfaces import IQueue
from briefy.common.queue import sqs
from briefy.common.queue.message import OutgoingMessage, SendResult, SQSMessage
from briefy.common.queue.sqs import BATCH_BYTES, BATCH_ENTRIES

__all__ = ["IQueue", "OutgoingMessage", "Queue", "SQSMessage", "SendResult", "approximate_count"]

log = structlog.get_logger(__name__)

#: What the worker reads of a message's system attributes (AWSTraceHeader: X-Ray's trace context).
_SYSTEM_ATTRIBUTES = ["ApproximateReceiveCount", "MessageGroupId", "SentTimestamp", "AWSTraceHeader"]


#: The counts that make up a queue's depth: messages visible and messages in flight.
_DEPTH = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


def approximate_count(client: Any, url: str) -> int:
    """SQS's approximate count of the messages on the queue at ``url`` (visible and in flight)."""
    raw = client.get_queue_attributes(QueueUrl=url, AttributeNames=_DEPTH)["Attributes"]
    return sum(int(raw.get(name, 0)) for name in _DEPTH)


def dumps(payload: Any) -> str:
    """Serialise a payload to the JSON text of a message body.

    orjson, except for what it cannot write exactly (integers beyond 64 bits): those
    go through the standard library, so a big number reaches the output unchanged.
    """
    try:
        return orjson.dumps(payload).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@implementer(IQueue)
class Queue:
    """An SQS queue reached through a boto3 SQS client shared by the process."""

    name: str = ""
    default_queue_name: str = ""
    schema: Mapping[str, Any] | None = None

    def __init__(self) -> None:
        self.client: Any = None
        self.url: str | None = None
        self.queue_name: str = self.default_queue_name
        self.fifo: bool = False
        self.visibility_timeout: int = 30
        self.attributes: dict[str, str] = {}
        self._validator = fastjsonschema.compile(dict(self.schema)) if self.schema else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} -> {self.queue_name!r}>"

    # -- binding -------------------------------------------------------------
    def connect(self, client: Any, queue_name: str | None = None, create: bool = False) -> None:
        """Resolve the queue URL (creating the queue when asked) and read its attributes."""
        self.client = client
        self.queue_name = queue_name or self.default_queue_name
        if sqs.is_url(self.queue_name):
            self.url = self.queue_name
            self.queue_name = sqs.name_of(self.url)
        elif create:
            attributes = sqs.create_attributes(self.queue_name)
            self.url = client.create_queue(QueueName=self.queue_name, Attributes=attributes)["QueueUrl"]
        else:
            try:
                self.url = client.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
            except client.exceptions.QueueDoesNotExist as error:
                raise QueueNotFound(self.queue_name) from error
        self.refresh_attributes()

    def refresh_attributes(self) -> None:
        """Read the queue's attributes (FIFO, visibility timeout, redrive policy)."""
        try:
            response = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])
        except self.client.exceptions.QueueDoesNotExist as error:
            raise QueueNotFound(self.queue_name) from error
        self.attributes = dict(response.get("Attributes", {}))
        self.fifo = self.attributes.get("FifoQueue", "false") == "true"
        self.visibility_timeout = int(self.attributes.get("VisibilityTimeout", "30"))

    @property
    def max_message_size(self) -> int:
        """The largest message (body and attributes, in bytes) the queue accepts."""
        return int(self.attributes.get("MaximumMessageSize", BATCH_BYTES))

    # -- writing -------------------------------------------------------------
    def validate(self, payload: Any) -> None:
        """Raise ``InvalidPayload`` unless the payload satisfies the queue's schema."""
        if self._validator is None:
            return
        try:
            self._validator(payload)
        except fastjsonschema.JsonSchemaException as error:
            raise InvalidPayload(f"{self.name}: {error}") from error

    def write_message(
        self,
        payload: Any,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        group_id: str | None = None,
        delay: int = 0,
    ) -> str:
        """``IQueue.write_message``: the schema check, then one SendMessage (``send``)."""
        self.validate(payload)
        return self.send(OutgoingMessage(dumps(payload), dict(attributes or {}), dedup_id, group_id, delay))

    def send(self, message: OutgoingMessage) -> str:
        """Send one message as it is (no schema check); return the SQS MessageId."""
        entry = message.entry("0", self.fifo)
        del entry["Id"]
        response = self.client.send_message(QueueUrl=self.url, **entry)
        return str(response["MessageId"])

    def write_messages(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        """Send messages with SendMessageBatch; one ``SendResult`` each, in order."""
        results: list[SendResult] = []
        for chunk in batches(messages):
            results.extend(self._send_batch(chunk))
        return results

    def _send_batch(self, chunk: list[OutgoingMessage]) -> list[SendResult]:
        entries = [message.entry(str(i), self.fifo) for i, message in enumerate(chunk)]
        try:
            response = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
        except Exception as error:  # every entry of the call shares its fate
            code, transient = error_code(error), is_transient(error)
            log.warning("send_batch_failed", queue=self.name, error=code, entries=len(chunk))
            return [SendResult(m, None, code, str(error), transient) for m in chunk]
        ok = {item["Id"]: item["MessageId"] for item in response.get("Successful", [])}
        failed = {item["Id"]: item for item in response.get("Failed", [])}
        results = []
        for i, message in enumerate(chunk):
            if str(i) in ok:
                results.append(SendResult(message, ok[str(i)]))
                continue
            item = failed.get(str(i), {"Code": "Missing", "SenderFault": False})
            results.append(
                SendResult(
                    message,
                    None,
                    str(item.get("Code", "")),
                    str(item.get("Message", "")),
                    not item.get("SenderFault", False),
                )
            )
        return results

    # -- reading -------------------------------------------------------------
    def get_messages(self, max_number: int = 10, wait_time: int = 20) -> list[SQSMessage]:
        """Receive up to ``max_number`` messages, long polling for ``wait_time`` seconds."""
        # Their visibility timeouts start during the call: count from its start, to be safe.
        asked_at = time.monotonic()
        response = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_number,
            WaitTimeSeconds=wait_time,
            MessageSystemAttributeNames=_SYSTEM_ATTRIBUTES,
            MessageAttributeNames=["All"],
        )
        arrived_at = time.monotonic()
        return [SQSMessage.from_response(raw, asked_at, arrived_at) for raw in response.get("Messages", [])]

    def delete_messages(self, messages: Sequence[SQSMessage]) -> list[SQSMessage]:
        """Delete messages with DeleteMessageBatch; return those not deleted."""
        return self._batch_call(
            "delete_message_batch",
            [(m, {"ReceiptHandle": m.receipt_handle}) for m in messages],
        )

    def change_visibility(self, items: Iterable[tuple[SQSMessage, int]]) -> list[SQSMessage]:
        """Set each message's visibility timeout (seconds); return those that failed."""
        return self._batch_call(
            "change_message_visibility_batch",
            [(m, {"ReceiptHandle": m.receipt_handle, "VisibilityTimeout": int(t)}) for m, t in items],
        )

    def _batch_call(self, operation: str, items: list[tuple[SQSMessage, dict[str, Any]]]) -> list[SQSMessage]:
        failed: list[SQSMessage] = []
        call = getattr(self.client, operation)
        for start in range(0, len(items), BATCH_ENTRIES):
            chunk = items[start : start + BATCH_ENTRIES]
            entries = [{"Id": str(i), **entry} for i, (_, entry) in enumerate(chunk)]
            try:
                response = call(QueueUrl=self.url, Entries=entries)
            except Exception as error:
                log.warning(
                    "queue_call_failed", queue=self.name, operation=operation, error=error_code(error)
                )
                failed.extend(m for m, _ in chunk)
                continue
            failed.extend(chunk[int(item["Id"])][0] for item in response.get("Failed", []))
        return failed


def batches(messages: Sequence[OutgoingMessage]) -> Iterator[list[OutgoingMessage]]:
    """Split messages into SendMessageBatch calls within the entry and byte limits."""
    chunk: list[OutgoingMessage] = []
    size = 0
    for message in messages:
        message_size = message.size()
        if chunk and (len(chunk) == BATCH_ENTRIES or size + message_size > BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += message_size
    if chunk:
        yield chunk
