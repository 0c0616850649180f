"""AWS clients from the settings: boto3 finds endpoint, region and credentials itself.

The worker, the tools and the readiness probe each make theirs here, so the
client configuration (retries, timeouts, the connection pool) has one home.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import NoRegionError

from briefy.choreographer.config import Settings
from briefy.choreographer.errors import StartupError

__all__ = ["WORKER_CLIENT", "make_client", "tool_client"]

#: Credentials the embedded endpoint accepts (it accepts any; none are secret).
EMBEDDED_CREDENTIALS = {"aws_access_key_id": "embedded", "aws_secret_access_key": "embedded"}

#: The worker's SQS client skips botocore's validation of each request's parameters. The
#: worker builds every request itself from values it has checked (texts made fit for SQS in
#: ``OutgoingMessage``, ids and counts of its own), so the validation repeats what is known.
#: A request wrong all the same fails as it would have: SQS refuses it, or botocore cannot
#: write it; either way a permanent failure of that call, logged with its error.
#: Measured (docs/performance.rst): the validation cost a median 6% of the worker's CPU per
#: event (seven pairs on a steady stream; from 1% less to 15% more). Tools and the readiness
#: probe keep it.
WORKER_CLIENT = Config(parameter_validation=False)


def make_client(
    settings: Settings, endpoint_url: str | None = None, overrides: Config | None = None, service: str = "sqs"
) -> Any:
    """An SQS client (or one of ``service``: ``s3``); boto3 finds endpoint, region and
    credentials itself (``AWS_ENDPOINT_URL_SQS``, ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``...).

    Only the embedded endpoint is passed explicitly. ``overrides`` changes the
    client's configuration (the readiness probe wants short timeouts).
    """
    config = Config(
        # botocore retries throttling, 5xx and network errors itself first: 3 tries in
        # all, or AWS_MAX_ATTEMPTS (boto3's own setting); the worker's retries come after.
        retries={"mode": "standard"},
        connect_timeout=5,
        read_timeout=settings.wait_time + 20,
        max_pool_connections=max(10, settings.concurrency * 3),
    )
    if overrides is not None:
        config = config.merge(overrides)
    kwargs: dict[str, Any] = {"config": config}
    region = settings.region or (None if settings.production else "us-east-1")
    if region:
        kwargs["region_name"] = region
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
        kwargs.update(EMBEDDED_CREDENTIALS)
    try:
        return boto3.session.Session().client(service, **kwargs)
    except NoRegionError as error:
        raise StartupError("no AWS region: set AWS_DEFAULT_REGION") from error


def tool_client(settings: Settings) -> Any:
    """A client for command-line tools: the embedded endpoint's address in development."""
    return make_client(settings, settings.embedded_url if settings.embedded else None)
