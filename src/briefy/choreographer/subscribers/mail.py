"""Handlers of mail events."""

from __future__ import annotations

from briefy.choreographer.data.mail import MailDTO
from briefy.choreographer.subscribers import BaseHandler


class MailHandler(BaseHandler):
    """Runs the actions of mail events on a ``MailDTO``."""

    _info_class_ = MailDTO


handler = MailHandler()
