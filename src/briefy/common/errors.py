"""Errors of the foundation, and the line between transient and permanent failures."""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

#: Error codes SQS (or any AWS API) uses for throttling and passing trouble.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsThrottled",
        "RequestTimeout",
        "RequestTimeoutException",
        "AWS.SimpleQueueService.ServiceUnavailable",
        "AWS.SimpleQueueService.InternalError",
    }
)


class QueueError(Exception):
    """Base class of queue errors."""


class QueueNotFound(QueueError):
    """An SQS queue named in the configuration does not exist."""


class InvalidPayload(QueueError):
    """A payload does not satisfy its queue's schema."""


def is_transient(error: BaseException) -> bool:
    """Tell whether retrying the call that raised ``error`` may succeed."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        return code in TRANSIENT_CODES or status >= 500 or status == 429
    # Network trouble only: other botocore errors (a request that fails validation,
    # missing credentials) fail again on every retry.
    return isinstance(error, (BotoConnectionError, HTTPClientError, OSError))


def error_code(error: BaseException) -> str:
    """A short code for ``error``: the AWS error code, or the exception class name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
