"""The choreographer worker: ``python -m briefy.choreographer.worker``.

A ``QueueWorker`` on the ``events.queue`` utility whose batches go through the
pipeline (``briefy.choreographer.pipeline``): plan each message, deliver the
outputs of the batch, then decide and settle each job, round by round on a FIFO
queue. Its log lines and metrics are listeners of the pipeline's outcomes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.interfaces import IInternalEvent
from briefy.choreographer.ops.metrics import Metrics, MetricsListener
from briefy.choreographer.pipeline.decide import RetryPolicy
from briefy.choreographer.pipeline.deliver import deliver
from briefy.choreographer.pipeline.fifo import rounds
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.listeners import Listeners, LogLines, PipelineListener
from briefy.choreographer.pipeline.memory import DoneMemory
from briefy.choreographer.pipeline.plan import Planner
from briefy.choreographer.pipeline.retry import explain_limit
from briefy.choreographer.pipeline.settle import Settler
from briefy.choreographer.pipeline.state import Seal
from briefy.common.queue.message import SQSMessage
from briefy.common.worker import MAX_RECEIVE_BACKOFF, QueueWorker

__all__ = ["Worker"]

log = structlog.get_logger(__name__)


class Worker(QueueWorker):
    """Reads the application's events queue and choreographs each event.

    ``metrics`` (a fresh ``Metrics`` by default) and any further ``listeners`` hear
    what happens to each event, as the log lines do.
    """

    def __init__(
        self, app: Application, metrics: Metrics | None = None, listeners: Sequence[PipelineListener] = ()
    ) -> None:
        settings = app.settings
        super().__init__(
            app.events,
            wait_time=settings.wait_time,
            concurrency=settings.concurrency,
            shutdown_timeout=settings.shutdown_timeout,
            backoff_base=settings.backoff_base,
            backoff_max=min(float(settings.backoff_max), MAX_RECEIVE_BACKOFF),
        )
        self.app = app
        self.events = app.events
        self.dead_letters = app.dead_letters
        event_names = (name for name, _ in app.registry.getUtilitiesFor(IInternalEvent))
        self.metrics = metrics if metrics is not None else Metrics(event_names=event_names)
        self.tracing = app.tracing
        spans = [self.tracing] if self.tracing.records else []  # ids alone need to hear nothing
        self.listener = Listeners(
            [LogLines(app.dead_letters.queue_name), MetricsListener(self.metrics), *spans, *listeners]
        )
        policy = app.events.redrive_policy
        self.policy = RetryPolicy.below(
            settings.max_attempts,
            policy.max_receive_count if policy else None,
            settings.backoff_base,
            settings.backoff_max,
        )
        self.memory = DoneMemory()
        self.seal = Seal(settings.state_keys)
        self.planner = Planner(
            app.registry,
            app.queues,
            self.seal,
            self.memory,
            self.policy.max_attempts,
            self.listener,
            data_schemas=app.site.data_schemas,
            tracing=self.tracing,
            payloads=app.payloads,
        )
        self.settler = Settler(
            app.events,
            app.dead_letters,
            self.policy,
            self.seal,
            self.memory,
            self.listener,
            self.heartbeat.forget,
        )
        self._report_setup()

    @property
    def max_attempts(self) -> int:
        """The attempts an event gets before the worker dead-letters it."""
        return self.policy.max_attempts

    def _report_setup(self) -> None:
        """Start-up lines about what the settings and the queues mean for delivery."""
        settings, policy = self.app.settings, self.app.events.redrive_policy
        lowered = self.max_attempts < settings.max_attempts
        max_receive_count = policy.max_receive_count if policy else None
        source, detail = explain_limit(settings.max_attempts, max_receive_count)
        (log.warning if lowered else log.info)(
            "attempt_limit",
            max_attempts=self.max_attempts,
            setting=settings.max_attempts,
            max_receive_count=max_receive_count,
            lowered=lowered,
            limit_from=source,
            detail=detail,
        )
        if not self.seal.enabled:
            log.warning(
                "retry_state_off",
                detail="CHOREOGRAPHER_STATE_KEY is not set: retries and redrives run every action "
                "of an event again (its outputs keep their output_id)",
            )
        if self.dead_letters.max_message_size < self.events.max_message_size:
            log.error(
                "dead_letter_queue_too_small",
                dead_letter_queue=self.dead_letters.queue_name,
                dead_letter_max_bytes=self.dead_letters.max_message_size,
                events_max_bytes=self.events.max_message_size,
                detail="an event bigger than the dead-letter queue takes cannot be dead-lettered: it is "
                "kept on the events queue instead; raise the dead-letter queue's MaximumMessageSize",
            )

    def process_batch(self, messages: Sequence[SQSMessage]) -> None:
        """Plan, deliver and settle a batch (round by round for a FIFO queue)."""
        jobs = [self.planner.job(message) for message in messages]
        try:
            self._process(jobs)
        finally:  # what was settled is heard, even if a bug of ours cut the batch short
            self.listener.batch_done(jobs, time.monotonic() - min(m.arrived_at for m in messages))

    def _process(self, jobs: list[Job]) -> None:
        blocked: set[str | None] = set()
        finished: list[SQSMessage] = []
        waiting: list[SQSMessage] = []
        fifo = self.events.fifo
        for batch in rounds(jobs, fifo):
            active = batch
            if fifo and blocked:  # a group whose earlier message is kept waits for it
                active = [job for job in batch if job.message.group_id not in blocked]
                waiting += [job.message for job in batch if job.message.group_id in blocked]
            for job in active:
                self.planner.plan(job)
            deliver(active, self.app.queues, self.listener, self.app.payloads)
            done, kept = self.settler.settle(active)
            finished += done
            blocked.update(job.message.group_id for job in kept)
        if waiting:
            self.release(waiting)
        if finished:
            # Still tracked while deleted: a redelivery meanwhile is adopted, not rerun.
            self.settler.delete(finished)
            self.heartbeat.forget(finished)

    def run(self) -> None:
        """Run until stopped (see ``QueueWorker.run``); then try the failed deletes once more."""
        super().run()
        self.settler.delete([])

    def job(self, message: SQSMessage) -> Job:
        """The job the pipeline makes of ``message`` (see ``Planner.job``)."""
        return self.planner.job(message)
