"""Settle: carry each job's outcome out (``decide`` chose it).

Done jobs are deleted; dead letters are written (a letter the queue refuses for
a passing reason is retried with its event, one it refuses for good keeps the
event, held); retries are left in place with a backoff, or re-sent as an
envelope that names what is done. Every outcome is told to the listener.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import structlog

from briefy.choreographer.pipeline import deadletter
from briefy.choreographer.pipeline.decide import DeadLetter, Done, Retry, RetryPolicy, decide
from briefy.choreographer.pipeline.job import DEAD_LETTERED, DONE, HELD, RETRIED, Job
from briefy.choreographer.pipeline.listeners import PipelineListener
from briefy.choreographer.pipeline.memory import DoneMemory
from briefy.choreographer.pipeline.retry import envelope
from briefy.choreographer.pipeline.state import Seal
from briefy.common.queue import Queue
from briefy.common.queue.message import OutgoingMessage, SQSMessage
from briefy.common.queue.sqs import MAX_VISIBILITY

log = structlog.get_logger("briefy.choreographer.worker")

#: Seconds a message stays invisible when the dead-letter queue refuses its letter for
#: good (it is missing, or the letter is too big for it): SQS's longest visibility
#: timeout, so the message is kept, not moved reasonless by SQS's redrive, while an
#: operator is told (ERROR ``dead_letter_failed``) and fixes the queue.
DEAD_LETTER_HOLD = MAX_VISIBILITY
#: How many more times a failed delete is tried (with later batches, and at stop).
DELETE_RETRIES = 3


class Settler:
    """Settles jobs on the events queue and its dead-letter queue.

    ``forget`` is called with messages before their visibility is changed, so no
    heartbeat extension can overwrite what was decided.
    """

    def __init__(
        self,
        events: Queue,
        dead_letters: Queue,
        policy: RetryPolicy,
        seal: Seal,
        memory: DoneMemory,
        listener: PipelineListener,
        forget: Callable[[Iterable[SQSMessage]], None],
    ) -> None:
        self.events = events
        self.dead_letters = dead_letters
        self.policy = policy
        self.seal = seal
        self.memory = memory
        self.listener = listener
        self.forget = forget

    def settle(self, jobs: Sequence[Job]) -> tuple[list[SQSMessage], list[Job]]:
        """Carry out each job's outcome; return (messages to delete, jobs kept for a retry)."""
        finished: list[SQSMessage] = []
        dead: list[tuple[Job, DeadLetter]] = []
        retry: list[tuple[Job, Retry]] = []
        for job in jobs:
            outcome = decide(job, self.policy)
            if isinstance(outcome, Done):
                finished.append(job.message)
                job.outcome = DONE
                self.listener.done(job)
            elif isinstance(outcome, DeadLetter):
                dead.append((job, outcome))
            else:
                retry.append((job, outcome))
        finished += self._dead_letter(dead, retry)
        finished += self._retry(retry)
        if len(finished) == len(jobs):  # the usual: all settled
            return finished, []
        return finished, [job for job in jobs if job.message not in finished]

    # -- dead letters ------------------------------------------------------------
    def _dead_letter(
        self, dead: list[tuple[Job, DeadLetter]], retry: list[tuple[Job, Retry]]
    ) -> list[SQSMessage]:
        """Write dead letters; return the messages that may now be deleted."""
        if not dead:
            return []
        limit = self.dead_letters.max_message_size
        writable: list[tuple[Job, DeadLetter, OutgoingMessage]] = []
        held: list[tuple[Job, DeadLetter, str, str]] = []
        for job, outcome in dead:
            written = deadletter.letter(job, outcome.error_type, outcome.reason, self.seal)
            fitted, dropped = deadletter.fit(written, limit)
            if fitted.size() > limit:
                held.append(
                    (job, outcome, "too_big", f"the body alone has more than the {limit} bytes it takes")
                )
                continue
            if dropped or fitted.attributes != written.attributes:
                log.warning("dead_letter_trimmed", message_id=job.message.message_id, dropped=dropped)
            writable.append((job, outcome, fitted))
        results = self.dead_letters.write_messages([letter for _, _, letter in writable])
        finished = []
        for (job, outcome, _), result in zip(writable, results, strict=True):
            if result.ok:
                job.outcome, job.error_type = DEAD_LETTERED, outcome.error_type
                self.listener.dead_lettered(job, outcome, str(result.message_id))
                finished.append(job.message)
            elif result.transient:
                self.listener.dead_letter_failed(job, outcome, result.error_code, True)
                retry.append((job, Retry(self.policy.delay(job.attempt), ())))
            else:
                held.append((job, outcome, result.error_code, result.error_message))
        self._hold(held)
        return finished

    def _hold(self, held: list[tuple[Job, DeadLetter, str, str]]) -> None:
        """Keep messages whose letters the dead-letter queue refuses for good, loudly."""
        if not held:
            return
        for job, outcome, error, detail in held:
            job.outcome, job.error_type = HELD, outcome.error_type
            self.listener.dead_letter_failed(job, outcome, error, False, DEAD_LETTER_HOLD, detail)
        messages = [job.message for job, _, _, _ in held]
        self.forget(messages)
        self.events.change_visibility((message, DEAD_LETTER_HOLD) for message in messages)

    # -- retries -------------------------------------------------------------------
    def _retry(self, jobs: list[tuple[Job, Retry]]) -> list[SQSMessage]:
        """Leave jobs to be retried after their delay; return the messages an envelope replaced.

        A job some of whose actions succeeded is re-sent as an envelope naming them in
        sealed state (standard queues), so the retry runs only the rest. Where no
        envelope can be used (FIFO queues: an envelope would jump the group's order;
        no ``CHOREOGRAPHER_STATE_KEY``; no room among the message's attributes) or
        stored, this process remembers what is done (``DoneMemory``) for when it gets
        the message again.
        """
        if not jobs:
            return []
        envelopes: list[tuple[Job, OutgoingMessage]] = []
        if not self.events.fifo:
            for job, retry in jobs:
                message = envelope(job, retry.delay, self.seal) if job.done() else None
                if message is not None:
                    envelopes.append((job, message))
        replaced: list[SQSMessage] = []
        if envelopes:
            results = self.events.write_messages([message for _, message in envelopes])
            for (job, _), result in zip(envelopes, results, strict=True):
                if result.ok:
                    replaced.append(job.message)
                else:
                    log.warning(
                        "retry_envelope_failed", message_id=job.message.message_id, error=result.error_code
                    )
        rest = [(job, retry) for job, retry in jobs if job.message not in replaced]
        for job, _ in rest:
            if job.done():
                self.memory.remember(job.message.message_id, job.done())
        for job, retry in jobs:
            job.outcome = RETRIED
            self.listener.retried(job, retry, job.message in replaced)
        if rest:
            self.forget(job.message for job, _ in rest)
            self.events.change_visibility((job.message, retry.delay) for job, retry in rest)
        return replaced

    # -- deletes -------------------------------------------------------------------
    def delete(self, messages: Sequence[SQSMessage]) -> None:
        """Delete settled messages, and again those whose delete failed before.

        A message that cannot be deleted is remembered as settled (if it comes back,
        it is only deleted) and tried again with later batches and at stop.
        """
        settled = [*messages, *self.memory.undeleted(most=DELETE_RETRIES)]
        if not settled:
            return
        failed = self.events.delete_messages(settled)
        failed_ids = {message.message_id for message in failed}
        self.memory.forget(m.message_id for m in settled if m.message_id not in failed_ids)
        for message in failed:
            failures = self.memory.settle(message)
            log.warning("delete_failed", message_id=message.message_id, failures=failures)
