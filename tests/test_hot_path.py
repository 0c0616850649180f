"""The hot path's shortcuts give the same results as the plain ways they replace."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs
from zope.component import adapter, getGlobalSiteManager
from zope.interface import implementedBy

from briefy.choreographer.actions import Action, output_id
from briefy.choreographer.data.lead import LeadDTO
from briefy.choreographer.events import event_factory, parse_event
from briefy.choreographer.events.lead import ILeadCreated
from briefy.choreographer.events.message import NAMESPACE
from briefy.choreographer.pipeline.outbox import PlanningOutbox
from briefy.choreographer.subscribers.lead import handler as lead_handler
from briefy.choreographer.worker import Worker
from briefy.common.queue.message import OutgoingMessage
from tests.support import LEAD_DATA, MAIL_DATA, event


@pytest.mark.parametrize("action", ["lead.created.mail", "x", "é/ü", ""])
def test_output_id_is_the_uuid5_of_event_and_action(action: str) -> None:
    """output_id computes exactly str(uuid5(NAMESPACE, 'event_id/action'))."""
    for _ in range(50):
        event_id = str(uuid.uuid4())
        assert output_id(event_id, action) == str(uuid.uuid5(NAMESPACE, f"{event_id}/{action}"))


@adapter(LeadDTO, ILeadCreated)
class EarlyAction(Action):
    """A test action that runs before the reference one."""

    weight = 10
    _queue_name = "mail.queue"

    def transform(self) -> dict[str, Any]:
        return {}


def lead_actions() -> list[str]:
    message = parse_event(orjson.dumps(event("lead.created", LEAD_DATA)))
    internal = event_factory(message.event_name)(message, PlanningOutbox())
    return [action.name for action in lead_handler.actions(LeadDTO(internal), internal)]


def test_handler_orderings_follow_registry_changes(registry: Any) -> None:
    """An action registered or removed after a lookup is seen by the next lookup, in weight order."""
    assert lead_actions() == ["lead.created.mail"]
    registry.registerAdapter(EarlyAction, name="lead.created.early")
    assert lead_actions() == ["lead.created.early", "lead.created.mail"]
    getGlobalSiteManager().unregisterAdapter(EarlyAction, name="lead.created.early")
    assert lead_actions() == ["lead.created.mail"]


def test_handler_orderings_are_reused(registry: Any) -> None:
    """The same lookup gives the very same ordering, worked out once."""
    specs = (implementedBy(LeadDTO), ILeadCreated)
    assert lead_handler.factories(*specs) is lead_handler.factories(*specs)
    assert [name for name, _ in lead_handler.factories(*specs)] == ["lead.created.mail"]


@pytest.mark.parametrize(
    ("body", "attributes"),
    [
        ("{}", {}),
        ('{"a": "plain"}', {"event_id": "e1", "request_id": ""}),
        ('{"name": "Zoë 北京"}', {"action": "ünïcode", "empty": "", "emoji": "🎉"}),
    ],
)
def test_message_size_counts_utf8_bytes(body: str, attributes: dict[str, str]) -> None:
    """size() is the UTF-8 bytes of the body and of each sent attribute's name, value and type."""
    sent = {k: v for k, v in attributes.items() if v}
    expected = len(body.encode()) + sum(len((k + v + "String").encode()) for k, v in sent.items())
    assert OutgoingMessage(body, attributes).size() == expected


def test_info_logging_is_a_line_per_event_and_per_action(app: Any) -> None:
    """A batch logs one INFO line per event and per action sent, and its summary at DEBUG."""
    worker = Worker(app.events, app.settings, app.dead_letters)
    messages = [
        event("lead.created", LEAD_DATA),
        event("mail.sent", MAIL_DATA),
        event("lead.created", LEAD_DATA),
    ]
    for message in messages:
        app.client.send_message(QueueUrl=app.events.url, MessageBody=orjson.dumps(message).decode())
    with capture_logs() as logs:
        assert worker.run_once() == 3
    info = [line["event"] for line in logs if line["log_level"] == "info"]
    assert sorted(info) == ["action_sent"] * 3 + ["event_dispatched"] * 3
    [summary] = [line for line in logs if line["event"] == "batch_done"]
    assert summary["log_level"] == "debug" and summary["received"] == 3


def test_a_derived_event_id_is_the_uuid5_of_the_message_id() -> None:
    """An event without an id gets exactly str(uuid5(NAMESPACE, sqs_message_id)), kept when carried again."""
    from briefy.choreographer.events.message import derived_id

    message_id = str(uuid.uuid4())
    first = derived_id(message_id, "{}")
    assert first == str(uuid.uuid5(NAMESPACE, message_id))
    assert derived_id(first, "{}") == first
