"""Internal events: what the worker fires with ``zope.event.notify``.

Each event name (``lead.created``) is a named utility providing ``IInternalEvent``:
the utility is the event's class, a factory called with the ``EventMessage``.
Names with no utility fall back to ``InternalEvent``, so they are still logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from zope.component import queryUtility
from zope.interface import Attribute, implementer

from briefy.choreographer.events.message import EventMessage, parse_event
from briefy.choreographer.pipeline.outbox import ImmediateOutbox, IOutbox
from briefy.common.interfaces import IEvent

__all__ = ["EventMessage", "IInternalEvent", "InternalEvent", "event_factory", "parse_event"]


class IInternalEvent(IEvent):
    """An event dispatched inside the choreographer.

    Handlers subscribe to it, or to a specialisation (``ILeadEvent``, ``IMailEvent``).
    """

    message = Attribute("The checked ``EventMessage`` it was made from.")
    outbox = Attribute("The ``IOutbox`` that handlers hand their actions to.")


@implementer(IInternalEvent)
class InternalEvent:
    """The generic event: every event name without a factory of its own gets this."""

    def __init__(self, message: EventMessage, outbox: IOutbox | None = None) -> None:
        self.message = message
        self.outbox: IOutbox = outbox if outbox is not None else ImmediateOutbox()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.event_name} {self.id}>"

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def event_name(self) -> str:
        return self.message.event_name

    @property
    def guid(self) -> str:
        return self.message.guid

    @property
    def actor(self) -> str:
        return self.message.actor

    @property
    def request_id(self) -> str:
        return self.message.request_id

    @property
    def created_at(self) -> datetime:
        return self.message.created_at

    @property
    def data(self) -> Mapping[str, Any]:
        return MappingProxyType(self.message.data)


def event_factory(event_name: str) -> Any:
    """The factory registered for ``event_name``, or ``InternalEvent``."""
    return queryUtility(IInternalEvent, name=event_name) or InternalEvent
