"""Handlers of lead events."""

from __future__ import annotations

from briefy.choreographer.data.lead import LeadDTO
from briefy.choreographer.subscribers import BaseHandler


class LeadHandler(BaseHandler):
    """Runs the actions of lead events on a ``LeadDTO``."""

    _info_class_ = LeadDTO


handler = LeadHandler()
