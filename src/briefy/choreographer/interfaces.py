"""Contracts of the choreography: events, their data, actions, and where actions go.

They are documented here once; ``briefy.choreographer.events``, ``.data`` and
``.actions`` re-export them (the import paths extension authors use).
"""

from __future__ import annotations

from typing import Any

from zope.interface import Attribute, Interface

from briefy.common.interfaces import IEvent, IQueue


class IInternalEvent(IEvent):
    """An event dispatched inside the choreographer.

    Handlers subscribe to it, or to a specialisation (``ILeadEvent``, ``IMailEvent``).
    Each event name is a named utility providing ``IInternalEvent``: the utility is
    the event's class, called with the ``EventMessage`` (and the outbox).
    """

    message = Attribute("The checked ``EventMessage`` it was made from.")
    outbox = Attribute("The ``IOutbox`` that handlers hand their actions to.")
    registry = Attribute("The component registry the event is dispatched in (its handlers' lookups).")
    envelope = Attribute(
        "The SNS or EventBridge ``Envelope`` the event came in (its ``kind``, ``sns`` or "
        "``eventbridge``, and its ``origin``: the topic ARN or the EventBridge source), or None."
    )
    data_schema = Attribute(
        "A JSON Schema (draft-07, a dict) the event's ``data`` must meet, or None; declared on the "
        "class. Data that fails it is dead-lettered as ``invalid_data`` before any handler runs."
    )


class IDataTransferObject(Interface):
    """Data taken from an event, in the shape its actions need.

    Actions are multi-adapters of ``(IDataTransferObject, IInternalEvent)``.
    """

    event = Attribute("The internal event the data came from.")


class IAction(Interface):
    """One step of a choreography: a payload for one output queue.

    A multi-adapter of ``(IDataTransferObject, IInternalEvent)`` to ``IAction``,
    registered under a name; handlers run them ordered by ``weight``.
    """

    name = Attribute("The name the action is registered under (set by the handler).")
    weight = Attribute("Order among the actions of an event: lower runs first (int).")
    available = Attribute("Whether the action applies to this event (bool; no I/O).")
    data = Attribute("The ``IDataTransferObject`` it adapts.")
    event = Attribute("The ``IInternalEvent`` it adapts.")

    def transform() -> dict[str, Any]:
        """Build the payload from ``data`` and ``event``: pure, nothing mutated."""

    def message(queue: IQueue) -> Any:
        """The ``OutgoingMessage`` for ``queue`` (the action's ``_queue_name`` utility): the
        payload, validated by the queue, with its output id."""

    def __call__() -> str:
        """Write the message to the action's queue now and log it; return the MessageId."""


class IOutbox(Interface):
    """Takes the actions that handlers find for one event.

    The outbox decides what running an action means: sending it at once
    (``ImmediateOutbox``), or planning its message for the worker to send with the
    rest of its batch (``PlanningOutbox``).
    """

    planned = Attribute("The ``Planned`` actions so far, in the order they came.")

    def add(action: Any, handler: Any) -> None:
        """Take ``action`` (an ``IAction``), found by ``handler``."""
