"""Decide: the outcome of one job once its sends are done. Pure: no SQS, no clock.

``decide`` looks only at the job (what was planned, what was sent, how) and the
retry policy; ``settle`` carries the outcome out.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.retry import attempt_limit


@dataclass(frozen=True, slots=True)
class Done:
    """Every available action wrote its payload (or there were none): delete the event."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Some sends failed for a passing reason: try the event again after ``delay`` seconds."""

    delay: int
    #: The actions still to send.
    remaining: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """The event can never be choreographed: write it to the dead-letter queue, with why."""

    error_type: str
    reason: str


Outcome = Done | Retry | DeadLetter


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently an event is retried."""

    max_attempts: int
    base: float = 2.0
    cap: int = 900
    #: Where the jitter comes from (``random.uniform``; a test passes its own).
    uniform: Callable[[float, float], float] = random.uniform

    @classmethod
    def below(cls, max_attempts: int, max_receive_count: int | None, base: float, cap: int) -> RetryPolicy:
        """The policy with its attempt limit kept below the queue's redrive ``maxReceiveCount``."""
        return cls(attempt_limit(max_attempts, max_receive_count), base, cap)

    def delay(self, attempt: int) -> int:
        """Seconds to wait before attempt ``attempt + 1``: exponential, with jitter."""
        ceiling = min(float(self.cap), self.base * 2 ** max(0, attempt - 1))
        return round(self.uniform(ceiling / 2, ceiling))


def decide(job: Job, policy: RetryPolicy) -> Outcome:
    """The outcome of ``job``: bad input and permanent refusals are dead-lettered, passing
    failures retried until the attempts run out, the rest is done."""
    if job.bad is not None:
        return DeadLetter(job.bad.error_type, job.bad.message)
    if job.deferred:  # the event message could not be read (S3): nothing ran, all of it is left
        if job.attempt >= policy.max_attempts:
            reason = f"gave up after {job.attempt} attempts; last error: reading the payload: {job.deferred}"
            return DeadLetter("attempts_exhausted", reason)
        return Retry(policy.delay(job.attempt), ())
    failures = job.failures()
    for planned, result in failures:
        if not result.transient:
            reason = (
                f"{planned.name}: {planned.queue_name} rejected the payload: "
                f"{result.error_code} {result.error_message}"
            )
            return DeadLetter("output_rejected", reason)
    if not failures:
        return Done()
    if job.attempt >= policy.max_attempts:
        planned, result = failures[0]
        reason = f"gave up after {job.attempt} attempts; last error: {planned.name}: {result.error_code}"
        return DeadLetter("attempts_exhausted", reason)
    return Retry(policy.delay(job.attempt), tuple(p.name for p, _ in failures))
