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
