"""Handlers: subscribers that turn an internal event into its ordered actions."""

from __future__ import annotations

from typing import Any

from zope.component import getSiteManager
from zope.interface import providedBy

from briefy.choreographer.actions import IAction
from briefy.choreographer.data import DataTransferObject

#: Orderings kept per handler before the oldest are dropped (a registry that keeps changing).
MAX_ORDERINGS = 256


class BaseHandler:
    """A subscriber for one kind of internal event.

    Called with the event, it builds the ``_info_class_`` DTO from the event's
    data, finds every ``IAction`` multi-adapter of ``(dto, event)``, and hands them,
    lowest ``weight`` first, to the event's outbox.
    """

    _info_class_: type[DataTransferObject] = DataTransferObject

    def __repr__(self) -> str:
        return f"<{type(self).__name__} dto={self._info_class_.__name__}>"

    def __call__(self, event: Any) -> None:
        data = self._info_class_(event)
        for action in self.actions(data, event):
            event.outbox.add(action, self)

    def actions(self, data: Any, event: Any) -> list[Any]:
        """The actions for ``(data, event)``, lowest weight first (then by name)."""
        found = []
        for name, factory in self.factories(providedBy(data), providedBy(event)):
            action = factory(data, event)
            if action is None:
                continue
            action.name = name or action.name
            found.append(action)
        return found

    def factories(self, data_spec: Any, event_spec: Any) -> tuple[tuple[str, Any], ...]:
        """The ``(name, factory)`` of every action of the specs, ordered by the factory's
        ``weight``, then by name.

        The ordering is worked out once per lookup result: the registry caches
        ``lookupAll`` until it changes, so a changed registry gives a new result
        and a fresh ordering.
        """
        found = getSiteManager().adapters.lookupAll((data_spec, event_spec), IAction)
        orderings: dict[int, tuple[Any, tuple[tuple[str, Any], ...]]] = self.__dict__.setdefault(
            "_orderings", {}
        )
        known = orderings.get(id(found))
        if known is not None and known[0] is found:
            return known[1]
        ordered = tuple(sorted(found, key=lambda item: (getattr(item[1], "weight", 100), item[0])))
        if len(orderings) >= MAX_ORDERINGS:
            orderings.clear()
        orderings[id(found)] = (found, ordered)  # keeping ``found`` keeps its id unique
        return ordered
