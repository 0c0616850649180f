"""The mail DTO: what the mail service reports about a mail it sent."""

from __future__ import annotations

from typing import Any

from briefy.choreographer.data import DataTransferObject, text

FIELDS = (
    "entity",
    "event_name",
    "guid",
    "to_name",
    "to_email",
    "subject",
    "template",
    "gateway",
    "gateway_id",
    "status",
    "additional_info",
)


class MailDTO(DataTransferObject):
    """A sent mail and the object it was about."""

    entity: Any
    event_name: Any
    guid: Any
    to_name: Any
    to_email: Any
    subject: Any
    template: Any
    gateway: Any
    gateway_id: Any
    status: Any
    additional_info: Any

    def __init__(self, event: Any) -> None:
        super().__init__(event)
        data = event.data
        for field in FIELDS:
            setattr(self, field, text(data, field))
