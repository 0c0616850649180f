"""Errors of the choreography; each names the outcome the worker gives it."""

from __future__ import annotations

from typing import Any

#: Every ``error_type`` a dead letter may carry, and when (one home: the tools, the
#: docs and the contract read it). ``moved_by_sqs`` is no error of ours: a letter SQS's
#: own redrive policy moved carries no reason at all.
ERROR_TYPES = {
    "invalid_json": "the body is not JSON (or nested deeper than 1024 levels)",
    "not_an_object": "the body is JSON but not an object",
    "missing_field": "event_name, guid, created_at or data missing or null",
    "wrong_type": "a field of the wrong type (an empty event_name or guid included)",
    "invalid_datetime": "created_at is not an ISO 8601 date-time",
    "invalid_data": "data fails its event's data_schema (the reason names the field)",
    "invalid_payload": "the output queue's schema rejects the payload",
    "transform_failed": "transform() raised on this data",
    "output_rejected": "the output queue refused the message for good (too big, ...)",
    "handler_failed": "a handler raised (a bug): the event is kept for a redrive",
    "internal_error": "the worker itself failed on this message (a bug of ours)",
    "invalid_attributes": "the message's attributes cannot be read at all",
    "unsupported_envelope": "an SNS message other than a Notification (a SubscriptionConfirmation...)",
    "payload_missing": "the S3 object a large-payload pointer names does not exist",
    "payload_unreadable": "S3 refuses the object a pointer names for good (access denied, too big...)",
    "attempts_exhausted": "transient failures outlasted the attempt limit",
    "moved_by_sqs": "no reason attached: SQS's own redrive policy moved it",
}


class StartupError(RuntimeError):
    """The choreographer cannot start: the message says why and what to do."""


class BadInput(Exception):
    """A message that can never be choreographed: it goes to the dead-letter queue.

    ``error_type`` is one of ``ERROR_TYPES``; ``event_name`` is filled in when it
    was known.
    """

    def __init__(self, error_type: str, message: str, event_name: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.event_name = event_name
        #: The SNS or EventBridge envelope the bad message came in (an ``Envelope``), if any.
        self.envelope: Any = None


class ActionError(BadInput):
    """An action could not turn the event's data into a payload its queue accepts."""

    def __init__(self, action: str, error_type: str, message: str, event_name: str = "") -> None:
        super().__init__(error_type, f"{action}: {message}", event_name)
        self.action = action
