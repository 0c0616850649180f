"""Handlers: subscribers that turn an internal event into its ordered actions."""

from __future__ import annotations

from typing import Any

from zope.interface import providedBy

from briefy.choreographer.actions import ordered_actions
from briefy.choreographer.data import DataTransferObject


class BaseHandler:
    """A subscriber for one kind of internal event.

    Called with the event, it builds the ``_info_class_`` DTO from the event's
    data, finds every ``IAction`` multi-adapter of ``(dto, event)`` in the event's
    registry, and hands them, lowest ``weight`` first, to the event's outbox.
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
        for name, factory in ordered_actions(event.registry, providedBy(data), providedBy(event)):
            action = factory(data, event)
            if action is None:
                continue
            action.name = name or action.name
            found.append(action)
        return found
