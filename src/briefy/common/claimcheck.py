"""Claim checks through S3, wire-compatible with the Amazon SQS Extended Client Library.

A payload too big for SQS is stored as an S3 object, and the SQS message carries a
pointer to it: the body ``["software.amazon.payloadoffloading.PayloadS3Pointer",
{"s3BucketName": B, "s3Key": K}]`` with the ``ExtendedPayloadSize`` number attribute
(the payload's size in bytes). Older clients write the ``SQSLargePayloadSize``
attribute and the class ``com.amazon.sqs.javamessaging.MessageS3Pointer``: both are
read too. A body is taken for a pointer only with one of those attributes, as the
extended client itself does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from botocore.exceptions import ClientError

POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"
LEGACY_POINTER_CLASS = "com.amazon.sqs.javamessaging.MessageS3Pointer"
#: The message attribute (of SQS data type Number) that marks a pointer: the payload's bytes.
SIZE_ATTRIBUTE = "ExtendedPayloadSize"
LEGACY_SIZE_ATTRIBUTE = "SQSLargePayloadSize"
SIZE_ATTRIBUTES = (SIZE_ATTRIBUTE, LEGACY_SIZE_ATTRIBUTE)
#: The largest payload read from S3 into memory (the extended client writes up to 2 GB).
MAX_PAYLOAD = 64 * 1024 * 1024
#: S3's answers for an object that is not there.
_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


class PayloadMissing(Exception):
    """The S3 object a pointer names does not exist (its bucket, or its key)."""


class PayloadTooLarge(Exception):
    """The S3 object is bigger than the worker reads into memory."""


@dataclass(frozen=True, slots=True)
class Pointer:
    """Where a payload is: an S3 bucket and key."""

    bucket: str
    key: str

    def body(self) -> str:
        """The SQS message body that points at the payload."""
        return orjson.dumps([POINTER_CLASS, {"s3BucketName": self.bucket, "s3Key": self.key}]).decode()

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def pointer_of(body: str, attributes: Mapping[str, str]) -> Pointer | None:
    """The pointer a message is (a pointer body and a size attribute), or None."""
    if SIZE_ATTRIBUTE not in attributes and LEGACY_SIZE_ATTRIBUTE not in attributes:
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not (isinstance(document, list) and len(document) == 2 and isinstance(document[1], dict)):
        return None
    if document[0] not in (POINTER_CLASS, LEGACY_POINTER_CLASS):
        return None
    bucket, key = document[1].get("s3BucketName"), document[1].get("s3Key")
    if isinstance(bucket, str) and isinstance(key, str) and bucket and key:
        return Pointer(bucket, key)
    return None


def stored_in(body: str, attributes: Mapping[str, str]) -> str:
    """Where a message's payload is (``s3://bucket/key``), or ``""`` when it is no pointer."""
    found = pointer_of(body, attributes)
    return str(found) if found is not None else ""


class S3Payloads:
    """Payloads in S3 through a boto3 S3 client (the process's one)."""

    def __init__(self, client: Any, limit: int = MAX_PAYLOAD) -> None:
        self.client = client
        #: The largest object read into memory, in bytes.
        self.limit = limit

    def read(self, pointer: Pointer) -> bytes:
        """The payload's bytes; ``PayloadMissing``, ``PayloadTooLarge``, or botocore's error."""
        try:
            response = self.client.get_object(Bucket=pointer.bucket, Key=pointer.key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _MISSING or status == 404:
                raise PayloadMissing(code or "404") from error
            raise
        body = response["Body"]
        size = int(response.get("ContentLength") or 0)
        if size > self.limit:
            body.close()
            raise PayloadTooLarge(size)
        return bytes(body.read())

    def store(self, pointer: Pointer, payload: bytes) -> None:
        """Store ``payload`` as the object ``pointer`` names."""
        self.client.put_object(Bucket=pointer.bucket, Key=pointer.key, Body=payload)
