"""The in-process pipeline: the real worker on an in-memory queue, and where its time goes.

Everything runs in this process on one thread, so CPU seconds are core seconds.
Logging is on at INFO and renders JSON lines to the null device, as in production.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from benchmarks.memory import MemoryClient
from briefy.choreographer.bootstrap import Application, connect
from briefy.choreographer.config import Settings
from briefy.choreographer.events import parse_event
from briefy.choreographer.events.outbox import Planned
from briefy.choreographer.logging import configure_logging
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.site import load_site
from briefy.choreographer.worker import Worker
from briefy.common.queue.message import OutgoingMessage, SQSMessage
from tests import reference

#: The stages timed on their own, with what each covers.
STAGES = {
    "parse": "JSON body to a checked EventMessage",
    "plan": "parse, the event fired, handlers, actions: transform, schema check, JSON",
    "log": "the two INFO lines of an event (JSON, redaction, context)",
    "aws": "no envelope, no pointer: the checks for both, trace context read and stamped",
}


@dataclass
class PipelineResult:
    """Figures of the in-process pipeline."""

    events: int
    cpu_seconds: float
    outputs: int
    deleted: int
    #: Microseconds per event of each stage measured on its own.
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def per_core(self) -> float:
        """Events per CPU second: the throughput of one core."""
        return self.events / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def micros(self) -> float:
        """CPU microseconds per event, the whole pipeline."""
        return 1e6 * self.cpu_seconds / self.events if self.events else 0.0


def prepare(null: object) -> tuple[Application, MemoryClient]:
    """The reference site in production settings (JSON logs, INFO, redaction, a state key),
    every queue bound to a ``MemoryClient``."""
    settings = Settings(
        mode="production",
        region="us-east-1",
        endpoint_url="memory://",
        wait_time=0,
        extensions=(),
        state_keys=(b"k" * 32,),
    )
    configure_logging(settings, null)  # type: ignore[arg-type]
    client = MemoryClient()
    return connect(load_site(settings), client), client


def run(events: int) -> PipelineResult:
    """Push ``events`` reference events through the real worker, then time the stages."""
    with open(os.devnull, "w", encoding="utf-8") as null:
        app, client = prepare(null)
        worker = Worker(app)
        url = str(app.events.url)
        # As ``choreographer worker`` does after start-up: what is loaded lives as long as
        # the process, so the garbage collector's full passes need not walk it.
        gc.freeze()
        bodies = [reference.body(reference.event(n)) for n in range(events)]
        for body in bodies[: min(200, events)]:
            client.put(url, body)
        while worker.run_once():
            pass
        for body in bodies:
            client.put(url, body)
        sent, deleted = sum(client.sent.values()), client.deleted
        cpu = time.process_time()
        while worker.run_once():
            pass
        cpu = time.process_time() - cpu
        result = PipelineResult(events, cpu, sum(client.sent.values()) - sent, client.deleted - deleted)
        result.stages = stages(bodies[:2000], worker)
        gc.unfreeze()
        worker.heartbeat.stop()
    structlog.reset_defaults()
    return result


def stages(bodies: list[str], worker: Worker) -> dict[str, float]:
    """Microseconds per event of each stage, on ``bodies``."""
    log = structlog.get_logger("briefy.choreographer.worker").bind()
    ids = {"event_id": "e", "guid": "g", "request_id": "r", "event_name": "lead.created"}

    def plan() -> None:
        for number, body in enumerate(bodies):
            worker.planner._plan(Job(SQSMessage(f"m-{number}", "r", body)))

    def lines() -> None:
        for _ in bodies:
            log.info("event_dispatched", event_class="LeadCreated", **ids)
            log.info("action_sent", message_id="m", action="lead.created.mail", queue="mail.queue", **ids)

    def aws() -> None:
        # What a plain event pays for the AWS event architecture: parse's envelope check
        # is one type test and one key lookup (inside "parse"); here the pointer check,
        # the trace context read, and one output stamped with its own span.
        planner = worker.planner
        output = OutgoingMessage("{}", {"output_id": "o", "event_id": "e", "event_name": "n"})
        planned = Planned(None, "h", True, output)
        for number, body in enumerate(bodies):
            job = Job(SQSMessage(f"m-{number}", "r", body))
            planner.payloads.body(job)
            planner.tracing.begin(job)
            planner.tracing.stamp(job, planned)

    calls: dict[str, Callable[[], object]] = {
        "parse": lambda: [parse_event(body, "m") for body in bodies],
        "plan": plan,
        "log": lines,
        "aws": aws,
    }
    return {name: timed(call) * 1e6 / len(bodies) for name, call in calls.items()}


def timed(call: Callable[[], object]) -> float:
    """The best of three process-time measurements of ``call``, in seconds."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        call()
        best = min(best, time.process_time() - started)
    return best
