"""Retries: how many attempts, and the envelope that carries what is done to the next one."""

from __future__ import annotations

from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.state import PREFIX, Seal
from briefy.common.queue.message import OutgoingMessage
from briefy.common.queue.sqs import MAX_ATTRIBUTES, MAX_DELAY
from briefy.common.tracecontext import TRACEPARENT


def attempt_limit(setting: int, max_receive_count: int | None) -> int:
    """How many attempts the worker makes before it dead-letters an event itself.

    The setting, lowered below the events queue's redrive ``maxReceiveCount`` when
    that is smaller: SQS would move the message to its DLQ on the receive after
    ``maxReceiveCount`` *without a reason*; the worker dead-letters it, with its
    reason, by that receive at the latest (even when a crash cut the last attempt short).
    """
    if not max_receive_count:
        return setting
    return max(1, min(setting, max_receive_count - 1))


def explain_limit(setting: int, max_receive_count: int | None) -> tuple[str, str]:
    """Where the attempt limit comes from (the setting, or the events queue's redrive
    policy), and the limit in words, for the start-up line."""
    limit = attempt_limit(setting, max_receive_count)
    attempts = f"{limit} attempt{'' if limit == 1 else 's'}"
    if limit < setting:
        return "redrive_policy", (
            f"each event gets {attempts}, not the {setting} CHOREOGRAPHER_MAX_ATTEMPTS "
            "asks for, then the worker dead-letters it with its reason: the events queue's redrive "
            f"policy would move it to the dead-letter queue after {max_receive_count} receives "
            f"(its maxReceiveCount), without a reason; raise maxReceiveCount above {setting} to "
            "get every attempt"
        )
    redrive = (
        f"the events queue's redrive policy would move it only after {max_receive_count} receives"
        if max_receive_count
        else "the events queue has no redrive policy"
    )
    return "CHOREOGRAPHER_MAX_ATTEMPTS", (
        f"each event gets {attempts} (CHOREOGRAPHER_MAX_ATTEMPTS), then the worker "
        f"dead-letters it with its reason; {redrive}"
    )


def envelope(job: Job, delay: int, seal: Seal) -> OutgoingMessage | None:
    """A retry envelope: the body again, with the producer's attributes and sealed state
    naming what is done, delivered after ``delay``; None when it cannot be made (no
    key, or no room left among SQS's attributes of a message)."""
    state = seal.attributes(job.carried_state(job.attempt), job.message.body)
    if not state:
        return None
    attributes = {k: v for k, v in job.message.message_attributes.items() if not k.startswith(PREFIX)}
    if len(attributes) + len(state) > MAX_ATTRIBUTES:
        return None
    room = len(attributes) + len(state) < MAX_ATTRIBUTES
    if job.trace is not None and TRACEPARENT not in attributes and room:
        # Came with no trace (or one inside its SNS envelope): the retry goes on in the event's.
        attributes[TRACEPARENT] = job.trace.traceparent()
    return OutgoingMessage(job.message.body, {**attributes, **state}, delay=min(delay, MAX_DELAY))
