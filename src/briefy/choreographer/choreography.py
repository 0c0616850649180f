"""Introspection of the registered choreography: events, handlers, actions, queues.

``choreographer events``, ``dry-run`` and ``graph`` read the live registry through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from zope.component import getGlobalSiteManager, getUtilitiesFor
from zope.interface import implementedBy, providedBy
from zope.interface.interfaces import IInterface

from briefy.choreographer.actions import IAction
from briefy.choreographer.events import IInternalEvent

#: zope.interface's declaration API has no annotations.
_implemented_by: Any = implementedBy


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


def handler_name(handler: Any) -> str:
    """A readable name for a subscriber: its class for instances, its dotted path for functions."""
    if hasattr(handler, "__qualname__"):
        return f"{handler.__module__}.{handler.__qualname__}"
    cls = type(handler)
    return f"{cls.__module__}.{cls.__qualname__}"


def handlers_for(spec: IInterface) -> list[Any]:
    """The handler subscribers that an event providing ``spec`` reaches, in registration order."""
    return [
        registration.handler
        for registration in getGlobalSiteManager().registeredHandlers()
        if registration.required and spec.isOrExtends(registration.required[0])
    ]


def actions_for(data_spec: IInterface, event_spec: IInterface) -> list[tuple[str, Any]]:
    """The ``(name, factory)`` of every action of ``(data, event)``, lowest weight first."""
    found = getGlobalSiteManager().adapters.lookupAll((data_spec, event_spec), IAction)
    return sorted(found, key=lambda item: (getattr(item[1], "weight", 100), item[0]))


def event_factories() -> list[tuple[str, Any]]:
    """Every registered event name and its factory, sorted by name."""
    return sorted(getUtilitiesFor(IInternalEvent), key=lambda item: item[0])


def condition(factory: Any) -> str:
    """The first line of the docstring of the action's ``available``, or 'always'."""
    available = getattr(factory, "available", None)
    doc = getattr(available, "__doc__", "") or ""
    if available is None or "override" in doc or not doc.strip():
        return "always"
    return doc.strip().splitlines()[0].rstrip(".")


def choreography() -> Iterator[ActionInfo]:
    """Every (event, handler, action) the registry holds."""
    for event_name, factory in event_factories():
        spec = _implemented_by(factory)
        for handler in handlers_for(spec):
            dto = getattr(handler, "_info_class_", None)
            if dto is None:
                continue
            dto_spec = _implemented_by(dto)
            for name, action in actions_for(dto_spec, spec):
                yield ActionInfo(
                    event_name=event_name,
                    handler=handler_name(handler),
                    dto=dto.__name__,
                    name=name,
                    weight=int(getattr(action, "weight", 100)),
                    queue=str(getattr(action, "_queue_name", "")),
                    condition=condition(action),
                    factory=action,
                )


def subscribers_of(event: Any) -> list[Any]:
    """The handler subscribers an event object reaches."""
    return handlers_for(providedBy(event))
