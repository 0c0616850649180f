"""FIFO order inside a received batch."""

from __future__ import annotations

from briefy.choreographer.pipeline.job import Job


def rounds(jobs: list[Job], fifo: bool) -> list[list[Job]]:
    """Split a batch into rounds: one round for a standard queue; for a FIFO queue,
    round k holds the k-th message of each message group, so order is kept."""
    if not fifo:
        return [jobs]
    groups: dict[str | None, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.message.group_id, []).append(job)
    depth = max(len(group) for group in groups.values())
    return [[group[k] for group in groups.values() if k < len(group)] for k in range(depth)]
