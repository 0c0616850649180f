"""Reference events for the benchmark, and the payloads the reference choreography makes of them."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

LEAD = {
    "id": "5c6e7f32-4a4e-4c38-9a55-33c5a1d2f0b1",
    "fullname": "Ada Lovelace",
    "email": "ada@example.org",
    "category": "other",
    "internal": True,
    "state": "created",
}
MAIL = {
    "entity": "Lead",
    "event_name": "lead.created",
    "guid": "3d1c2b4a-0000-4000-8000-000000000001",
    "to_name": "Ada Lovelace",
    "to_email": "ada@example.org",
    "subject": "Briefy is coming soon!",
    "template": "briefy-new-lead-en-gb",
    "gateway": "mandrill",
    "gateway_id": "abc123",
    "status": "sent",
    "additional_info": "-",
}
#: Event name -> (its data, the output queue it reaches, the action that writes it).
KINDS = {
    "lead.created": (LEAD, "mail", "lead.created.mail"),
    "mail.sent": (MAIL, "notification", "mail.sent.notification"),
}
NAMES = tuple(KINDS)


def event(number: int) -> dict[str, Any]:
    """The ``number``-th event of the stream: internal leads and sent mails, alternating."""
    name = NAMES[number % len(NAMES)]
    return {
        "event_name": name,
        "guid": str(uuid.uuid4()),
        "id": str(uuid.uuid4()),
        "actor": "",
        "request_id": str(uuid.uuid4()),
        "created_at": "2026-11-28T12:00:00+00:00",
        "data": KINDS[name][0],
    }


def body(message: dict[str, Any]) -> str:
    """The JSON body of an event message."""
    return orjson.dumps(message).decode()


def expected(message: dict[str, Any]) -> dict[str, Any]:
    """The payload the reference choreography (docs/contract.rst) makes of ``message`` (ids aside)."""
    data = message["data"]
    if message["event_name"] == "lead.created":
        subject = "Briefy is coming soon!"
        return {
            "event_name": "lead.created",
            "entity": "Lead",
            "guid": message["guid"],
            "fullname": data["fullname"],
            "email": data["email"],
            "subject": subject,
            "template": "briefy-new-lead-en-gb",
            "data": {
                "FULLNAME": data["fullname"],
                "EMAIL": data["email"],
                "CATEGORY": data["category"],
                "SUBJECT": subject,
            },
            "attachments": None,
        }
    return {
        "id": message["guid"],
        "type": "Mail",
        "event_name": data["event_name"],
        "entity": data["entity"],
        "guid": data["guid"],
        "fullname": data["to_name"],
        "address": data["to_email"],
        "subject": data["subject"],
        "gateway": data["gateway"],
        "gateway_id": data["gateway_id"],
        "status": data["status"],
        "additional_info": data["additional_info"],
    }
