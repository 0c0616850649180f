"""Data transfer objects: the typed view of an event's data that actions read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zope.interface import implementer

from briefy.choreographer.interfaces import IDataTransferObject

__all__ = ["DataTransferObject", "IDataTransferObject", "text"]


@implementer(IDataTransferObject)
class DataTransferObject:
    """Base DTO: keeps the event; subclasses read their fields in ``__init__``."""

    def __init__(self, event: Any) -> None:
        self.event = event

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.event!r}>"


def text(data: Mapping[str, Any], key: str) -> Any:
    """A text field of ``data``: its value, or ``""`` when missing or null.

    A value of another type is kept as it is, so the queue schema can reject it.
    """
    value = data.get(key)
    return "" if value is None else value
