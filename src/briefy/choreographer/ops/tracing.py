"""OpenTelemetry spans of the pipeline: a consumer span per event, a producer span per output.

Optional. Spans are recorded only when OpenTelemetry's own variables ask for traces
(``OTEL_TRACES_EXPORTER`` other than ``none``, or an ``OTEL_EXPORTER_OTLP_*ENDPOINT``;
``OTEL_SDK_DISABLED=true`` turns them off) and OpenTelemetry is installed (``pip install
'briefy.choreographer[otel]'``). A process run by ``opentelemetry-instrument`` uses the
tracer provider it set up; otherwise the worker sets one up from the variables
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, the exporter's own). Without
spans, trace context still propagates (``pipeline.trace.Tracing``) and nothing imports
OpenTelemetry.

Spans follow OpenTelemetry's messaging semantic conventions: ``process <events queue>``
(kind CONSUMER, a child of the context the message came with) from the receive's return
to the event's settling, and ``send <output queue>`` (kind PRODUCER, a child of it) per
output, whose context is the one the output carries; both with ``messaging.system``
``aws_sqs``, ``messaging.destination.name``, ``messaging.operation.type`` and ``.name``
and ``messaging.message.id``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import structlog

from briefy.choreographer.errors import StartupError
from briefy.choreographer.events.outbox import Planned
from briefy.choreographer.pipeline.decide import DeadLetter, Retry
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.trace import Tracing
from briefy.common.interfaces import IQueue
from briefy.common.queue.message import SendResult
from briefy.common.tracecontext import TraceContext

if TYPE_CHECKING:
    from opentelemetry.trace import Span, TracerProvider

log = structlog.get_logger("briefy.choreographer.worker")

#: ``messaging.system`` of SQS in OpenTelemetry's semantic conventions.
SYSTEM = "aws_sqs"
#: The entry point group where exporter packages name their span exporters.
EXPORTERS = "opentelemetry_traces_exporter"
#: The service name of the spans unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says.
SERVICE_NAME = "briefy-choreographer"


def wants_spans(otel: Mapping[str, str]) -> bool:
    """Whether OpenTelemetry's variables ask for traces to be exported."""
    if otel.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = otel.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(otel.get("OTEL_EXPORTER_OTLP_ENDPOINT") or otel.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def start_tracing(otel: Mapping[str, str], events_queue: str, queues: Mapping[str, IQueue]) -> Tracing:
    """The tracing of a worker: OpenTelemetry spans when the variables ask for them, else ids only."""
    if not wants_spans(otel):
        return Tracing()
    try:
        from opentelemetry import trace
    except ImportError as error:
        raise StartupError(
            "OTEL_TRACES_EXPORTER (or OTEL_EXPORTER_OTLP_ENDPOINT) asks for traces, but OpenTelemetry "
            "is not installed: pip install 'briefy.choreographer[otel]' (or unset the variable)"
        ) from error
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):  # set up by opentelemetry-instrument
        return OpenTelemetrySpans(current, events_queue, queues, owned=False)
    return OpenTelemetrySpans(tracer_provider(otel), events_queue, queues)


def tracer_provider(otel: Mapping[str, str]) -> TracerProvider:
    """An SDK tracer provider exporting through ``OTEL_TRACES_EXPORTER``'s exporters (``otlp``
    by default), batched."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        raise StartupError(
            "OTEL_TRACES_EXPORTER asks for traces, but the OpenTelemetry SDK is not installed: "
            "pip install 'briefy.choreographer[otel]'"
        ) from error
    named = "service.name=" in otel.get("OTEL_RESOURCE_ATTRIBUTES", "") or otel.get("OTEL_SERVICE_NAME")
    provider = TracerProvider(resource=Resource.create({} if named else {"service.name": SERVICE_NAME}))
    names = [name.strip() for name in otel.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if name.strip()]
    for name in names:
        found = entry_points(group=EXPORTERS, name=name)
        if not found:
            raise StartupError(
                f"OTEL_TRACES_EXPORTER names {name!r}, which no installed package provides "
                "(otlp: pip install opentelemetry-exporter-otlp; console comes with the SDK)"
            )
        exporter = next(iter(found)).load()
        provider.add_span_processor(BatchSpanProcessor(exporter()))
    return provider


def epoch_ns(monotonic: float) -> int:
    """A ``time.monotonic()`` moment as nanoseconds since the epoch (what spans take)."""
    return time.time_ns() - int((time.monotonic() - monotonic) * 1e9)


@dataclass(slots=True)
class _Open:
    """The spans of one job that are not ended yet."""

    consumer: Span
    producers: dict[int, Span] = field(default_factory=dict)


class OpenTelemetrySpans(Tracing):
    """``Tracing`` that records spans in ``provider``; a listener of the pipeline, to end them.

    ``events_queue`` is the SQS name of the events queue, ``queues`` the bound queue
    utilities (whose SQS names the producer spans take). With ``owned`` the provider is
    shut down (its spans flushed) on ``close``.
    """

    records = True

    def __init__(
        self, provider: TracerProvider, events_queue: str, queues: Mapping[str, IQueue], owned: bool = True
    ) -> None:
        from opentelemetry import context, trace

        self.provider = provider
        self.tracer = provider.get_tracer("briefy.choreographer")
        self.events_queue = events_queue
        self.queues = queues
        self.owned = owned
        self._trace = trace
        self._context = context
        # Protects the open spans: the pipelines of a process share this object.
        self._lock = threading.Lock()
        self._open: dict[int, _Open] = {}

    def close(self) -> None:
        if self.owned:
            self.provider.shutdown()  # type: ignore[attr-defined]

    # -- starting spans (the planner asks) --------------------------------------------
    def event_context(self, job: Job) -> TraceContext:
        try:
            span = self._consumer(job)
        except Exception:  # spans must never change what happens to a message
            log.exception("tracing_failed", hook="begin")
            return super().event_context(job)
        with self._lock:
            self._open[id(job)] = _Open(span)
        return self._as_context(span, job.incoming_trace)

    def output_context(self, job: Job, planned: Planned) -> TraceContext:
        with self._lock:
            found = self._open.get(id(job))
        if found is None:
            return super().output_context(job, planned)
        try:
            span = self._producer(found.consumer, planned)
        except Exception:
            log.exception("tracing_failed", hook="stamp")
            return super().output_context(job, planned)
        with self._lock:
            found.producers[id(planned)] = span
        return self._as_context(span, job.incoming_trace)

    def _consumer(self, job: Job) -> Span:
        trace = self._trace
        incoming = job.incoming_trace
        if incoming is None:
            parent = self._context.Context()  # a root: not whatever span is current here
        else:
            state = trace.TraceState.from_header([incoming.tracestate]) if incoming.tracestate else None
            flags = trace.TraceFlags(
                trace.TraceFlags.SAMPLED if incoming.sampled else trace.TraceFlags.DEFAULT
            )
            remote = trace.SpanContext(
                int(incoming.trace_id, 16), int(incoming.span_id, 16), True, flags, state
            )
            parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        attributes: dict[str, str] = {
            "messaging.system": SYSTEM,
            "messaging.destination.name": self.events_queue,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.message.id": job.message.message_id,
        }
        if job.event_name:
            attributes["choreographer.event_name"] = job.event_name[:256]
        if job.event is not None:
            attributes["choreographer.event_id"] = job.event.id[:256]
        envelope = job.envelope
        if envelope is not None:
            attributes["choreographer.envelope"] = envelope.kind
            attributes["choreographer.envelope.origin"] = envelope.origin[:256]
        return self.tracer.start_span(
            f"process {self.events_queue}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes=attributes,
            start_time=epoch_ns(job.message.arrived_at),
        )

    def _producer(self, consumer: Span, planned: Planned) -> Span:
        trace = self._trace
        queue = self.queues.get(planned.queue_name)
        destination = queue.queue_name if queue is not None else planned.queue_name
        attributes = {
            "messaging.system": SYSTEM,
            "messaging.destination.name": destination,
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "choreographer.action": planned.name,
        }
        return self.tracer.start_span(
            f"send {destination}",
            context=trace.set_span_in_context(consumer),
            kind=trace.SpanKind.PRODUCER,
            attributes=attributes,
        )

    @staticmethod
    def _as_context(span: Span, incoming: TraceContext | None) -> TraceContext:
        found = span.get_span_context()
        tracestate = incoming.tracestate if incoming is not None else ""
        return TraceContext(
            f"{found.trace_id:032x}", f"{found.span_id:016x}", found.trace_flags.sampled, tracestate
        )

    # -- ending them (the pipeline's outcomes) ------------------------------------------
    def sent(self, job: Job, planned: Planned, result: SendResult, queue: IQueue) -> None:
        with self._lock:
            found = self._open.get(id(job))
            span = found.producers.pop(id(planned), None) if found is not None else None
        if span is None:
            return
        if result.ok:
            span.set_attribute("messaging.message.id", str(result.message_id))
        else:
            span.set_status(
                self._trace.StatusCode.ERROR, f"{result.error_code} (transient: {result.transient})"
            )
        span.end()

    def done(self, job: Job) -> None:
        self._end(job, "done")

    def retried(self, job: Job, retry: Retry, envelope: bool) -> None:
        self._end(job, "retried", f"retried in {retry.delay} s")

    def dead_lettered(self, job: Job, letter: DeadLetter, dead_letter_id: str) -> None:
        # The error type only: a reason may quote data, and spans leave the process unredacted.
        self._end(job, "dead_lettered", f"dead-lettered: {letter.error_type}")

    def dead_letter_failed(
        self, job: Job, letter: DeadLetter, error: str, transient: bool, held_for: int = 0, detail: str = ""
    ) -> None:
        if not transient:  # a transient failure is followed by the retry that ends the span
            self._end(job, "held", f"held: the dead-letter queue refused it ({error})")

    def batch_done(self, jobs: Sequence[Job], seconds: float) -> None:
        for job in jobs:  # any left open (a job that was never settled) end with the batch
            self._end(job, "unsettled")

    def _end(self, job: Job, outcome: str, error: str = "") -> None:
        with self._lock:
            found = self._open.pop(id(job), None)
        if found is None:
            return
        status = self._trace.StatusCode.ERROR
        for span in found.producers.values():  # planned, never sent (the event went elsewhere)
            span.set_status(status, "not sent")
            span.end()
        found.consumer.set_attribute("choreographer.outcome", outcome)
        if error:
            found.consumer.set_status(status, error)
        found.consumer.end()
