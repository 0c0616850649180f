"""Test support: events, a moto server process, and the real worker process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

import boto3

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.pipeline.state import Seal
from briefy.common.queue import approximate_count
from tests import reference

# The reference data the benchmark streams too: one copy, shipped with the package.
LEAD_DATA = reference.LEAD
MAIL_DATA = reference.MAIL
#: The state key of the tests' workers (a secret in production: never one like this).
TEST_STATE_KEY = "test-state-key-" + "x" * 32
TEST_SEAL = Seal((TEST_STATE_KEY.encode(),))


def event(
    event_name: str = "lead.created", data: Mapping[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """An event message with every field filled in."""
    message = {
        "event_name": event_name,
        "guid": str(uuid.uuid4()),
        "id": str(uuid.uuid4()),
        "actor": "",
        "request_id": str(uuid.uuid4()),
        "created_at": "2026-11-28T12:00:00+00:00",
        "data": dict(LEAD_DATA if data is None else data),
    }
    message.update(fields)
    return message


def with_settings(app: Application, **changes: Any) -> Application:
    """The same application (registry, client, bound queues) under changed settings."""
    site = replace(app.site, settings=replace(app.settings, **changes))
    return replace(app, site=site)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Wait until something accepts connections on ``127.0.0.1:port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    """GET ``url``: the status and the body, also for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def embedded_client(endpoint: str) -> Any:
    """A boto3 SQS client for the worker's embedded endpoint (it takes any credentials)."""
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
    )


class MotoServer:
    """moto's server in a process of its own, on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def client(self) -> Any:
        return boto3.client(
            "sqs",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


class Queues:
    """A set of uniquely named queues on a server, and the worker settings naming them."""

    def __init__(self, client: Any, prefix: str | None = None, fifo: bool = False) -> None:
        self.client = client
        self.prefix = prefix or f"t{uuid.uuid4().hex[:10]}"
        suffix = ".fifo" if fifo else ""
        self.names = {
            "events": f"{self.prefix}-events{suffix}",
            "mail": f"{self.prefix}-mail{suffix}",
            "notification": f"{self.prefix}-notification{suffix}",
            "dlq": f"{self.prefix}-events-dlq{suffix}",
        }
        self.fifo = fifo
        self.urls: dict[str, str] = {}

    def create(self, visibility_timeout: int = 30) -> Queues:
        for key, name in self.names.items():
            attributes = {"VisibilityTimeout": str(visibility_timeout)}
            if self.fifo:
                attributes["FifoQueue"] = "true"
            self.urls[key] = self.client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return self

    def env(self) -> dict[str, str]:
        return {
            "CHOREOGRAPHER_EVENTS_QUEUE": self.names["events"],
            "CHOREOGRAPHER_MAIL_QUEUE": self.names["mail"],
            "CHOREOGRAPHER_NOTIFICATION_QUEUE": self.names["notification"],
            "CHOREOGRAPHER_DEAD_LETTER_QUEUE": self.names["dlq"],
        }

    def send(self, body: Any, **kwargs: Any) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        if self.fifo:
            kwargs.setdefault("MessageGroupId", "g")
            kwargs.setdefault("MessageDeduplicationId", str(uuid.uuid4()))
        return str(
            self.client.send_message(QueueUrl=self.urls["events"], MessageBody=text, **kwargs)["MessageId"]
        )

    def drain(self, key: str, expected: int = 0, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Receive and delete messages from a queue until ``expected`` came (or it is quiet)."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.client.receive_message(
                QueueUrl=self.urls[key],
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            for message in messages:
                self.client.delete_message(QueueUrl=self.urls[key], ReceiptHandle=message["ReceiptHandle"])
            found += messages
            if expected and len(found) >= expected:
                break
            if not expected and not messages:
                break
        return found

    def depth(self, key: str) -> int:
        return approximate_count(self.client, self.urls[key])


def attributes(message: Mapping[str, Any]) -> dict[str, str]:
    """A received message's attributes as a plain dict."""
    return {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}


class WorkerProcess:
    """``python -m briefy.choreographer.worker`` as a child process, with JSON logs collected."""

    def __init__(self, env: Mapping[str, str], args: list[str] | None = None) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CHOREOGRAPHER_", "AWS_ENDPOINT"))}
        self.env = {
            **base,
            "CHOREOGRAPHER_LOG_FORMAT": "json",
            "CHOREOGRAPHER_WAIT_TIME": "1",
            # Production mode serves metrics on 8000 by default: tests ask for a port.
            "CHOREOGRAPHER_METRICS_PORT": "0",
            # As a deployment sets it; tests of a worker without a key set it to "".
            "CHOREOGRAPHER_STATE_KEY": TEST_STATE_KEY,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.args = args or [sys.executable, "-m", "briefy.choreographer.worker"]
        self.process: subprocess.Popen[bytes] | None = None
        self.logs: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._changed = threading.Condition()

    def start(self, ready: str | None = "worker_started", timeout: float = 30.0) -> WorkerProcess:
        self.process = subprocess.Popen(
            self.args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if ready:
            self.wait_for(ready, timeout=timeout)
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            text = line.decode("utf-8", "replace").rstrip("\n")
            with self._changed:
                self.raw.append(text)
                with suppress(ValueError):
                    self.logs.append(json.loads(text))
                self._changed.notify_all()

    def find(self, event: str, where: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        with self._changed:
            return [
                line for line in self.logs if line.get("event") == event and (where is None or where(line))
            ]

    def wait_for(
        self,
        event: str,
        count: int = 1,
        timeout: float = 30.0,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [
                    line
                    for line in self.logs
                    if line.get("event") == event and (where is None or where(line))
                ]
                if len(found) >= count:
                    return found
                exited = self.process is not None and self.process.poll() is not None
                left = deadline - time.monotonic()
                if left <= 0 or (exited and not self._reading()):
                    tail = "\n".join(self.raw[-30:])
                    raise TimeoutError(f"{event!r} x{count} not logged in {timeout}s; last output:\n{tail}")
                self._changed.wait(min(left, 0.5))

    def _reading(self) -> bool:
        """Whether output may still come (the process runs or its pipe is not drained)."""
        assert self.process is not None
        return (
            self.process.stdout is not None and not self.process.stdout.closed and self.process.poll() is None
        )

    def send_signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        code = self.process.wait(timeout)
        self._drained()
        return code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._drained()

    def _drained(self) -> None:
        """Once the process has exited, wait until its last lines are read."""
        reader = getattr(self, "_reader", None)
        if reader is not None and self.process is not None and self.process.poll() is not None:
            reader.join(10)


@contextmanager
def running(worker: WorkerProcess, **kwargs: Any) -> Iterator[WorkerProcess]:
    """Start the worker; on leaving, stop it gracefully (or kill it if it hangs)."""
    worker.start(**kwargs)
    try:
        yield worker
    finally:
        try:
            worker.stop(timeout=30)
        finally:
            worker.kill()
