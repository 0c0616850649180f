"""The mail queue, read by the mail service."""

from __future__ import annotations

from briefy.common.queue import Queue

_TEXT = {"type": "string"}
_REQUIRED_TEXT = {"type": "string", "minLength": 1}


class MailQueue(Queue):
    """Mails to send: ``mail.queue``."""

    name = "mail.queue"
    default_queue_name = "mail"
    schema = {
        "type": "object",
        "required": ["event_name", "entity", "guid", "fullname", "email", "subject", "template"],
        "properties": {
            "event_name": _REQUIRED_TEXT,
            "entity": _TEXT,
            "guid": _REQUIRED_TEXT,
            "fullname": _REQUIRED_TEXT,
            "email": _REQUIRED_TEXT,
            "subject": _TEXT,
            "template": _REQUIRED_TEXT,
            "data": {"type": "object"},
            "attachments": {"type": ["array", "null"]},
        },
    }
