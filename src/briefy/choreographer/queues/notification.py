"""The notification queue, read by the notification service."""

from __future__ import annotations

from briefy.common.queue import Queue

_TEXT = {"type": "string"}


class NotificationQueue(Queue):
    """Notifications to file against an object: ``notification.queue``."""

    name = "notification.queue"
    default_queue_name = "notification"
    schema = {
        "type": "object",
        "required": ["id", "type", "address"],
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "type": _TEXT,
            "event_name": _TEXT,
            "entity": _TEXT,
            "guid": _TEXT,
            "fullname": _TEXT,
            "address": {"type": "string", "minLength": 1},
            "subject": _TEXT,
            "gateway": _TEXT,
            "gateway_id": _TEXT,
            "status": _TEXT,
            "additional_info": _TEXT,
        },
    }
