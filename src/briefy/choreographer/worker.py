"""The choreographer worker: ``python -m briefy.choreographer.worker``.

Each batch goes through three steps. *Plan*: parse each message, fire its
internal event, and let the handlers' actions build their outgoing messages.
*Deliver*: send the outgoing messages of the whole batch, grouped by queue,
with SendMessageBatch. *Settle*: delete what is done, dead-letter bad input,
and leave transient failures to be retried (see README "Delivery guarantees").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars
from zope.component import getUtility
from zope.event import notify

from briefy.choreographer.config import Settings
from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import event_factory, parse_event
from briefy.choreographer.logging import clip, correlation
from briefy.choreographer.ops.metrics import Metrics
from briefy.choreographer.pipeline.deadletter import fit, letter
from briefy.choreographer.pipeline.fifo import rounds
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.memory import DoneMemory
from briefy.choreographer.pipeline.outbox import Planned, PlanningOutbox
from briefy.choreographer.pipeline.retry import attempt_limit, backoff, envelope
from briefy.choreographer.pipeline.state import Seal
from briefy.common.interfaces import IQueue
from briefy.common.queue import Queue
from briefy.common.queue.event import EventQueue
from briefy.common.queue.message import OutgoingMessage, SQSMessage
from briefy.common.worker import MAX_RECEIVE_BACKOFF, QueueWorker

__all__ = ["Worker", "main"]

log = structlog.get_logger(__name__)

#: How many more times a failed delete is tried (with later batches, and at stop).
DELETE_RETRIES = 3
#: Seconds a message stays invisible when the dead-letter queue refuses its letter for
#: good (it is missing, or the letter is too big for it): SQS's longest visibility
#: timeout, so the message is kept, not moved reasonless by SQS's redrive, while an
#: operator is told (ERROR ``dead_letter_failed``) and fixes the queue.
DEAD_LETTER_HOLD = 43_200


class Worker(QueueWorker):
    """Reads the ``events.queue`` utility and choreographs each event."""

    def __init__(
        self,
        queue: EventQueue,
        settings: Settings,
        dead_letters: Queue | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(
            queue,
            wait_time=settings.wait_time,
            concurrency=settings.concurrency,
            shutdown_timeout=settings.shutdown_timeout,
            backoff_base=settings.backoff_base,
            backoff_max=min(float(settings.backoff_max), MAX_RECEIVE_BACKOFF),
        )
        self.events: EventQueue = queue
        self.settings = settings
        dlq = dead_letters or queue.dead_letter_queue
        if dlq is None:
            raise ValueError("the events queue has no dead-letter queue bound")
        self.dead_letters: Queue = dlq
        self.metrics = metrics if metrics is not None else Metrics()  # metrics
        #: The configured logger itself for the lines of every event: structlog's lazy
        #: module proxy would assemble it again on each call.
        self._log = log.bind()
        self._debug = self._log.is_enabled_for(logging.DEBUG)
        self.memory = DoneMemory()
        self.seal = Seal(settings.state_keys)
        if not self.seal.enabled:
            log.warning(
                "retry_state_off",
                detail="CHOREOGRAPHER_STATE_KEY is not set: retries and redrives run every action "
                "of an event again (its outputs keep their output_id)",
            )
        if self.dead_letters.max_message_size < queue.max_message_size:
            log.error(
                "dead_letter_queue_too_small",
                dead_letter_queue=self.dead_letters.queue_name,
                dead_letter_max_bytes=self.dead_letters.max_message_size,
                events_max_bytes=queue.max_message_size,
                detail="an event bigger than the dead-letter queue takes cannot be dead-lettered: it is "
                "kept on the events queue instead; raise the dead-letter queue's MaximumMessageSize",
            )
        max_receive_count = queue.max_receive_count()
        self.max_attempts = attempt_limit(settings.max_attempts, max_receive_count)
        lowered = self.max_attempts < settings.max_attempts
        (log.warning if lowered else log.info)(
            "attempt_limit",
            max_attempts=self.max_attempts,
            setting=settings.max_attempts,
            max_receive_count=max_receive_count,
            lowered=lowered,
        )

    # -- the batch -------------------------------------------------------------
    def process_batch(self, messages: Sequence[SQSMessage]) -> None:
        """Plan, deliver and settle a batch (round by round for a FIFO queue)."""
        jobs = [self.job(message) for message in messages]
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
                try:
                    self.plan(job)
                except Exception as error:  # a bug of ours: this message's failure, not the batch's
                    log.exception("plan_failed", message_id=job.message.message_id)
                    job.bad = BadInput("internal_error", f"{type(error).__name__}: {error}", job.event_name)
                self.metrics.received(job)  # metrics
            self.deliver(active)
            done, kept = self.settle(active)
            finished += done
            blocked.update(job.message.group_id for job in kept)
        if waiting:
            self.release(waiting)
        if finished:
            # Still tracked while deleted: a redelivery meanwhile is adopted, not rerun.
            self.delete(finished)
            self.heartbeat.forget(finished)
        self.metrics.batch_done(messages)  # metrics

    def delete(self, messages: Sequence[SQSMessage]) -> None:
        """Delete settled messages, and again those whose delete failed before.

        A message that cannot be deleted is remembered as settled (if it comes back,
        it is only deleted) and tried again with later batches and at stop.
        """
        settled = [*messages, *self.memory.undeleted(most=DELETE_RETRIES)]
        failed = self.events.delete_messages(settled)
        failed_ids = {message.message_id for message in failed}
        self.memory.forget(m.message_id for m in settled if m.message_id not in failed_ids)
        for message in failed:
            failures = self.memory.settle(message)
            log.warning("delete_failed", message_id=message.message_id, failures=failures)

    def run(self) -> None:
        """Run until stopped (see ``QueueWorker.run``); then try the failed deletes once more."""
        super().run()
        if self.memory.undeleted(most=DELETE_RETRIES):
            self.delete([])

    # -- plan ------------------------------------------------------------------
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
        """Parse the message and fire its event; the actions plan their messages."""
        if job.bad is not None:
            return
        if self.memory.settled(job.message.message_id):
            # Settled on an earlier receive whose delete failed: nothing to run again.
            log.info("event_already_settled", message_id=job.message.message_id)
            return
        try:
            job.event = parse_event(job.message.body, job.fallback_id)
        except BadInput as error:
            job.bad = error
            return
        event = job.event
        attempt = job.attempt
        with bound_contextvars(
            event_id=clip(event.id),
            event_name=clip(event.event_name),
            guid=clip(event.guid),
            request_id=clip(event.request_id),
            message_id=job.message.message_id,
            attempt=attempt,
        ):
            if attempt > self.max_attempts:
                job.bad = BadInput(
                    "attempts_exhausted",
                    f"received {attempt} times without completing "
                    "(a worker may have crashed or stalled on it)",
                    event.event_name,
                )
                return
            job.recalled = self.memory.recall(job.message.message_id)
            job.outbox = PlanningOutbox(skip=job.done_before)
            try:
                notify(event_factory(event.event_name)(event, job.outbox))
            except BadInput as error:
                error.event_name = event.event_name
                job.bad = error
            except Exception as error:  # a handler bug: keep the event, with its reason
                log.exception("handler_failed")
                job.bad = BadInput("handler_failed", f"{type(error).__name__}: {error}", event.event_name)

    # -- deliver ---------------------------------------------------------------
    def deliver(self, jobs: Sequence[Job]) -> None:
        """Send the planned messages of all jobs, grouped by queue, in batches."""
        by_queue: dict[str, list[tuple[Job, Planned]]] = {}
        for job in jobs:
            if job.bad is None and job.outbox is not None:
                for planned in job.outbox.messages():
                    by_queue.setdefault(planned.queue_name, []).append((job, planned))
        for queue_name, items in by_queue.items():
            queue = getUtility(IQueue, name=queue_name)
            results = queue.write_messages([planned.message for _, planned in items])
            for (job, planned), result in zip(items, results, strict=True):
                job.results.append((planned, result))
                self._log_send(job, planned, result, queue)

    def _log_send(self, job: Job, planned: Planned, result: Any, queue: Any) -> None:
        event = job.event
        assert event is not None
        if result.ok:
            self._log.info(
                "action_sent",
                message_id=result.message_id,
                action=planned.name,
                queue=queue.name,
                event_name=clip(event.event_name),
                **correlation(event),
            )
        else:
            self._log.warning(
                "action_failed",
                error=result.error_code,
                transient=result.transient,
                action=planned.name,
                queue=queue.name,
                event_name=clip(event.event_name),
                **correlation(event),
            )

    # -- settle ----------------------------------------------------------------
    def settle(self, jobs: Sequence[Job]) -> tuple[list[SQSMessage], list[Job]]:
        """Decide each job's fate; return (messages to delete, jobs kept for a retry)."""
        finished: list[SQSMessage] = []
        dead: list[tuple[Job, OutgoingMessage]] = []
        retry: list[Job] = []
        for job in jobs:
            failures = job.failures()
            if job.bad is not None:
                dead.append((job, letter(job, job.bad.error_type, job.bad.message, self.seal)))
            elif any(not result.transient for _, result in failures):
                planned, result = next((p, r) for p, r in failures if not r.transient)
                reason = (
                    f"{planned.name}: {planned.queue_name} rejected the payload: "
                    f"{result.error_code} {result.error_message}"
                )
                dead.append((job, letter(job, "output_rejected", reason, self.seal)))
            elif failures:
                if job.attempt >= self.max_attempts:
                    planned, result = failures[0]
                    reason = (
                        f"gave up after {job.attempt} attempts; "
                        f"last error: {planned.name}: {result.error_code}"
                    )
                    dead.append((job, letter(job, "attempts_exhausted", reason, self.seal)))
                else:
                    retry.append(job)
            else:
                finished.append(job.message)
                self.metrics.settled(job, "done")  # metrics
                if self._debug:
                    self._log.debug(
                        "event_done",
                        message_id=job.message.message_id,
                        actions=len(job.results),
                        **correlation(job.event),
                    )
        finished += self._dead_letter(dead, retry)
        finished += self._retry(retry)
        if len(finished) == len(jobs):  # the usual: all settled
            return finished, []
        kept = [job for job in jobs if job.message not in finished]
        return finished, kept

    def _dead_letter(self, dead: list[tuple[Job, OutgoingMessage]], retry: list[Job]) -> list[SQSMessage]:
        """Write dead letters; return the messages that may now be deleted.

        A letter the dead-letter queue refuses for a passing reason is retried with
        the message; one it refuses for good (the queue is missing, the body is too
        big for it) keeps the message on the events queue, held for
        ``DEAD_LETTER_HOLD`` seconds at a time with an ERROR line, so an operator can
        fix the queue before SQS's redrive moves the message without a reason.
        """
        if not dead:
            return []
        limit = self.dead_letters.max_message_size
        writable: list[tuple[Job, OutgoingMessage, OutgoingMessage]] = []
        held: list[tuple[Job, str, str]] = []
        for job, written in dead:
            fitted, dropped = fit(written, limit)
            if fitted.size() > limit:
                held.append((job, "too_big", f"the body alone has more than the {limit} bytes it takes"))
                continue
            if dropped or fitted.attributes != written.attributes:
                log.warning("dead_letter_trimmed", message_id=job.message.message_id, dropped=dropped)
            writable.append((job, written, fitted))
        results = self.dead_letters.write_messages([fitted for _, _, fitted in writable])
        finished = []
        for (job, written, _), result in zip(writable, results, strict=True):
            # The log line has the whole reason, even where the letter had to shed it.
            fields = self._letter_fields(job, written)
            if result.ok:
                self.metrics.settled(job, "dead_lettered", fields["error_type"])  # metrics
                log.error("event_dead_lettered", dead_letter_id=result.message_id, **fields)
                finished.append(job.message)
            elif result.transient:
                log.error("dead_letter_failed", error=result.error_code, transient=True, **fields)
                retry.append(job)
            else:
                held.append((job, result.error_code, result.error_message))
        self._hold(held, dead)
        return finished

    def _letter_fields(self, job: Job, letter: OutgoingMessage) -> dict[str, Any]:
        return {
            "message_id": job.message.message_id,
            "event_name": clip(job.event_name),
            "error_type": letter.attributes["error_type"],
            "reason": letter.attributes.get("error_message", ""),
            **correlation(job.event),
        }

    def _hold(self, held: list[tuple[Job, str, str]], dead: list[tuple[Job, OutgoingMessage]]) -> None:
        """Keep messages whose letters the dead-letter queue refuses for good, loudly."""
        if not held:
            return
        letters = {id(job): letter for job, letter in dead}
        for job, error, detail in held:
            self.metrics.settled(job, "held")  # metrics
            log.error(
                "dead_letter_failed",
                error=error,
                detail=clip(detail, 500),
                transient=False,
                dead_letter_queue=self.dead_letters.queue_name,
                held_for=DEAD_LETTER_HOLD,
                **self._letter_fields(job, letters[id(job)]),
            )
        messages = [job.message for job, _, _ in held]
        self.heartbeat.forget(messages)
        self.events.change_visibility((message, DEAD_LETTER_HOLD) for message in messages)

    def _retry(self, jobs: list[Job]) -> list[SQSMessage]:
        """Leave jobs to be retried after a backoff; return the messages replaced by an envelope.

        A job some of whose actions succeeded is re-sent as an envelope naming them
        in sealed state (standard queues), so the retry runs only the rest. Where no
        envelope can be used (FIFO queues: an envelope would jump the group's order;
        no ``CHOREOGRAPHER_STATE_KEY``; no room among the message's attributes) or
        stored, this process remembers what is done (``DoneMemory``) for when it gets
        the message again.
        """
        if not jobs:
            return []
        settings = self.settings
        delays = {id(job): backoff(job.attempt, settings.backoff_base, settings.backoff_max) for job in jobs}
        replaced: list[SQSMessage] = []
        envelopes: list[tuple[Job, OutgoingMessage]] = []
        if not self.events.fifo:
            for job in jobs:
                message = envelope(job, delays[id(job)], self.seal) if job.done() else None
                if message is not None:
                    envelopes.append((job, message))
        if envelopes:
            partial = [job for job, _ in envelopes]
            sent = self.events.write_messages([message for _, message in envelopes])
            for job, result in zip(partial, sent, strict=True):
                if result.ok:
                    replaced.append(job.message)
                else:
                    log.warning(
                        "retry_envelope_failed", message_id=job.message.message_id, error=result.error_code
                    )
        rest = [job for job in jobs if job.message not in replaced]
        for job in rest:
            if job.done():
                self.memory.remember(job.message.message_id, job.done())
        for job in jobs:
            self.metrics.settled(job, "retried")  # metrics
            log.warning(
                "event_retry",
                message_id=job.message.message_id,
                event_name=clip(job.event_name),
                attempt=job.attempt,
                retry_in=delays[id(job)],
                remaining=[p.name for p, _ in job.failures()],
                envelope=job.message in replaced,
                **correlation(job.event),
            )
        if rest:
            self.heartbeat.forget(job.message for job in rest)
            self.events.change_visibility((job.message, delays[id(job)]) for job in rest)
        return replaced


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker until SIGTERM or SIGINT; return the process exit code."""
    from briefy.choreographer.cli.worker import run_worker

    return run_worker(argv)


if __name__ == "__main__":
    raise SystemExit(main())
