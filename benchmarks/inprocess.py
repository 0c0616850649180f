"""The in-process pipeline: the real worker on an in-memory queue, and where its time goes.

Everything runs in this process on one thread, so CPU seconds are core seconds.
Logging is on at INFO and renders JSON lines to the null device, as in production.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from structlog.contextvars import bound_contextvars
from zope.component import getSiteManager
from zope.interface import providedBy

from benchmarks.memory import MemoryClient
from briefy.choreographer.bootstrap import Application, bootstrap, connect_queues
from briefy.choreographer.config import Settings
from briefy.choreographer.events import event_factory, parse_event
from briefy.choreographer.logging import configure_logging
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.outbox import Planned, PlanningOutbox
from briefy.choreographer.subscribers import BaseHandler
from briefy.choreographer.subscribers import logger as event_logger
from briefy.choreographer.worker import Worker
from briefy.common.queue import dumps
from briefy.common.queue.message import OutgoingMessage, SendResult, SQSMessage
from tests import reference

#: The stages of the breakdown, in pipeline order, with what each covers.
STAGES = {
    "parse": "JSON body to a checked EventMessage",
    "dispatch": "event factory, event object, subscriber lookup",
    "lookup": "action adapters of (DTO, event), ordered; output queue utility",
    "transform": "DTO, available, transform(), output and correlation ids",
    "serialise": "schema check, JSON, SQS batch entry",
    "log": "INFO lines: event_dispatched, action_sent (JSON, contextvars)",
}


@dataclass
class PipelineResult:
    """Figures of the in-process pipeline."""

    events: int
    cpu_seconds: float
    wall_seconds: float
    outputs: int
    deleted: int
    #: Microseconds per event of each stage measured on its own, and of the rest.
    breakdown: dict[str, float] = field(default_factory=dict)

    @property
    def per_core(self) -> float:
        """Events per CPU second: the throughput of one core."""
        return self.events / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def micros(self) -> float:
        """CPU microseconds per event, the whole pipeline."""
        return 1e6 * self.cpu_seconds / self.events if self.events else 0.0


def settings() -> Settings:
    """Production defaults (JSON logs, INFO, redaction) on the in-memory queues."""
    return Settings(mode="production", region="us-east-1", endpoint_url="memory://", wait_time=0)


def prepare(null: Any) -> tuple[Application, MemoryClient]:
    """Load the choreography, log to ``null`` and bind every queue to a ``MemoryClient``."""
    config = settings()
    configure_logging(config, null)
    app = bootstrap(config, connect=False)
    client = MemoryClient()
    app.client = client
    connect_queues(app)
    return app, client


@contextmanager
def null_sink() -> Iterator[Any]:
    """The null device, opened for text (the JSON renderer writes to its buffer)."""
    with open(os.devnull, "w", encoding="utf-8") as sink:
        yield sink


def run(events: int) -> PipelineResult:
    """Push ``events`` reference events through the real worker, then measure each stage."""
    with null_sink() as null:
        app, client = prepare(null)
        assert app.events is not None and app.events.url is not None
        worker = Worker(app.events, app.settings, app.dead_letters)
        # As ``choreographer worker`` does after start-up: what is loaded lives as long
        # as the process, so the garbage collector's full passes need not walk it.
        gc.freeze()
        bodies = [reference.body(reference.event(n)) for n in range(events)]
        warm = min(200, events)
        for body in bodies[:warm]:
            client.put(app.events.url, body)
        while worker.run_once():
            pass
        for body in bodies:
            client.put(app.events.url, body)
        sent_before, deleted_before = sum(client.sent.values()), client.deleted
        cpu, wall = time.process_time(), time.perf_counter()
        while worker.run_once():
            pass
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        gc.unfreeze()
        worker.heartbeat.stop()
        result = PipelineResult(
            events=events,
            cpu_seconds=cpu,
            wall_seconds=wall,
            outputs=sum(client.sent.values()) - sent_before,
            deleted=client.deleted - deleted_before,
        )
        result.breakdown = breakdown(bodies, result.micros, worker)
    return result


def breakdown(bodies: list[str], total: float, worker: Worker) -> dict[str, float]:
    """Microseconds per event of each stage on its own; ``other`` is the worker's share."""
    stage = Stages(bodies, worker)
    figures = {name: stage.measure(name) for name in STAGES}
    figures["other"] = total - sum(figures.values())
    return figures


class Stages:
    """Runs one stage of the pipeline over every event, its inputs prepared beforehand."""

    def __init__(self, bodies: list[str], worker: Worker) -> None:
        self.bodies = bodies
        self.worker = worker
        self.raw = [SQSMessage(f"m-{i}", f"r-{i}", body) for i, body in enumerate(bodies)]
        self.messages = [parse_event(m.body, m.message_id) for m in self.raw]
        self.events = [event_factory(m.event_name)(m, PlanningOutbox()) for m in self.messages]
        self.handlers = [self._handler(event) for event in self.events]
        self.dtos = [h._info_class_(e) for h, e in zip(self.handlers, self.events, strict=True)]
        self.actions = [
            h.actions(d, e) for h, d, e in zip(self.handlers, self.dtos, self.events, strict=True)
        ]
        self.outputs = [[a.output() for a in acts] for acts in self.actions]
        self.queues = [[a.get_queue() for a in acts] for acts in self.actions]
        sent = SendResult(OutgoingMessage(""), "s-1")
        self.logged = [
            (
                Job(raw, event=message),
                event,
                [(Planned(a, "handler", True), sent, q) for a, q in zip(acts, queues, strict=True)],
            )
            for raw, message, event, acts, queues in zip(
                self.raw, self.messages, self.events, self.actions, self.queues, strict=True
            )
        ]

    @staticmethod
    def _handler(event: Any) -> BaseHandler:
        for handler in getSiteManager().adapters.subscriptions((providedBy(event),), None):
            if isinstance(handler, BaseHandler):
                return handler
        raise LookupError(f"no handler for {event!r}")

    def measure(self, name: str) -> float:
        """Microseconds per event of stage ``name`` (the best of three runs)."""
        run: Callable[[], None] = getattr(self, name)
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            run()
            best = min(best, time.process_time() - start)
        return 1e6 * best / len(self.bodies)

    def parse(self) -> None:
        for message in self.raw:
            parse_event(message.body, message.message_id)

    def dispatch(self) -> None:
        subscriptions = getSiteManager().adapters.subscriptions
        for message in self.messages:
            event = event_factory(message.event_name)(message, PlanningOutbox())
            subscriptions((providedBy(event),), None)

    def lookup(self) -> None:
        for handler, dto, event in zip(self.handlers, self.dtos, self.events, strict=True):
            for action in handler.actions(dto, event):
                action.get_queue()

    def transform(self) -> None:
        for handler, event, actions in zip(self.handlers, self.events, self.actions, strict=True):
            handler._info_class_(event)
            for action in actions:
                if action.available:
                    action.output()

    def serialise(self) -> None:
        for outputs, queues in zip(self.outputs, self.queues, strict=True):
            for (payload, attributes), queue in zip(outputs, queues, strict=True):
                queue.validate(payload)
                oid = attributes["output_id"]
                message = OutgoingMessage(
                    dumps(payload), attributes, dedup_id=oid, group_id=payload.get("guid")
                )
                message.entry("0", False)

    def log(self) -> None:
        for job, event, sends in self.logged:
            message = job.event
            assert message is not None
            with bound_contextvars(
                event_id=message.id,
                event_name=message.event_name,
                guid=message.guid,
                request_id=message.request_id,
            ):
                event_logger.handler(event)
            for planned, result, queue in sends:
                self.worker._log_send(job, planned, result, queue)
