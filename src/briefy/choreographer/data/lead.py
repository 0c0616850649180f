"""The lead DTO."""

from __future__ import annotations

from typing import Any

from briefy.choreographer.data import DataTransferObject, text


class LeadDTO(DataTransferObject):
    """A lead: who it is and whether it is an internal one."""

    def __init__(self, event: Any) -> None:
        super().__init__(event)
        data = event.data
        self.id = text(data, "id")
        self.fullname = text(data, "fullname")
        self.email = text(data, "email")
        self.category = text(data, "category")
        self.state = text(data, "state")
        self.internal = data.get("internal") is True
