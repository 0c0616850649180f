"""Outboxes: where handlers hand the actions they found for an event (``IOutbox``).

The ``ImmediateOutbox`` sends each payload as it comes; the worker's
``PlanningOutbox`` collects the outgoing messages of a whole batch so they can be
sent with SendMessageBatch (and a retry can skip the actions that already
succeeded); a dry run uses a ``PlanningOutbox`` that records errors instead of
raising them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from zope.interface import implementer

from briefy.choreographer.errors import ActionError
from briefy.choreographer.interfaces import IOutbox
from briefy.common.errors import InvalidPayload
from briefy.common.interfaces import IQueue
from briefy.common.queue.message import OutgoingMessage

log = structlog.get_logger("briefy.choreographer.actions")


@dataclass(slots=True)
class Planned:
    """An action found for an event, and what it would send."""

    action: Any
    handler: str
    available: bool
    message: OutgoingMessage | None = None
    error: ActionError | None = None

    @property
    def name(self) -> str:
        """The action's registered name."""
        return str(self.action.name)

    @property
    def queue_name(self) -> str:
        """The name of the queue utility the action writes to."""
        return str(self.action._queue_name)


@implementer(IOutbox)
class ImmediateOutbox:
    """Runs each available action at once: it writes its own payload."""

    def __init__(self) -> None:
        self.planned: list[Planned] = []

    def add(self, action: Any, handler: Any) -> None:
        """Run ``action`` if it is available."""
        available = bool(action.available)
        self.planned.append(Planned(action, type(handler).__name__, available))
        if available:
            action()


@implementer(IOutbox)
class PlanningOutbox:
    """Builds each available action's outgoing message for its queue; sends nothing.

    ``queues`` are the queue utilities by name (the bound ones, in the worker);
    ``skip`` names actions that already succeeded (a retry runs only the rest).
    With ``strict`` an action that cannot build a valid payload raises
    ``ActionError``; otherwise the error is recorded on its ``Planned``.
    """

    def __init__(self, queues: Mapping[str, IQueue], skip: Collection[str] = (), strict: bool = True) -> None:
        self.queues = queues
        self.planned: list[Planned] = []
        self.skip = frozenset(skip)
        self.strict = strict

    def add(self, action: Any, handler: Any) -> None:
        """Plan ``action``: check ``available``, transform, validate, serialise."""
        if action.name in self.skip:
            log.info("action_skipped", action=action.name, reason="already_sent")
            return
        planned = Planned(action, type(handler).__name__, bool(action.available))
        self.planned.append(planned)
        if not planned.available:
            log.debug("action_unavailable", action=action.name)
            return
        try:
            planned.message = action.message(self.queues[planned.queue_name])
        except InvalidPayload as error:
            planned.error = ActionError(action.name, "invalid_payload", str(error))
        except Exception as error:  # a transform that cannot handle this data
            detail = f"{type(error).__name__}: {error}"
            planned.error = ActionError(action.name, "transform_failed", detail)
        if planned.error is not None and self.strict:
            raise planned.error

    def messages(self) -> list[Planned]:
        """The planned actions that have a message to send."""
        return [p for p in self.planned if p.message is not None]
