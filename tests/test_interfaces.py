"""Every implementation provides its contract."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from zope.interface.verify import verifyObject

from briefy.choreographer.actions import IAction
from briefy.choreographer.actions.lead import NewLeadMail
from briefy.choreographer.actions.mail import MailSentNotification
from briefy.choreographer.data import IDataTransferObject
from briefy.choreographer.data.lead import LeadDTO
from briefy.choreographer.data.mail import MailDTO
from briefy.choreographer.events import IInternalEvent, InternalEvent, parse_event
from briefy.choreographer.events.lead import ILeadCreated, ILeadEvent, LeadCreated
from briefy.choreographer.events.mail import IMailEvent, IMailSent, MailSent
from briefy.choreographer.events.outbox import ImmediateOutbox, PlanningOutbox
from briefy.choreographer.interfaces import IOutbox
from briefy.choreographer.pipeline.listeners import Listeners, LogLines, PipelineListener
from briefy.choreographer.queues.mail import MailQueue
from briefy.choreographer.queues.notification import NotificationQueue
from briefy.common.interfaces import IEvent, IQueue
from briefy.common.queue import Queue
from briefy.common.queue.event import DeadLetterQueue, EventQueue
from tests.support import MAIL_DATA, event


def message(name: str, data: dict[str, Any]) -> Any:
    return parse_event(orjson.dumps(event(name, data)))


@pytest.mark.parametrize("factory", [Queue, EventQueue, DeadLetterQueue, MailQueue, NotificationQueue])
def test_queues_provide_iqueue(factory: type) -> None:
    """Each queue class provides IQueue."""
    assert verifyObject(IQueue, factory())


@pytest.mark.parametrize(
    ("factory", "name", "interfaces"),
    [
        (InternalEvent, "anything.happened", [IInternalEvent, IEvent]),
        (LeadCreated, "lead.created", [ILeadCreated, ILeadEvent, IInternalEvent]),
        (MailSent, "mail.sent", [IMailSent, IMailEvent, IInternalEvent]),
    ],
)
def test_events_provide_their_interfaces(factory: type, name: str, interfaces: list[Any]) -> None:
    """Each event class provides its interface and the generic ones."""
    instance = factory(message(name, {}))
    for interface in interfaces:
        assert verifyObject(interface, instance)


def test_dtos_and_actions_provide_their_interfaces() -> None:
    """DTOs provide IDataTransferObject; actions provide IAction."""
    lead = LeadCreated(message("lead.created", {"fullname": "A", "email": "a@x", "internal": True}))
    mail = MailSent(message("mail.sent", MAIL_DATA))
    assert verifyObject(IDataTransferObject, LeadDTO(lead))
    assert verifyObject(IDataTransferObject, MailDTO(mail))
    assert verifyObject(IAction, NewLeadMail(LeadDTO(lead), lead))
    assert verifyObject(IAction, MailSentNotification(MailDTO(mail), mail))


@pytest.mark.parametrize("outbox", [ImmediateOutbox(), PlanningOutbox({})], ids=["immediate", "planning"])
def test_outboxes_provide_ioutbox(outbox: Any) -> None:
    """Each outbox provides IOutbox."""
    assert verifyObject(IOutbox, outbox)


def test_the_spec_import_paths_name_the_documented_contracts() -> None:
    """The contracts are the same objects wherever extension authors import them from."""
    from briefy.choreographer import interfaces

    assert IInternalEvent is interfaces.IInternalEvent
    assert IAction is interfaces.IAction
    assert IDataTransferObject is interfaces.IDataTransferObject


@pytest.mark.parametrize("listener", [LogLines(), Listeners([])], ids=["log_lines", "listeners"])
def test_listeners_hear_every_outcome(listener: PipelineListener) -> None:
    """Every listener answers each hook the pipeline calls (the base class's)."""
    hooks = [name for name in vars(PipelineListener) if not name.startswith("_")]
    assert hooks and all(callable(getattr(listener, hook)) for hook in hooks)
