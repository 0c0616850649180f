"""Deliver: send the planned messages of a batch's jobs, grouped by queue, in batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.listeners import PipelineListener
from briefy.choreographer.pipeline.outbox import Planned
from briefy.common.interfaces import IQueue


def deliver(jobs: Sequence[Job], queues: Mapping[str, IQueue], listener: PipelineListener) -> None:
    """Send every planned message of ``jobs`` (SendMessageBatch per queue); record each
    result on its job."""
    by_queue: dict[str, list[tuple[Job, Planned]]] = {}
    for job in jobs:
        if job.bad is None and job.outbox is not None:
            for planned in job.outbox.messages():
                by_queue.setdefault(planned.queue_name, []).append((job, planned))
    for queue_name, items in by_queue.items():
        queue = queues[queue_name]
        results = queue.write_messages([planned.message for _, planned in items if planned.message])
        for (job, planned), result in zip(items, results, strict=True):
            job.results.append((planned, result))
            listener.sent(job, planned, result, queue)
