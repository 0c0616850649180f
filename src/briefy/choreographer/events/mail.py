"""Mail events: reports from the mail service."""

from __future__ import annotations

from zope.interface import implementer

from briefy.choreographer.events import IInternalEvent, InternalEvent


class IMailEvent(IInternalEvent):
    """An event about a mail."""


class IMailSent(IMailEvent):
    """The mail service sent a mail about some object."""


@implementer(IMailSent)
class MailSent(InternalEvent):
    """``mail.sent``."""
