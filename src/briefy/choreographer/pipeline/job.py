"""The job: one received message on its way through plan, deliver and settle."""

from __future__ import annotations

from dataclasses import dataclass, field

from briefy.choreographer.errors import BadInput
from briefy.choreographer.events.envelopes import Envelope
from briefy.choreographer.events.message import EventMessage
from briefy.choreographer.events.outbox import Planned, PlanningOutbox
from briefy.choreographer.logging import clip, correlation, envelope_fields
from briefy.choreographer.pipeline.state import NO_STATE, RetryState
from briefy.common.claimcheck import Pointer
from briefy.common.queue.message import SendResult, SQSMessage
from briefy.common.tracecontext import TraceContext

#: How a job is settled (``Job.outcome``): deleted, left to be retried, dead-lettered, or
#: held on the events queue because the dead-letter queue refused its letter for good.
DONE, RETRIED, DEAD_LETTERED, HELD = OUTCOMES = ("done", "retried", "dead_lettered", "held")


@dataclass(slots=True, eq=False)
class Job:
    """A received message, what was planned and sent for it, and what earlier attempts did."""

    message: SQSMessage
    #: What earlier attempts left: trusted only when sealed (see ``pipeline.state``).
    state: RetryState = NO_STATE
    event: EventMessage | None = None
    outbox: PlanningOutbox | None = None
    bad: BadInput | None = None
    results: list[tuple[Planned, SendResult]] = field(default_factory=list)
    #: Actions this process remembers sending for the message on an earlier attempt.
    recalled: tuple[str, ...] = ()
    #: The S3 object the event message was read from, when the body was a pointer to it.
    pointer: Pointer | None = None
    #: Why the event message could not be read this time (a passing S3 error): retried.
    deferred: str = ""
    #: The trace context the message came with (None: none, or none that parses).
    incoming_trace: TraceContext | None = None
    #: The event's own place in its trace (the incoming trace's, or a new one); its outputs
    #: carry this trace, each with a span id of its own (``pipeline.trace``).
    trace: TraceContext | None = None
    #: How the job was settled, one of ``OUTCOMES``; empty while it is not (``pipeline.settle``).
    outcome: str = ""
    #: The ``error_type`` of the dead letter written (or held) for it.
    error_type: str = ""
    #: ``log_fields()``, kept once the event is parsed and its trace begun (they do not
    #: change after).
    _fields: dict[str, str] | None = field(default=None, init=False, repr=False)

    @property
    def done_before(self) -> list[str]:
        """Actions that succeeded on earlier attempts (named by sealed state, or
        remembered by this process)."""
        if not self.state.done and not self.recalled:
            return []
        return list(dict.fromkeys([*self.state.done, *self.recalled]))

    @property
    def attempt(self) -> int:
        """This attempt's number, counting the attempts of earlier envelopes."""
        return self.state.attempts + self.message.receive_count

    @property
    def fallback_id(self) -> str:
        """The event id to use when the body has none: stable across redeliveries."""
        return self.state.event_id or self.message.message_id

    @property
    def event_name(self) -> str:
        """The event's name, when the body said it."""
        if self.event is not None:
            return self.event.event_name
        return self.bad.event_name if self.bad is not None else ""

    @property
    def envelope(self) -> Envelope | None:
        """The SNS or EventBridge envelope the event came in, when the body was one."""
        if self.event is not None:
            return self.event.envelope
        return self.bad.envelope if self.bad is not None else None

    def log_fields(self) -> dict[str, str]:
        """The fields that tie a log line to the job's event: its name and ids (those it has),
        its trace, and the envelope it came in. Every line about the event carries them (the
        planner binds them for the lines logged while the event is dispatched). Made once
        the event is parsed and its trace begun; the caller must not change them."""
        if self._fields is not None:
            return self._fields
        fields = {"event_name": clip(self.event_name), **correlation(self.event)}
        if self.trace is not None:
            fields["trace_id"] = self.trace.trace_id
        envelope = self.envelope
        if envelope is not None:
            fields.update(envelope_fields(envelope))
        if self.event is not None and self.trace is not None:
            self._fields = fields
        return fields

    def done(self) -> list[str]:
        """Every action done so far, this attempt included."""
        return self.done_before + [p.name for p, r in self.results if r.ok]

    def failures(self) -> list[tuple[Planned, SendResult]]:
        """The sends that failed this attempt."""
        return [(p, r) for p, r in self.results if not r.ok]

    def carried_state(self, attempts: int = 0) -> RetryState:
        """The state that lets a later attempt skip what is done and keep the event id."""
        event_id = self.event.id if self.event is not None else self.state.event_id
        return RetryState(tuple(self.done()), attempts, event_id)
