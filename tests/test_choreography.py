"""The reference choreography: its wiring and the payloads it builds."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from zope.component import getGlobalSiteManager
from zope.event import notify

from briefy.choreographer.actions import output_id
from briefy.choreographer.admin.introspect import choreography
from briefy.choreographer.errors import ActionError
from briefy.choreographer.events import InternalEvent, event_factory, internal_event, parse_event
from briefy.choreographer.events.lead import LeadCreated
from briefy.choreographer.events.mail import MailSent
from briefy.choreographer.events.outbox import PlanningOutbox
from briefy.common.interfaces import IQueue
from tests.support import LEAD_DATA, MAIL_DATA, event


def plan(message: dict[str, Any], strict: bool = True) -> PlanningOutbox:
    """Fire the event with a planning outbox, as the worker does."""
    registry = getGlobalSiteManager()
    outbox = PlanningOutbox(dict(registry.getUtilitiesFor(IQueue)), strict=strict)
    parsed = parse_event(json.dumps(message))
    notify(internal_event(parsed, outbox, registry))
    return outbox


def payloads(outbox: PlanningOutbox) -> list[dict[str, Any]]:
    return [orjson.loads(p.message.body) for p in outbox.messages()]  # type: ignore[union-attr]


def test_wiring_table(registry: Any) -> None:
    """Each registered event name gets exactly these actions, weights and queues."""
    table = {(a.event_name, a.name, a.weight, a.queue) for a in choreography(registry)}
    assert table == {
        ("lead.created", "lead.created.mail", 100, "mail.queue"),
        ("mail.sent", "mail.sent.notification", 100, "notification.queue"),
    }


def test_event_names_select_their_factories(registry: Any) -> None:
    """Known names select their classes; unknown names fall back to InternalEvent."""
    assert event_factory("lead.created") is LeadCreated
    assert event_factory("mail.sent") is MailSent
    assert event_factory("order.shipped") is InternalEvent


def test_internal_lead_gets_the_mail_payload(registry: Any) -> None:
    """lead.created for an internal lead plans the reference mail payload."""
    message = event("lead.created", LEAD_DATA)
    [payload] = payloads(plan(message))
    expected = {
        "event_name": "lead.created",
        "entity": "Lead",
        "guid": message["guid"],
        "fullname": "Ada Lovelace",
        "email": "ada@example.org",
        "subject": "Briefy is coming soon!",
        "template": "briefy-new-lead-en-gb",
        "data": {
            "FULLNAME": "Ada Lovelace",
            "EMAIL": "ada@example.org",
            "CATEGORY": "other",
            "SUBJECT": "Briefy is coming soon!",
        },
        "attachments": None,
    }
    assert {k: v for k, v in payload.items() if k in expected} == expected
    assert payload["output_id"] == output_id(message["id"], "lead.created.mail")
    assert payload["request_id"] == message["request_id"]


@pytest.mark.parametrize("internal", [False, None, "true", 1])
def test_other_leads_get_no_mail(registry: Any, internal: Any) -> None:
    """Only data.internal == true makes the mail action available."""
    outbox = plan(event("lead.created", {**LEAD_DATA, "internal": internal}))
    [planned] = outbox.planned
    assert planned.available is False
    assert outbox.messages() == []


def test_mail_sent_gets_the_notification_payload(registry: Any) -> None:
    """mail.sent plans the reference notification payload, filed against the mailed object."""
    message = event("mail.sent", MAIL_DATA)
    [payload] = payloads(plan(message))
    assert payload == {
        "id": message["guid"],
        "type": "Mail",
        "event_name": "lead.created",
        "entity": "Lead",
        "guid": MAIL_DATA["guid"],
        "fullname": "Ada Lovelace",
        "address": "ada@example.org",
        "subject": "Briefy is coming soon!",
        "gateway": "mandrill",
        "gateway_id": "abc123",
        "status": "sent",
        "additional_info": "-",
        "output_id": output_id(message["id"], "mail.sent.notification"),
        "request_id": message["request_id"],
    }


def test_missing_mail_text_fields_are_empty(registry: Any) -> None:
    """Text fields missing from mail.sent data become empty strings."""
    [payload] = payloads(plan(event("mail.sent", {"to_email": "ada@example.org"})))
    assert payload["gateway"] == payload["status"] == payload["fullname"] == ""
    assert payload["address"] == "ada@example.org"


@pytest.mark.parametrize(
    ("message", "error_type"),
    [
        (event("lead.created", {**LEAD_DATA, "email": ""}), "invalid_payload"),
        (event("lead.created", {**LEAD_DATA, "fullname": None}), "invalid_payload"),
        (event("lead.created", {**LEAD_DATA, "fullname": 42}), "invalid_payload"),
        (event("mail.sent", {**MAIL_DATA, "to_email": ""}), "invalid_payload"),
    ],
)
def test_payloads_the_queue_rejects_are_action_errors(registry: Any, message: Any, error_type: str) -> None:
    """Data that cannot make a payload its queue accepts raises ActionError naming the action."""
    with pytest.raises(ActionError) as caught:
        plan(message)
    assert caught.value.error_type == error_type
    assert caught.value.action in caught.value.message


def test_unknown_events_plan_nothing(registry: Any) -> None:
    """An unknown event reaches only the logger: no actions."""
    assert plan(event("order.shipped", {})).planned == []


def test_output_ids_are_deterministic() -> None:
    """The same event and action always give the same output id; others differ."""
    assert output_id("e1", "a") == output_id("e1", "a")
    assert output_id("e1", "a") != output_id("e1", "b") != output_id("e2", "a")


def test_transform_does_not_mutate_event_data(registry: Any) -> None:
    """Planning leaves the event's data as it was."""
    message = event("lead.created", LEAD_DATA)
    before = json.dumps(message, sort_keys=True)
    plan(message)
    assert json.dumps(message, sort_keys=True) == before
