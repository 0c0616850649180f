"""Deliver: send the planned messages of a batch's jobs, grouped by queue, in batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from briefy.choreographer.events.outbox import Planned
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.listeners import PipelineListener
from briefy.choreographer.pipeline.payloads import LargePayloads
from briefy.common.interfaces import IQueue
from briefy.common.queue.message import SendResult


def deliver(
    jobs: Sequence[Job],
    queues: Mapping[str, IQueue],
    listener: PipelineListener,
    payloads: LargePayloads | None = None,
) -> None:
    """Send every planned message of ``jobs`` (SendMessageBatch per queue); record each
    result on its job. ``payloads`` first stores in S3 the messages too big for their queue."""
    by_queue: dict[str, list[tuple[Job, Planned]]] = {}
    for job in jobs:
        if job.bad is None and job.outbox is not None:
            for planned in job.outbox.messages():
                by_queue.setdefault(planned.queue_name, []).append((job, planned))
    for queue_name, items in by_queue.items():
        queue = queues[queue_name]
        if payloads is not None and payloads.bucket is not None:
            items = _offloaded(items, queue, payloads, listener)
        results = queue.write_messages([planned.message for _, planned in items if planned.message])
        for (job, planned), result in zip(items, results, strict=True):
            job.results.append((planned, result))
            listener.sent(job, planned, result, queue)


def _offloaded(
    items: list[tuple[Job, Planned]], queue: IQueue, payloads: LargePayloads, listener: PipelineListener
) -> list[tuple[Job, Planned]]:
    """The items to send, their big messages stored in S3 (a pointer on ``planned.message``);
    an item whose payload S3 refused is recorded as a failed send and not sent."""
    sending = []
    for job, planned in items:
        assert planned.message is not None
        outcome = payloads.offload(planned.message, queue)
        if isinstance(outcome, SendResult):
            job.results.append((planned, outcome))
            listener.sent(job, planned, outcome, queue)
            continue
        planned.message = outcome
        sending.append((job, planned))
    return sending
