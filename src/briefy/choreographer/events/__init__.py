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

from zope.component import getSiteManager
from zope.interface import implementer

from briefy.choreographer.events.envelopes import Envelope
from briefy.choreographer.events.message import EventMessage, parse_event
from briefy.choreographer.events.outbox import ImmediateOutbox
from briefy.choreographer.interfaces import IInternalEvent, IOutbox

__all__ = [
    "Envelope",
    "EventMessage",
    "IInternalEvent",
    "InternalEvent",
    "event_factory",
    "internal_event",
    "parse_event",
]


@implementer(IInternalEvent)
class InternalEvent:
    """The generic event: every event name without a factory of its own gets this.

    Made with no outbox, it runs each action at once (``ImmediateOutbox``); made
    with no registry, its handlers look up in the global one. A subclass may
    declare ``data_schema``, the JSON Schema its ``data`` must meet (see
    ``briefy.choreographer.events.schema``).
    """

    #: The JSON Schema (draft-07) of ``data``; None: any JSON object.
    data_schema: Mapping[str, Any] | None = None

    def __init__(self, message: EventMessage, outbox: IOutbox | None = None, registry: Any = None) -> None:
        self.message = message
        self.outbox: IOutbox = outbox if outbox is not None else ImmediateOutbox()
        self.registry = registry if registry is not None else getSiteManager()

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

    @property
    def envelope(self) -> Envelope | None:
        return self.message.envelope


def event_factory(event_name: str, registry: Any = None) -> Any:
    """The factory registered for ``event_name`` in ``registry`` (the global one by
    default), or ``InternalEvent``."""
    found = (registry if registry is not None else getSiteManager()).queryUtility(
        IInternalEvent, name=event_name
    )
    return found or InternalEvent


def internal_event(message: EventMessage, outbox: IOutbox, registry: Any) -> Any:
    """The internal event of ``message``, made by the factory ``registry`` holds for its name
    and dispatched in ``registry`` (a factory of the seed's shape, not an ``InternalEvent``,
    takes the message and the outbox only)."""
    factory = event_factory(message.event_name, registry)
    if isinstance(factory, type) and issubclass(factory, InternalEvent):
        return factory(message, outbox, registry)
    return factory(message, outbox)
