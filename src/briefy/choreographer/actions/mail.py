"""Actions on mail events."""

from __future__ import annotations

from typing import Any

from zope.component import adapter

from briefy.choreographer.actions import Action
from briefy.choreographer.data.mail import MailDTO
from briefy.choreographer.events.mail import IMailSent


@adapter(MailDTO, IMailSent)
class MailSentNotification(Action):
    """File a notification about the sent mail against the object it was about."""

    weight = 100
    _queue_name = "notification.queue"

    def transform(self) -> dict[str, Any]:
        """The notification queue payload for the sent mail."""
        mail = self.data
        return {
            "id": self.event.guid,
            "type": "Mail",
            "event_name": mail.event_name,
            "entity": mail.entity,
            "guid": mail.guid,
            "fullname": mail.to_name,
            "address": mail.to_email,
            "subject": mail.subject,
            "gateway": mail.gateway,
            "gateway_id": mail.gateway_id,
            "status": mail.status,
            "additional_info": mail.additional_info,
        }
