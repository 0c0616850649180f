"""Plan: parse each message and fire its event; the actions plan their outgoing messages.

Nothing is sent here. A message that cannot become an event, or whose event no
action can handle, leaves its job marked ``bad`` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, reset_contextvars
from zope.event import notify

from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import EventMessage, internal_event, parse_event
from briefy.choreographer.events.outbox import PlanningOutbox
from briefy.choreographer.events.schema import DataSchemas
from briefy.choreographer.logging import clip
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.listeners import PipelineListener
from briefy.choreographer.pipeline.memory import DoneMemory
from briefy.choreographer.pipeline.payloads import LargePayloads
from briefy.choreographer.pipeline.state import Seal
from briefy.choreographer.pipeline.trace import Tracing
from briefy.common.claimcheck import S3Payloads
from briefy.common.interfaces import IQueue
from briefy.common.queue.message import SQSMessage

log = structlog.get_logger("briefy.choreographer.worker")


class Planner:
    """Turns received messages into planned jobs.

    ``registry`` holds the choreography, ``queues`` the bound queue utilities by
    name; ``seal`` opens the retry state a message carries and ``memory`` is what
    this process remembers of earlier attempts; a message received more than
    ``max_attempts`` times is not run again but dead-lettered. ``data_schemas``
    check each event's data before its handlers run. ``tracing`` gives each event its
    trace context and stamps it on the outputs; ``payloads`` reads the event messages
    that are S3 objects.
    """

    def __init__(
        self,
        registry: Any,
        queues: Mapping[str, IQueue],
        seal: Seal,
        memory: DoneMemory,
        max_attempts: int,
        listener: PipelineListener,
        *,
        data_schemas: DataSchemas,
        tracing: Tracing | None = None,
        payloads: LargePayloads | None = None,
    ) -> None:
        self.registry = registry
        self.queues = queues
        self.seal = seal
        self.memory = memory
        self.max_attempts = max_attempts
        self.listener = listener
        self.data_schemas = data_schemas
        self.tracing = tracing if tracing is not None else Tracing()
        self.payloads = payloads if payloads is not None else LargePayloads(S3Payloads(None))

    def job(self, message: SQSMessage) -> Job:
        """A job for a received message, with the retry state it carries if it is sealed."""
        try:
            reading = self.seal.read(message.message_attributes, message.body)
        except Exception as error:  # attributes of a shape no SQS message has
            job = Job(message)
            job.bad = BadInput("invalid_attributes", f"cannot read the message attributes: {error!r}")
            return job
        if reading.ignored:
            log.warning(
                "retry_state_ignored",
                message_id=message.message_id,
                reason=reading.ignored,
                attributes=[clip(name) for name in reading.attributes[:10]],
            )
        return Job(message, reading.state)

    def plan(self, job: Job) -> None:
        """Plan ``job``; a bug of ours on it is that job's failure, not the batch's."""
        try:
            self._plan(job)
        except Exception as error:
            log.exception("plan_failed", message_id=job.message.message_id)
            job.bad = BadInput("internal_error", f"{type(error).__name__}: {error}", job.event_name)
        self.listener.planned(job)

    def _plan(self, job: Job) -> None:
        if job.bad is not None:
            return
        if self.memory.settled(job.message.message_id):
            # Settled on an earlier receive whose delete failed: nothing to run again.
            log.info("event_already_settled", message_id=job.message.message_id)
            return
        # None: an S3 object that cannot be read (job.bad or job.deferred says why).
        body = self.payloads.body(job)
        if body is not None:
            try:
                job.event = parse_event(body, job.fallback_id)
            except BadInput as error:
                job.bad = error
        self.tracing.begin(job)  # a dead letter or a retry keeps the trace it came with
        event = job.event
        if event is None:
            return
        assert job.trace is not None
        # Every line logged while the event is dispatched (handlers' own included) names it,
        # and the S3 object it was read from, if any.
        where = {"payload": clip(str(job.pointer), 1024)} if job.pointer is not None else {}
        tokens = bind_contextvars(
            **job.log_fields(), message_id=job.message.message_id, attempt=job.attempt, **where
        )
        try:
            self._dispatch(job, event)
        finally:
            reset_contextvars(**tokens)

    def _dispatch(self, job: Job, event: EventMessage) -> None:
        """Fire the event; its handlers' actions plan their messages in the job's outbox."""
        if job.attempt > self.max_attempts:
            job.bad = BadInput(
                "attempts_exhausted",
                f"received {job.attempt} times without completing "
                "(a worker may have crashed or stalled on it)",
                event.event_name,
            )
            return
        try:
            self.data_schemas.check(event)
        except BadInput as error:
            job.bad = error
            return
        job.recalled = self.memory.recall(job.message.message_id)
        job.outbox = PlanningOutbox(self.queues, skip=job.done_before)
        try:
            notify(internal_event(event, job.outbox, self.registry))
            for planned in job.outbox.messages():
                self.tracing.stamp(job, planned)
        except BadInput as error:
            error.event_name = event.event_name
            job.bad = error
        except Exception as error:  # a handler bug: keep the event, with its reason
            log.exception("handler_failed")
            job.bad = BadInput("handler_failed", f"{type(error).__name__}: {error}", event.event_name)
