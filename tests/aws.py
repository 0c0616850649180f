"""Test support for the AWS event architecture: SNS and EventBridge bodies as those services
write them, and clients of the other services moto's server offers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:leads"
EVENT_SOURCE = "briefy.leads"


def sns_notification(message: Any, attributes: dict[str, str] | None = None, **fields: Any) -> str:
    """The body SNS delivers to a queue subscribed without raw message delivery."""
    text = message if isinstance(message, str) else json.dumps(message)
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC_ARN,
        "Message": text,
        "Timestamp": "2026-11-28T12:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    if attributes:
        envelope["MessageAttributes"] = {
            name: {"Type": "String", "Value": value} for name, value in attributes.items()
        }
    envelope.update(fields)
    return json.dumps(envelope, indent=2)


def eventbridge_event(detail: Any, detail_type: str = "lead.created", **fields: Any) -> str:
    """The body an EventBridge rule delivers to its SQS target."""
    body: dict[str, Any] = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": EVENT_SOURCE,
        "account": "123456789012",
        "time": "2026-11-28T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    body.update(fields)
    return json.dumps(body)


def client(service: str, endpoint: str) -> Any:
    """A boto3 client of ``service`` on a test endpoint (moto's server)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
