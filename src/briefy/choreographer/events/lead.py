"""Lead events."""

from __future__ import annotations

from zope.interface import implementer

from briefy.choreographer.events import IInternalEvent, InternalEvent


class ILeadEvent(IInternalEvent):
    """An event about a lead."""


class ILeadCreated(ILeadEvent):
    """A lead was created."""


@implementer(ILeadCreated)
class LeadCreated(InternalEvent):
    """``lead.created``."""
