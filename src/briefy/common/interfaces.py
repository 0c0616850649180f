"""Contracts of the briefy.common foundation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from briefy.common.queue.message import OutgoingMessage, SendResult, SQSMessage


class IEvent(Interface):
    """Something that happened, as read from a queue."""

    id = Attribute("Id of this event (a UUID string): the idempotency key.")
    event_name = Attribute("Dotted lower-case name, e.g. 'lead.created'.")
    guid = Attribute("Id of the object the event is about.")
    actor = Attribute("Who caused the event ('' when unknown).")
    request_id = Attribute("Correlation id ('' when unknown).")
    created_at = Attribute("When it happened (an aware datetime).")
    data = Attribute("The object's data: a read-only mapping.")


class IQueue(Interface):
    """An SQS queue, registered as a named utility (``events.queue``, ``mail.queue``).

    A queue is created without I/O (ZCML loads it) and bound to an SQS client
    and a queue URL by ``connect`` during bootstrap.
    """

    name = Attribute("Utility name, e.g. 'mail.queue'.")
    default_queue_name = Attribute("SQS queue name used when no setting names one.")
    queue_name = Attribute("The SQS queue name it is bound to (the default until connected).")
    schema = Attribute("JSON Schema that every payload must satisfy, or None.")
    url = Attribute("Queue URL once connected, else None.")
    fifo = Attribute("True for a FIFO queue (known once connected).")
    visibility_timeout = Attribute("The queue's VisibilityTimeout in seconds.")
    max_message_size = Attribute("The largest message (body and attributes, in bytes) it takes.")

    def connect(client: Any, queue_name: str | None = None, create: bool = False) -> None:
        """Bind to SQS: resolve the URL of ``queue_name`` and read its attributes.

        Raises ``QueueNotFound`` when the queue does not exist and ``create`` is false.
        """

    def validate(payload: Any) -> None:
        """Raise ``InvalidPayload`` unless ``payload`` satisfies ``schema``."""

    def write_message(
        payload: Any,
        attributes: Mapping[str, str] | None = None,
        dedup_id: str | None = None,
        group_id: str | None = None,
        delay: int = 0,
    ) -> str:
        """Validate, serialise and send one payload; return the SQS MessageId."""

    def write_messages(messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        """Send ``OutgoingMessage`` objects in batches; return one ``SendResult`` each."""

    def get_messages(max_number: int = 10, wait_time: int = 20) -> list[SQSMessage]:
        """Receive up to ``max_number`` ``SQSMessage`` objects, long polling."""

    def delete_messages(messages: Sequence[SQSMessage]) -> list[SQSMessage]:
        """Delete received messages in batches; return those that failed."""

    def change_visibility(items: Iterable[tuple[SQSMessage, int]]) -> list[SQSMessage]:
        """Set visibility timeouts from ``(message, seconds)`` pairs; return the messages that failed."""
