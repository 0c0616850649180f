"""Helpers of the delivery end-to-end tests: the twoactions site's queues, the fault proxy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.faultproxy import FaultProxy
from tests.fixtures.twoactions import SITE_ZCML
from tests.support import MotoServer, Queues, WorkerProcess, attributes

REPO_ROOT = str(Path(__file__).resolve().parents[2])


class DeliveryQueues(Queues):
    """The reference queues and the twoactions ``first``/``second`` queues, optionally FIFO."""

    def __init__(self, client: Any, fifo: bool = False) -> None:
        super().__init__(client, fifo=fifo)
        suffix = ".fifo" if fifo else ""
        self.names["first"] = f"{self.prefix}-first{suffix}"
        self.names["second"] = f"{self.prefix}-second{suffix}"

    def env(self) -> dict[str, str]:
        """Settings naming these queues and loading the twoactions site."""
        return {
            **super().env(),
            "CHOREOGRAPHER_FIRST_QUEUE": self.names["first"],
            "CHOREOGRAPHER_SECOND_QUEUE": self.names["second"],
            "CHOREOGRAPHER_ZCML": SITE_ZCML,
            "PYTHONPATH": REPO_ROOT,
        }

    def redrive(self, max_receive_count: int) -> None:
        """Give the events queue a RedrivePolicy to the DLQ."""
        arn = self.client.get_queue_attributes(QueueUrl=self.urls["dlq"], AttributeNames=["QueueArn"])
        policy = {"deadLetterTargetArn": arn["Attributes"]["QueueArn"], "maxReceiveCount": max_receive_count}
        self.client.set_queue_attributes(
            QueueUrl=self.urls["events"], Attributes={"RedrivePolicy": json.dumps(policy)}
        )

    def send_batch(self, messages: list[dict[str, Any]]) -> None:
        """Publish up to 10 events in one call."""
        entries: list[dict[str, Any]] = [
            {"Id": str(i), "MessageBody": json.dumps(message)} for i, message in enumerate(messages)
        ]
        if self.fifo:
            for entry, message in zip(entries, messages, strict=True):
                entry.update(MessageGroupId=message["guid"], MessageDeduplicationId=message["id"])
        response = self.client.send_message_batch(QueueUrl=self.urls["events"], Entries=entries)
        assert not response.get("Failed"), response["Failed"]

    def counts(self, key: str = "events") -> tuple[int, int]:
        """(visible, in flight) on a queue."""
        found = self.client.get_queue_attributes(
            QueueUrl=self.urls[key],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(found["ApproximateNumberOfMessages"]), int(found["ApproximateNumberOfMessagesNotVisible"])

    def wait_empty(self, key: str = "events", timeout: float = 60.0) -> None:
        """Wait until a queue holds nothing, visible or in flight."""
        deadline = time.monotonic() + timeout
        while self.depth(key):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.names[key]} still holds {self.depth(key)} messages")
            time.sleep(0.2)

    def collect(self, key: str, expected: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Drain a queue until ``expected`` messages came, then until it is quiet."""
        found = self.drain(key, expected=expected, timeout=timeout)
        return found + self.drain(key)


def client_for(endpoint: str) -> Any:
    """An SQS client for a test endpoint."""
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Wait until ``condition()`` holds (checked every 0.1 s), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not hold within {timeout}s")
        time.sleep(0.1)


def exit_code(worker: WorkerProcess, timeout: float = 30.0) -> int:
    """Wait for the worker process to exit by itself; its return code."""
    assert worker.process is not None
    return worker.process.wait(timeout)


def output_ids(messages: list[dict[str, Any]]) -> list[str]:
    """The ``output_id`` attribute of each output message."""
    return [attributes(message)["output_id"] for message in messages]


def worker_env(endpoint: str, queues: Queues, **settings: str) -> dict[str, str]:
    """Worker settings for delivery tests: fast retries, no botocore retries of its own."""
    return {
        "AWS_ENDPOINT_URL_SQS": endpoint,
        "AWS_MAX_ATTEMPTS": "1",
        "CHOREOGRAPHER_CONCURRENCY": "2",
        "CHOREOGRAPHER_BACKOFF_BASE": "0.2",
        "CHOREOGRAPHER_BACKOFF_MAX": "1",
        "CHOREOGRAPHER_SHUTDOWN_TIMEOUT": "20",
        **queues.env(),
        **settings,
    }


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of moto's server."""
    with FaultProxy(moto_server.url) as running_proxy:
        yield running_proxy


@pytest.fixture
def pair_queues(moto_server: MotoServer) -> DeliveryQueues:
    """Fresh standard queues for the twoactions site (events visible again after 5 s)."""
    queues = DeliveryQueues(moto_server.client())
    queues.create(visibility_timeout=5)
    return queues
