"""What hears the pipeline: a listener gets each outcome (the way dramatiq's middleware
hooks into a worker), so the pipeline says each thing once and the log lines and the
metrics (``briefy.choreographer.ops.metrics``) are written in one place each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import structlog

from briefy.choreographer.events.outbox import Planned
from briefy.choreographer.logging import clip
from briefy.choreographer.pipeline.decide import DeadLetter, Retry
from briefy.choreographer.pipeline.job import Job
from briefy.common.claimcheck import SIZE_ATTRIBUTE, stored_in
from briefy.common.interfaces import IQueue
from briefy.common.queue.message import SendResult

log = structlog.get_logger("briefy.choreographer.worker")


class PipelineListener:
    """Hears what happens to each job; every method does nothing here, subclasses pick theirs."""

    def planned(self, job: Job) -> None:
        """The message was parsed (or found bad) and its actions planned."""

    def sent(self, job: Job, planned: Planned, result: SendResult, queue: IQueue) -> None:
        """A planned output was sent, or its send failed (``result``)."""

    def done(self, job: Job) -> None:
        """Every action of the event is done: it is deleted."""

    def retried(self, job: Job, retry: Retry, envelope: bool) -> None:
        """The event is left to be retried after ``retry.delay`` (``envelope``: re-sent as one)."""

    def dead_lettered(self, job: Job, letter: DeadLetter, dead_letter_id: str) -> None:
        """The event was written to the dead-letter queue, with its reason."""

    def dead_letter_failed(
        self, job: Job, letter: DeadLetter, error: str, transient: bool, held_for: int = 0, detail: str = ""
    ) -> None:
        """The dead-letter queue refused the letter: retried (``transient``), else held ``held_for`` s."""

    def batch_done(self, jobs: Sequence[Job], seconds: float) -> None:
        """A batch is settled, ``seconds`` after its receive returned."""


class Listeners(PipelineListener):
    """Passes every outcome on to each listener; one that fails is logged, not fatal."""

    def __init__(self, listeners: Iterable[PipelineListener]) -> None:
        self.listeners = tuple(listeners)
        # Each hook's methods, found once: only the listeners that override it are called.
        self._hooks = {
            name: [getattr(listener, name) for listener in self.listeners if _overrides(listener, name)]
            for name in vars(PipelineListener)
            if not name.startswith("_")
        }

    def _each(self, method: str, *args: Any, **kwargs: Any) -> None:
        for hook in self._hooks[method]:
            try:
                hook(*args, **kwargs)
            except Exception:  # a listener's bug must not change what happens to a message
                log.exception("listener_failed", listener=type(hook.__self__).__name__, hook=method)

    def planned(self, job: Job) -> None:
        self._each("planned", job)

    def sent(self, job: Job, planned: Planned, result: SendResult, queue: IQueue) -> None:
        self._each("sent", job, planned, result, queue)

    def done(self, job: Job) -> None:
        self._each("done", job)

    def retried(self, job: Job, retry: Retry, envelope: bool) -> None:
        self._each("retried", job, retry, envelope)

    def dead_lettered(self, job: Job, letter: DeadLetter, dead_letter_id: str) -> None:
        self._each("dead_lettered", job, letter, dead_letter_id)

    def dead_letter_failed(
        self, job: Job, letter: DeadLetter, error: str, transient: bool, held_for: int = 0, detail: str = ""
    ) -> None:
        self._each("dead_letter_failed", job, letter, error, transient, held_for, detail)

    def batch_done(self, jobs: Sequence[Job], seconds: float) -> None:
        self._each("batch_done", jobs, seconds)


def _overrides(listener: PipelineListener, name: str) -> bool:
    return getattr(type(listener), name) is not getattr(PipelineListener, name)


class LogLines(PipelineListener):
    """The worker's log lines about events: one INFO line per action sent, and a line per
    outcome other than done (``event_done`` and ``batch_done`` at DEBUG)."""

    def __init__(self, dead_letter_queue: str = "") -> None:
        self.dead_letter_queue = dead_letter_queue
        # The configured logger itself: structlog's lazy proxy would assemble it on each call.
        self.log = log.bind()
        self.debug = self.log.is_enabled_for(logging.DEBUG)

    def sent(self, job: Job, planned: Planned, result: SendResult, queue: IQueue) -> None:
        ids = job.log_fields()
        if result.ok:
            sent = result.message
            if SIZE_ATTRIBUTE in sent.attributes:  # stored in S3: the line says where
                ids = {**ids, "payload": stored_in(sent.body, sent.attributes)}
            self.log.info(
                "action_sent", message_id=result.message_id, action=planned.name, queue=queue.name, **ids
            )
        else:
            self.log.warning(
                "action_failed",
                error=result.error_code,
                transient=result.transient,
                action=planned.name,
                queue=queue.name,
                **ids,
            )

    def done(self, job: Job) -> None:
        if self.debug:
            self.log.debug(
                "event_done", message_id=job.message.message_id, actions=len(job.results), **job.log_fields()
            )

    def retried(self, job: Job, retry: Retry, envelope: bool) -> None:
        self.log.warning(
            "event_retry",
            message_id=job.message.message_id,
            attempt=job.attempt,
            retry_in=retry.delay,
            remaining=list(retry.remaining),
            envelope=envelope,
            **job.log_fields(),
        )

    def dead_lettered(self, job: Job, letter: DeadLetter, dead_letter_id: str) -> None:
        self.log.error(
            "event_dead_lettered",
            dead_letter_id=dead_letter_id,
            message_id=job.message.message_id,
            error_type=letter.error_type,
            reason=letter.reason,
            **job.log_fields(),
        )

    def dead_letter_failed(
        self, job: Job, letter: DeadLetter, error: str, transient: bool, held_for: int = 0, detail: str = ""
    ) -> None:
        extra: dict[str, Any] = {"dead_letter_queue": self.dead_letter_queue}
        if not transient:
            extra.update(held_for=held_for, detail=clip(detail, 500))
        self.log.error(
            "dead_letter_failed",
            error=error,
            transient=transient,
            message_id=job.message.message_id,
            error_type=letter.error_type,
            reason=letter.reason,
            **extra,
            **job.log_fields(),
        )

    def batch_done(self, jobs: Sequence[Job], seconds: float) -> None:
        if self.debug:
            self.log.debug("batch_done", received=len(jobs), seconds=round(seconds, 4))
