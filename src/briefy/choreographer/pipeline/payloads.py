"""Large payloads: events read from S3, outputs too big for their queue stored there.

An event whose message is an extended-client pointer (``briefy.common.claimcheck``) is
the S3 object it names. An output bigger than ``threshold`` bytes (by default its
queue's ``MaximumMessageSize``) is stored in ``bucket`` and sent as a pointer, which the
extended client reads as the payload; with no bucket it goes to SQS as it is (and a
queue that refuses it gets it dead-lettered as ``output_rejected``).

The worker never deletes an object: other subscribers of a topic may read the same
one, a dead letter or a retry points at it, and an output's consumer owns its
payload. Expire them with an S3 lifecycle rule.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import structlog

from briefy.choreographer.errors import BadInput
from briefy.choreographer.pipeline.job import Job
from briefy.common.claimcheck import (
    SIZE_ATTRIBUTE,
    PayloadMissing,
    PayloadTooLarge,
    Pointer,
    S3Payloads,
    pointer_of,
)
from briefy.common.errors import error_code, is_transient
from briefy.common.interfaces import IQueue
from briefy.common.queue.message import OutgoingMessage, SendResult
from briefy.common.queue.sqs import MAX_ATTRIBUTES

log = structlog.get_logger("briefy.choreographer.worker")


class LargePayloads:
    """Reads the events that point at S3 and stores the outputs too big for SQS."""

    def __init__(self, store: S3Payloads, bucket: str | None = None, threshold: int = 0) -> None:
        self.store = store
        self.bucket = bucket
        #: Bytes above which an output is stored (0: its queue's MaximumMessageSize).
        self.threshold = threshold

    # -- in --------------------------------------------------------------------------
    def body(self, job: Job) -> str | bytes | None:
        """The event message of ``job``: its body, or the S3 object its pointer names.

        None when it cannot be read: ``job.bad`` says why for good (``payload_missing``,
        ``payload_unreadable``), ``job.deferred`` for now (S3 is unreachable, slow...).
        """
        message = job.message
        pointer = pointer_of(message.body, message.message_attributes)
        if pointer is None:
            return message.body
        job.pointer = pointer
        try:
            return self.store.read(pointer)
        except PayloadMissing as error:
            job.bad = BadInput(
                "payload_missing", f"the S3 object the message points at does not exist ({error})"
            )
        except PayloadTooLarge as error:
            job.bad = BadInput(
                "payload_unreadable", f"the S3 object has {error} bytes, more than the worker reads"
            )
        except Exception as error:
            code = error_code(error)
            if not is_transient(error):
                job.bad = BadInput(
                    "payload_unreadable", f"S3 refused the object the message points at: {code}"
                )
            else:
                job.deferred = f"S3 {code}"
                log.warning("payload_read_failed", message_id=message.message_id, error=code, transient=True)
        return None

    # -- out -------------------------------------------------------------------------
    def offload(self, message: OutgoingMessage, queue: IQueue) -> OutgoingMessage | SendResult:
        """``message`` as it goes to ``queue``: as it is, or, when it is bigger than the
        threshold and a bucket is set, stored in S3 and replaced by a pointer; the failed
        ``SendResult`` when S3 refused to store it."""
        if self.bucket is None or len(message.attributes) >= MAX_ATTRIBUTES:
            return message
        if message.size() <= (self.threshold or queue.max_message_size):
            return message
        payload = message.body.encode("utf-8")
        name = message.attributes.get("output_id") or "output"
        pointer = Pointer(self.bucket, f"{name}/{uuid.uuid4()}")
        try:
            self.store.store(pointer, payload)
        except Exception as error:
            code = error_code(error)
            return SendResult(
                message, None, f"S3.{code}", f"storing the payload in S3: {error}", is_transient(error)
            )
        return replace(
            message,
            body=pointer.body(),
            attributes={**message.attributes, SIZE_ATTRIBUTE: str(len(payload))},
            data_types={**(message.data_types or {}), SIZE_ATTRIBUTE: "Number"},
        )
