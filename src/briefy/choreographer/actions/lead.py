"""Actions on lead events."""

from __future__ import annotations

from typing import Any

from zope.component import adapter

from briefy.choreographer.actions import Action
from briefy.choreographer.data.lead import LeadDTO
from briefy.choreographer.events.lead import ILeadCreated

NEW_LEAD_SUBJECT = "Briefy is coming soon!"
NEW_LEAD_TEMPLATE = "briefy-new-lead-en-gb"


@adapter(LeadDTO, ILeadCreated)
class NewLeadMail(Action):
    """Welcome mail to a new internal lead."""

    weight = 100
    _queue_name = "mail.queue"

    @property
    def available(self) -> bool:
        """Only internal leads get the mail."""
        return bool(self.data.internal)

    def transform(self) -> dict[str, Any]:
        """The mail queue payload for the new lead."""
        lead = self.data
        return {
            "event_name": self.event.event_name,
            "entity": "Lead",
            "guid": self.event.guid,
            "fullname": lead.fullname,
            "email": lead.email,
            "subject": NEW_LEAD_SUBJECT,
            "template": NEW_LEAD_TEMPLATE,
            "data": {
                "FULLNAME": lead.fullname,
                "EMAIL": lead.email,
                "CATEGORY": lead.category,
                "SUBJECT": NEW_LEAD_SUBJECT,
            },
            "attachments": None,
        }
