"""The choreographer worker: ``python -m briefy.choreographer.worker``.

Each batch goes through three steps. *Plan*: parse each message, fire its
internal event, and let the handlers' actions build their outgoing messages.
*Deliver*: send the outgoing messages of the whole batch, grouped by queue,
with SendMessageBatch. *Settle*: delete what is done, dead-letter bad input,
and leave transient failures to be retried (see README "Delivery guarantees").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from zope.component import getUtility
from zope.event import notify

from briefy.choreographer.config import Settings
from briefy.choreographer.delivery import Job, backoff, rounds
from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import event_factory, parse_event
from briefy.choreographer.logging import bound_context
from briefy.choreographer.outbox import Planned, PlanningOutbox
from briefy.common.interfaces import IQueue
from briefy.common.queue import Queue
from briefy.common.queue.event import EventQueue
from briefy.common.queue.message import OutgoingMessage, SQSMessage
from briefy.common.worker import QueueWorker

__all__ = ["Worker", "main"]

log = structlog.get_logger(__name__)


class Worker(QueueWorker):
    """Reads the ``events.queue`` utility and choreographs each event."""

    def __init__(self, queue: EventQueue, settings: Settings, dead_letters: Queue | None = None) -> None:
        super().__init__(
            queue,
            wait_time=settings.wait_time,
            concurrency=settings.concurrency,
            shutdown_timeout=settings.shutdown_timeout,
        )
        self.events: EventQueue = queue
        self.settings = settings
        dlq = dead_letters or queue.dead_letter_queue
        if dlq is None:
            raise ValueError("the events queue has no dead-letter queue bound")
        self.dead_letters: Queue = dlq

    # -- the batch -------------------------------------------------------------
    def process_batch(self, messages: Sequence[SQSMessage]) -> None:
        """Plan, deliver and settle a batch (round by round for a FIFO queue)."""
        jobs = [Job(message) for message in messages]
        blocked: set[str | None] = set()
        finished: list[SQSMessage] = []
        waiting: list[SQSMessage] = []
        for batch in rounds(jobs, self.events.fifo):
            active = [job for job in batch if not (self.events.fifo and job.message.group_id in blocked)]
            waiting += [job.message for job in batch if job not in active]
            for job in active:
                self.plan(job)
            self.deliver(active)
            done, kept = self.settle(active)
            finished += done
            blocked.update(job.message.group_id for job in kept)
        if waiting:
            self.release(waiting)
        if finished:
            for message in self.events.delete_messages(finished):
                log.warning("delete_failed", message_id=message.message_id)

    # -- plan ------------------------------------------------------------------
    def plan(self, job: Job) -> None:
        """Parse the message and fire its event; the actions plan their messages."""
        try:
            job.event = parse_event(job.message.body, job.fallback_id)
        except BadInput as error:
            job.bad = error
            return
        event = job.event
        with bound_context(
            event_id=event.id, event_name=event.event_name, guid=event.guid, request_id=event.request_id
        ):
            if job.attempt > self.settings.max_attempts:
                job.bad = BadInput(
                    "attempts_exhausted",
                    f"received {job.attempt} times without completing "
                    "(a worker may have crashed or stalled on it)",
                    event.event_name,
                )
                return
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

    @staticmethod
    def _log_send(job: Job, planned: Planned, result: Any, queue: Any) -> None:
        event = job.event
        assert event is not None
        fields = {
            "event_id": event.id,
            "event_name": event.event_name,
            "guid": event.guid,
            "request_id": event.request_id,
            "action": planned.name,
            "queue": queue.name,
        }
        if result.ok:
            log.info("action_sent", message_id=result.message_id, **fields)
        else:
            log.warning("action_failed", error=result.error_code, transient=result.transient, **fields)

    # -- settle ----------------------------------------------------------------
    def settle(self, jobs: Sequence[Job]) -> tuple[list[SQSMessage], list[Job]]:
        """Decide each job's fate; return (messages to delete, jobs kept for a retry)."""
        finished: list[SQSMessage] = []
        dead: list[tuple[Job, OutgoingMessage]] = []
        retry: list[Job] = []
        for job in jobs:
            failures = job.failures()
            if job.bad is not None:
                dead.append((job, job.dead_letter(job.bad.error_type, job.bad.message)))
            elif any(not result.transient for _, result in failures):
                planned, result = next((p, r) for p, r in failures if not r.transient)
                reason = (
                    f"{planned.name}: {planned.queue_name} rejected the payload: "
                    f"{result.error_code} {result.error_message}"
                )
                dead.append((job, job.dead_letter("output_rejected", reason)))
            elif failures:
                if job.attempt >= self.settings.max_attempts:
                    planned, result = failures[0]
                    reason = (
                        f"gave up after {job.attempt} attempts; "
                        f"last error: {planned.name}: {result.error_code}"
                    )
                    dead.append((job, job.dead_letter("attempts_exhausted", reason)))
                else:
                    retry.append(job)
            else:
                finished.append(job.message)
                log.debug("event_done", message_id=job.message.message_id, actions=len(job.results))
        finished += self._dead_letter(dead, retry)
        finished += self._retry(retry)
        kept = [job for job in jobs if job.message not in finished]
        return finished, kept

    def _dead_letter(self, dead: list[tuple[Job, OutgoingMessage]], retry: list[Job]) -> list[SQSMessage]:
        """Write dead letters; return the messages that may now be deleted."""
        if not dead:
            return []
        results = self.dead_letters.write_messages([letter for _, letter in dead])
        finished = []
        for (job, letter), result in zip(dead, results, strict=True):
            fields = {
                "message_id": job.message.message_id,
                "event_name": job.event_name,
                "error_type": letter.attributes["error_type"],
                "reason": letter.attributes["error_message"],
            }
            if result.ok:
                log.error("event_dead_lettered", dead_letter_id=result.message_id, **fields)
                finished.append(job.message)
            else:
                log.error("dead_letter_failed", error=result.error_code, **fields)
                retry.append(job)
        return finished

    def _retry(self, jobs: list[Job]) -> list[SQSMessage]:
        """Leave jobs to be retried after a backoff; return the messages replaced by an envelope.

        A job some of whose actions succeeded is re-sent as an envelope naming them
        (standard queues), so the retry runs only the rest.
        """
        if not jobs:
            return []
        settings = self.settings
        delays = {id(job): backoff(job.attempt, settings.backoff_base, settings.backoff_max) for job in jobs}
        partial = [job for job in jobs if job.done() and not self.events.fifo]
        replaced: list[SQSMessage] = []
        if partial:
            envelopes = [job.envelope(delays[id(job)]) for job in partial]
            for job, result in zip(partial, self.events.write_messages(envelopes), strict=True):
                if result.ok:
                    replaced.append(job.message)
                else:
                    log.warning(
                        "retry_envelope_failed", message_id=job.message.message_id, error=result.error_code
                    )
        rest = [job for job in jobs if job.message not in replaced]
        for job in jobs:
            log.warning(
                "event_retry",
                message_id=job.message.message_id,
                event_name=job.event_name,
                attempt=job.attempt,
                retry_in=delays[id(job)],
                remaining=[p.name for p, _ in job.failures()],
                envelope=job.message in replaced,
            )
        if rest:
            self.events.change_visibility((job.message, delays[id(job)]) for job in rest)
        return replaced


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker until SIGTERM or SIGINT; return the process exit code."""
    from briefy.choreographer.cli.worker import run_worker

    return run_worker(argv)


if __name__ == "__main__":
    raise SystemExit(main())
