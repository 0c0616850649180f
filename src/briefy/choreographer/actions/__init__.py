"""Actions: turn an event's data into a payload and write it to an output queue.

An action is a multi-adapter of ``(IDataTransferObject, IInternalEvent)`` to
``IAction`` (see ``briefy.choreographer.interfaces``), registered under a name;
handlers run them ordered by ``weight``.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from zope.component import getUtility
from zope.interface import implementer

from briefy.choreographer.events.message import NAMESPACE
from briefy.choreographer.interfaces import IAction
from briefy.common.interfaces import IQueue
from briefy.common.queue import dumps
from briefy.common.queue.message import OutgoingMessage, id_text

__all__ = ["Action", "IAction", "ordered_actions", "output_id"]

log = structlog.get_logger(__name__)

#: The weight of an action that declares none.
DEFAULT_WEIGHT = 100


def output_id(event_id: str, action_name: str) -> str:
    """The deterministic id of what ``action_name`` sends for ``event_id``."""
    return str(uuid.uuid5(NAMESPACE, f"{event_id}/{action_name}"))


def ordered_actions(registry: Any, data_spec: Any, event_spec: Any) -> list[tuple[str, Any]]:
    """The ``(name, factory)`` of every action of ``(data, event)`` specs in ``registry``,
    lowest ``weight`` first, then by name: the order handlers run them in."""
    found = registry.adapters.lookupAll((data_spec, event_spec), IAction)
    return sorted(found, key=lambda item: (getattr(item[1], "weight", DEFAULT_WEIGHT), item[0]))


@implementer(IAction)
class Action:
    """Base action: subclasses set ``_queue_name`` and write ``transform()``."""

    weight: int = DEFAULT_WEIGHT
    _queue_name: str = ""

    def __init__(self, data: Any, event: Any) -> None:
        self.data = data
        self.event = event
        self.name = f"{type(self).__module__}.{type(self).__qualname__}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} weight={self.weight} -> {self._queue_name}>"

    @property
    def available(self) -> bool:
        """Whether the action applies to this event; override to add a condition."""
        return True

    def transform(self) -> dict[str, Any]:
        """Build the payload; subclasses must override it."""
        raise NotImplementedError(f"{type(self).__name__} has no transform()")

    def get_queue(self) -> IQueue:
        """The ``IQueue`` utility named by ``_queue_name``."""
        queue: IQueue = getUtility(IQueue, name=self._queue_name)
        return queue

    def output(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The payload with its output id and correlation id, and its message attributes."""
        event = self.event
        oid = output_id(event.id, self.name)
        payload = {**self.transform(), "output_id": oid, "request_id": event.request_id}
        attributes = {
            "output_id": oid,
            "event_id": id_text(event.id),
            "event_name": id_text(event.event_name),
            "action": self.name,
            "request_id": id_text(event.request_id),
        }
        return payload, attributes

    def message(self, queue: IQueue) -> OutgoingMessage:
        """The outgoing message for ``queue``, checked against its schema."""
        payload, attributes = self.output()
        queue.validate(payload)
        oid = attributes["output_id"]
        return OutgoingMessage(dumps(payload), attributes, dedup_id=oid, group_id=self.event.guid)

    def __call__(self) -> str:
        """Write the payload to the queue now (outside the worker's batching)."""
        payload, attributes = self.output()
        queue = self.get_queue()
        message_id = queue.write_message(
            payload, attributes, dedup_id=attributes["output_id"], group_id=self.event.guid
        )
        log.info("action_sent", action=self.name, queue=queue.name, message_id=message_id)
        return str(message_id)
