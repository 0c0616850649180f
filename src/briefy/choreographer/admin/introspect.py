"""Introspection of the registered choreography: events, handlers, actions, queues.

``choreographer events``, ``dry-run`` and ``graph`` read the live registry through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from zope.interface import implementedBy, providedBy
from zope.interface.interfaces import IInterface

from briefy.choreographer.actions import DEFAULT_WEIGHT, ordered_actions
from briefy.choreographer.config import Settings
from briefy.choreographer.events import InternalEvent
from briefy.choreographer.interfaces import IInternalEvent
from briefy.common.interfaces import IQueue

#: zope.interface's declaration API has no annotations.
_implemented_by: Any = implementedBy

#: The name under which the graph shows events with no factory of their own.
ANY_OTHER_EVENT = "*"


@dataclass(frozen=True)
class ActionInfo:
    """One registered action of an event."""

    event_name: str
    handler: str
    dto: str
    name: str
    weight: int
    queue: str
    condition: str
    factory: Any


@dataclass(frozen=True)
class HandlerInfo:
    """A handler an event reaches, and the actions it runs for that event (in order)."""

    name: str
    dto: str | None
    actions: tuple[ActionInfo, ...]

    @property
    def short_name(self) -> str:
        """``LeadHandler`` for a handler instance, ``logger.handler`` for a function."""
        module, _, qualname = self.name.rpartition(".")
        if qualname[:1].isupper():
            return qualname
        return f"{module.rpartition('.')[2]}.{qualname}"


@dataclass(frozen=True)
class EventInfo:
    """A registered event name (or ``*``, any other name), its class and its handlers."""

    event_name: str
    factory: Any
    handlers: tuple[HandlerInfo, ...]

    @property
    def class_name(self) -> str:
        return f"{self.factory.__module__}.{self.factory.__qualname__}"


@dataclass(frozen=True)
class QueueInfo:
    """A registered queue utility and the SQS queue it is bound to by the settings."""

    utility: str
    queue_name: str


def handler_name(handler: Any) -> str:
    """A readable name for a subscriber: its class for instances, its dotted path for functions."""
    if hasattr(handler, "__qualname__"):
        return f"{handler.__module__}.{handler.__qualname__}"
    cls = type(handler)
    return f"{cls.__module__}.{cls.__qualname__}"


def handlers_for(registry: Any, spec: IInterface) -> list[Any]:
    """The handler subscribers an event providing ``spec`` reaches, in the order notify calls them."""
    return list(registry.adapters.subscriptions([spec], None))


def event_factories(registry: Any) -> list[tuple[str, Any]]:
    """Every registered event name and its factory, sorted by name."""
    return sorted(registry.getUtilitiesFor(IInternalEvent), key=lambda item: item[0])


def condition(factory: Any) -> str:
    """The first line of the docstring of the action's ``available``, or 'always'."""
    available = getattr(factory, "available", None)
    doc = getattr(available, "__doc__", "") or ""
    if available is None or "override" in doc or not doc.strip():
        return "always"
    return doc.strip().splitlines()[0].rstrip(".")


def route(registry: Any, event_name: str, factory: Any) -> EventInfo:
    """The handlers and actions an event made by ``factory`` reaches."""
    spec = _implemented_by(factory)
    handlers = []
    for handler in handlers_for(registry, spec):
        dto = getattr(handler, "_info_class_", None)
        actions: list[ActionInfo] = []
        if dto is not None:
            for name, action in ordered_actions(registry, _implemented_by(dto), spec):
                actions.append(
                    ActionInfo(
                        event_name=event_name,
                        handler=handler_name(handler),
                        dto=dto.__name__,
                        name=name,
                        weight=int(getattr(action, "weight", DEFAULT_WEIGHT)),
                        queue=str(getattr(action, "_queue_name", "")),
                        condition=condition(action),
                        factory=action,
                    )
                )
        handlers.append(HandlerInfo(handler_name(handler), dto.__name__ if dto else None, tuple(actions)))
    return EventInfo(event_name, factory, tuple(handlers))


def routes(registry: Any, include_fallback: bool = False) -> list[EventInfo]:
    """Every registered event's route, sorted by name; with ``include_fallback``, then ``*``:
    what any other event name (made an ``InternalEvent``) reaches."""
    found = [route(registry, name, factory) for name, factory in event_factories(registry)]
    if include_fallback:
        found.append(route(registry, ANY_OTHER_EVENT, InternalEvent))
    return found


def choreography(registry: Any) -> Iterator[ActionInfo]:
    """Every (event, handler, action) the registry holds."""
    for event in routes(registry):
        for handler in event.handlers:
            yield from handler.actions


def queues(registry: Any, settings: Settings) -> list[QueueInfo]:
    """Every registered queue utility with its SQS queue name under ``settings``, by utility name."""
    return [
        QueueInfo(name, settings.queue_name(name, queue.default_queue_name))
        for name, queue in sorted(registry.getUtilitiesFor(IQueue))
    ]


def subscribers_of(registry: Any, event: Any) -> list[Any]:
    """The handler subscribers an event object reaches."""
    return handlers_for(registry, providedBy(event))
