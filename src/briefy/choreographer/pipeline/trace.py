"""Trace context through the pipeline: every event continues the trace it came with (or starts
one), every output carries that trace with a span id of its own.

``Tracing`` propagates ids only (no OpenTelemetry needed); ``ops.tracing.OpenTelemetrySpans``
is a ``Tracing`` that also records a consumer span per event and a producer span per
output, and hears the pipeline's outcomes (as a listener) to end them. The planner calls
``begin`` once the message is read and ``stamp`` on each planned output.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from briefy.choreographer.events.outbox import Planned
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.listeners import PipelineListener
from briefy.common.queue.sqs import MAX_ATTRIBUTES
from briefy.common.tracecontext import (
    AWS_TRACE_HEADER,
    TRACEPARENT,
    TRACESTATE,
    TraceContext,
    incoming,
)

log = structlog.get_logger("briefy.choreographer.worker")


class Tracing(PipelineListener):
    """Gives each job its trace context and each output its own place in that trace."""

    #: Whether it records spans (and must hear the outcomes that end them).
    records = False

    def close(self) -> None:
        """Flush and stop what records spans (nothing to do for ids alone)."""

    def begin(self, job: Job) -> None:
        """Read the trace context the message came with; set the job's own (``job.trace``).

        The message's ``traceparent`` counts first, then its SNS envelope's, then its
        ``AWSTraceHeader``. A value that does not parse is ignored with a warning.
        """
        attributes: Mapping[str, str] = job.message.message_attributes
        envelope = job.envelope
        if envelope is not None and envelope.attributes and TRACEPARENT not in attributes:
            attributes = envelope.attributes
        found = incoming(attributes, job.message.attributes)
        if found.ignored:
            log.warning("trace_context_ignored", message_id=job.message.message_id, attributes=found.ignored)
        job.incoming_trace = found.context
        job.trace = self.event_context(job)

    def event_context(self, job: Job) -> TraceContext:
        """The event's own place: a span of the incoming trace, or the start of a new one."""
        return job.incoming_trace.child() if job.incoming_trace is not None else TraceContext.new()

    def output_context(self, job: Job, planned: Planned) -> TraceContext:
        """Where an output is in the trace: the event's trace, a span id of its own."""
        assert job.trace is not None
        return job.trace.child()

    def stamp(self, job: Job, planned: Planned) -> None:
        """Write the output's trace context on its message: ``traceparent`` (and ``tracestate``)
        while SQS's 10 attributes leave room, and ``AWSTraceHeader``, which takes none."""
        message = planned.message
        if message is None or job.trace is None:
            return
        context = self.output_context(job, planned)
        attributes = message.attributes
        if len(attributes) < MAX_ATTRIBUTES:
            attributes[TRACEPARENT] = context.traceparent()
            if context.tracestate and len(attributes) < MAX_ATTRIBUTES:
                attributes[TRACESTATE] = context.tracestate
        header = {AWS_TRACE_HEADER: context.aws_trace_header()}
        system = message.system_attributes
        message.system_attributes = {**system, **header} if system else header
