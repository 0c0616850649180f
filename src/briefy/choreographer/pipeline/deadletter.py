"""Dead letters: the body byte for byte, the reason in attributes (one home for their names).

The worker writes them (``letter``), the dead-letter tools read them
(``briefy.choreographer.admin.deadletters``); both use the names below.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from datetime import UTC, datetime

from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.state import SEAL, STATE, Seal
from briefy.common.claimcheck import SIZE_ATTRIBUTES
from briefy.common.queue.message import OutgoingMessage
from briefy.common.queue.sqs import MAX_ATTRIBUTES
from briefy.common.tracecontext import TRACEPARENT

#: Who wrote a letter: this host and process.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
#: Longest reason a letter carries (the log line has it whole).
MAX_REASON = 1000

ERROR_TYPE = "error_type"
ERROR_MESSAGE = "error_message"
EVENT_NAME = "event_name"
RECEIVE_COUNT = "receive_count"
WORKER = "worker"
FAILED_AT = "failed_at"
SOURCE_MESSAGE_ID = "source_message_id"
#: The reason attributes of a letter (a redrive drops them).
REASONS = (ERROR_TYPE, ERROR_MESSAGE, EVENT_NAME, RECEIVE_COUNT, WORKER, FAILED_AT, SOURCE_MESSAGE_ID)
#: Attributes in the order they are given up when a letter would be too big, or have more
#: than SQS's 10 attributes.
EXPENDABLE = (
    WORKER,
    FAILED_AT,
    EVENT_NAME,
    RECEIVE_COUNT,
    TRACEPARENT,
    STATE,
    SEAL,
    SOURCE_MESSAGE_ID,
    ERROR_MESSAGE,
    ERROR_TYPE,
)


def letter(job: Job, error_type: str, reason: str, seal: Seal) -> OutgoingMessage:
    """The dead letter of ``job``: its body as it came, the reason in attributes, and the
    ``traceparent`` it came with (or, with none, the one of the trace its log lines name), so
    a redrive goes on in that trace."""
    trace = job.incoming_trace or job.trace
    attributes = {
        ERROR_TYPE: error_type,
        ERROR_MESSAGE: reason[:MAX_REASON],
        EVENT_NAME: job.event_name[:256],
        RECEIVE_COUNT: str(job.attempt),
        WORKER: WORKER_ID,
        FAILED_AT: datetime.now(UTC).isoformat(),
        SOURCE_MESSAGE_ID: job.message.message_id,
        # A redrive starts the attempts afresh: the letter keeps what is done and the id.
        **seal.attributes(job.carried_state(), job.message.body),
    }
    if trace is not None:
        attributes[TRACEPARENT] = trace.traceparent()
    types: dict[str, str] = {}
    if job.pointer is not None:  # the pointer as it came: a redrive reads the same S3 object
        for name in SIZE_ATTRIBUTES:
            if (size := job.message.message_attributes.get(name)) is not None:
                attributes[name] = size
                if size.isdigit():
                    types[name] = "Number"
    return OutgoingMessage(
        job.message.body,
        attributes,
        dedup_id=f"{job.message.message_id}-{job.attempt}",
        group_id=job.message.group_id,
        data_types=types,
    )


def fit(letter: OutgoingMessage, limit: int) -> tuple[OutgoingMessage, list[str]]:
    """The letter within ``limit`` bytes and SQS's 10 attributes, and the attributes given up.

    The body stays intact: the reason is shortened first, then attributes are
    dropped, least useful first (the reason is logged in full anyway).
    """
    attributes = dict(letter.attributes)
    over = replace(letter, attributes=attributes).size() - limit
    reason = attributes.get(ERROR_MESSAGE, "").encode("utf-8")
    if over > 0 and reason:
        attributes[ERROR_MESSAGE] = reason[: max(0, len(reason) - over)].decode("utf-8", "ignore")
    dropped = []
    for name in EXPENDABLE:
        fits = len(attributes) <= MAX_ATTRIBUTES
        if fits and replace(letter, attributes=attributes).size() <= limit:
            break
        if attributes.pop(name, None) is not None:
            dropped.append(name)
    return replace(letter, attributes=attributes), dropped
