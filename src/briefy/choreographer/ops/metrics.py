"""Prometheus metrics of one worker, in a registry of its own.

``MetricsListener`` hears the pipeline's outcomes (see ``pipeline.listeners``);
SQS call errors are counted from botocore's own event hooks on the client
(``watch_client``), so the queue code stays as it is. Label values are bounded:
an event name the choreography does not know is counted as ``(unregistered)``, so
a producer sending random names cannot blow up the number of series.

Durations start when the receive call returns the messages (not when it started
waiting for them: an idle long poll is no latency) and end when the event or the
batch is settled.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from briefy.choreographer.pipeline.job import DEAD_LETTERED, Job
from briefy.choreographer.pipeline.listeners import PipelineListener
from briefy.common.claimcheck import SIZE_ATTRIBUTE

if TYPE_CHECKING:
    from briefy.common.worker import QueueWorker

#: Label of an event name with no registered factory, and of a body with no name.
UNREGISTERED = "(unregistered)"
NO_NAME = "(none)"
#: Seconds: from a few milliseconds (moto) to a slow batch waiting on SQS retries.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def action_outcome(result: Any) -> str:
    """``sent``, ``failed`` (transient: retried) or ``rejected`` (permanent)."""
    if result.ok:
        return "sent"
    return "failed" if result.transient else "rejected"


class Metrics:
    """The worker's counters, histograms and gauges, in a ``CollectorRegistry`` of its own."""

    def __init__(self, registry: CollectorRegistry | None = None, event_names: Iterable[str] = ()) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        #: The registered event names: any other is counted as ``(unregistered)``.
        self.event_names = frozenset(event_names)
        r = self.registry
        self.events_received = Counter(
            "choreographer_events_received",
            "Event messages taken in for processing.",
            ["event_name"],
            registry=r,
        )
        self.events_processed = Counter(
            "choreographer_events_processed",
            "Event messages settled, by outcome (done, retried, dead_lettered).",
            ["event_name", "outcome"],
            registry=r,
        )
        self.events_dead_lettered = Counter(
            "choreographer_events_dead_lettered",
            "Event messages written to the dead-letter queue, by reason.",
            ["event_name", "error_type"],
            registry=r,
        )
        self.envelopes = Counter(
            "choreographer_envelopes",
            "Event messages taken in that came in an envelope, by envelope (sns, eventbridge).",
            ["envelope"],
            registry=r,
        )
        self.large_payloads = Counter(
            "choreographer_large_payloads",
            "Payloads that went through S3: event messages read, outputs stored.",
            ["direction"],
            registry=r,
        )
        self.actions = Counter(
            "choreographer_actions",
            "Action messages sent to output queues, by outcome (sent, failed, rejected).",
            ["action", "queue", "outcome"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "choreographer_batch_duration_seconds",
            "Seconds from the receive call returning a batch to settling all of it.",
            buckets=BUCKETS,
            registry=r,
        )
        self.event_seconds = Histogram(
            "choreographer_event_duration_seconds",
            "Seconds from the receive call returning an event message to settling it.",
            ["event_name"],
            buckets=BUCKETS,
            registry=r,
        )
        self.sqs_errors = Counter(
            "choreographer_sqs_errors",
            "SQS calls that failed (after botocore's retries), by operation and error code.",
            ["operation", "error_code"],
            registry=r,
        )
        self.in_flight = Gauge(
            "choreographer_messages_in_flight",
            "Messages received and not yet settled (kept invisible by the heartbeat).",
            registry=r,
        )
        self.last_turn_age = Gauge(
            "choreographer_last_turn_age_seconds",
            "Seconds since a pipeline last turned (liveness looks at this).",
            registry=r,
        )

    def label(self, event_name: str) -> str:
        """The ``event_name`` label: the name if an event factory is registered for it."""
        if not event_name:
            return NO_NAME
        return event_name if event_name in self.event_names else UNREGISTERED

    # -- what is read when scraped -----------------------------------------------
    def watch_worker(self, worker: QueueWorker) -> None:
        """Read the worker's in-flight count and the age of its last turn at each scrape."""
        self.in_flight.set_function(lambda: float(worker.heartbeat.in_flight()))
        self.last_turn_age.set_function(lambda: time.monotonic() - worker.last_turn)

    def watch_client(self, client: Any) -> None:
        """Count the failed calls of a boto3 SQS client through botocore's event hooks."""
        events = client.meta.events
        events.register("after-call.sqs", self._after_call, unique_id=f"metrics-{id(self)}-after")
        events.register("after-call-error.sqs", self._after_error, unique_id=f"metrics-{id(self)}-error")

    def _after_call(self, http_response: Any, parsed: Any, model: Any, context: Any = None, **_: Any) -> None:
        """A call got an answer: count it if the answer is an error."""
        if http_response is None or http_response.status_code < 300:
            return
        context = context or {}
        code = context.get("error_code_override") or parsed.get("Error", {}).get("Code") or "Unknown"
        self.sqs_errors.labels(model.name, str(code)).inc()

    def _after_error(self, exception: BaseException, event_name: str = "", **_: Any) -> None:
        """A call got no answer (connection refused, timeout): count it by exception class."""
        operation = event_name.rsplit(".", 1)[-1] or "unknown"
        self.sqs_errors.labels(operation, type(exception).__name__).inc()


class MetricsListener(PipelineListener):
    """Counts what the pipeline did into ``metrics``, once per batch: each settled job's
    outcome (``Job.outcome``), its actions' sends and its duration.

    A batch's counts are summed first and each labelled child is incremented once, since
    prometheus_client takes a lock on every increment; only the event durations are
    observed one by one. The labelled children are kept once made, as prometheus_client
    advises for metrics updated on a hot path (``labels()`` validates and locks on every
    call); their number is bounded by the labels' values (registered event names,
    actions, outcomes, error types).
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def batch_done(self, jobs: Sequence[Job], seconds: float) -> None:
        metrics, now = self.metrics, time.monotonic()
        counts: collections.Counter[tuple[Any, ...]] = collections.Counter()
        for job in jobs:
            if not job.outcome:  # not settled in this batch (a FIFO group's next, released)
                continue
            name = metrics.label(job.event_name)
            keys = [(metrics.events_received, name), (metrics.events_processed, name, job.outcome)]
            if job.outcome == DEAD_LETTERED:
                keys.append((metrics.events_dead_lettered, name, job.error_type))
            envelope = job.envelope
            if envelope is not None:
                keys.append((metrics.envelopes, envelope.kind))
            if job.pointer is not None and job.event is not None:
                keys.append((metrics.large_payloads, "read"))
            for planned, result in job.results:
                keys.append((metrics.actions, planned.name, planned.queue_name, action_outcome(result)))
                if result.ok and SIZE_ATTRIBUTE in result.message.attributes:
                    keys.append((metrics.large_payloads, "stored"))
            counts.update(keys)
            self._child(metrics.event_seconds, name).observe(now - job.message.arrived_at)
        for (metric, *labels), count in counts.items():
            self._child(metric, *labels).inc(count)
        metrics.batch_seconds.observe(seconds)
