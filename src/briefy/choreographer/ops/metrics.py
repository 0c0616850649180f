"""Prometheus metrics of one worker, in a registry of its own.

The worker reports what happens to each event (``received``, ``settled``) and
each batch (``batch_done``); SQS call errors are counted from botocore's own
event hooks on the client (``watch_client``), so the queue code stays as it is.
Label values are bounded: an event name the registry does not know is counted
as ``(unregistered)``, so a producer sending random names cannot blow up the
number of series.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from zope.component import queryUtility

from briefy.choreographer.events import IInternalEvent

if TYPE_CHECKING:
    from briefy.choreographer.pipeline.job import Job
    from briefy.common.queue.message import SQSMessage
    from briefy.common.worker import QueueWorker

#: Outcomes of an event in one attempt (``choreographer_events_processed_total``; ``held``:
#: the dead-letter queue refused its letter for good, so it is kept on the events queue).
OUTCOMES = ("done", "retried", "dead_lettered", "held")
#: Label of an event name with no registered factory, and of a body with no name.
UNREGISTERED = "(unregistered)"
#: Most labelled children (and event labels) a ``Metrics`` remembers.
MAX_CHILDREN = 4096
NO_NAME = "(none)"
#: Seconds: from a few milliseconds (moto) to a slow batch waiting on SQS retries.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def event_label(event_name: str) -> str:
    """The ``event_name`` label: the name if an event factory is registered for it."""
    if not event_name:
        return NO_NAME
    return event_name if queryUtility(IInternalEvent, name=event_name) is not None else UNREGISTERED


def action_outcome(result: Any) -> str:
    """``sent``, ``failed`` (transient: retried) or ``rejected`` (permanent)."""
    if result.ok:
        return "sent"
    return "failed" if result.transient else "rejected"


class _Pending:
    """What one pipeline thread reported during its batch."""

    __slots__ = ("received", "settled")

    def __init__(self) -> None:
        self.received: list[str] = []
        self.settled: list[tuple[Job, str, str]] = []


class Metrics:
    """The worker's counters, histograms and gauges, in a ``CollectorRegistry`` of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._local = threading.local()
        self._labels: dict[str, str] = {}
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
        self.actions = Counter(
            "choreographer_actions",
            "Action messages sent to output queues, by outcome (sent, failed, rejected).",
            ["action", "queue", "outcome"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "choreographer_batch_duration_seconds",
            "Time from receiving a batch to settling all of it.",
            buckets=BUCKETS,
            registry=r,
        )
        self.event_seconds = Histogram(
            "choreographer_event_duration_seconds",
            "Time from receiving an event message to settling it.",
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

    # -- what the worker reports -------------------------------------------------
    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: it runs for every event and action.

        The label values are bounded (registered event names and actions, outcomes),
        so the cache is too; a full cache is simply not added to.
        """
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*labels)
            if len(self._children) < MAX_CHILDREN:
                self._children[key] = child
        return child

    def _event_label(self, event_name: str) -> str:
        """``event_label``, remembered for registered names (the registry is loaded once)."""
        label = self._labels.get(event_name)
        if label is None:
            label = event_label(event_name)
            if label == event_name and len(self._labels) < MAX_CHILDREN:
                self._labels[event_name] = label
        return label

    def _pending(self) -> _Pending:
        """This pipeline thread's reports not yet handed to prometheus."""
        try:
            pending: _Pending = self._local.pending
        except AttributeError:
            pending = self._local.pending = _Pending()
        return pending

    def received(self, job: Job) -> None:
        """An event message was taken in (after parsing, so its name is known)."""
        self._pending().received.append(job.event_name)

    def settled(self, job: Job, outcome: str, error_type: str = "") -> None:
        """An event message's attempt ended: its outcome and its actions (counted, with
        its duration, when the batch is done)."""
        self._pending().settled.append((job, outcome, error_type))

    def batch_done(self, messages: Sequence[SQSMessage]) -> None:
        """A batch was settled: count what it reported (one locked call per label set,
        not one per event) and observe the time since each message was received."""
        pending = self._pending()
        now = time.monotonic()
        label = self._event_label
        counts: dict[tuple[Any, tuple[str, ...]], int] = {}
        for name in pending.received:
            key: tuple[Any, tuple[str, ...]] = (self.events_received, (label(name),))
            counts[key] = counts.get(key, 0) + 1
        durations: dict[str, list[float]] = {}
        for job, outcome, error_type in pending.settled:
            name = label(job.event_name)
            keys: list[tuple[Any, tuple[str, ...]]] = [(self.events_processed, (name, outcome))]
            if outcome == "dead_lettered":
                keys.append((self.events_dead_lettered, (name, error_type or "unknown")))
            for planned, result in job.results:
                keys.append((self.actions, (planned.name, planned.queue_name, action_outcome(result))))
            for key in keys:
                counts[key] = counts.get(key, 0) + 1
            durations.setdefault(name, []).append(now - job.message.received_at)
        pending.received.clear()
        pending.settled.clear()
        for (metric, labels), amount in counts.items():
            self._child(metric, *labels).inc(amount)
        for name, seconds in durations.items():
            observe = self._child(self.event_seconds, name).observe
            for value in seconds:
                observe(value)
        if messages:
            self.batch_seconds.observe(now - min(m.received_at for m in messages))

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
