"""moto's server in a process of its own, on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.cpu import cpu_seconds

#: Credentials and region for moto's server (it accepts any).
ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """``python -m moto.server`` on ``127.0.0.1`` and a free port; a context manager."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_for_port(30.0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def _wait_for_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's server exited at start-up (code {self.process.returncode})")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"moto's server does not listen on {self.url}")

    def cpu_seconds(self) -> float | None:
        """CPU seconds the server has used so far."""
        return cpu_seconds(self.process.pid) if self.process is not None else None

    def client(self, pool: int = 10) -> Any:
        """A boto3 SQS client for the server (no retries: the benchmark counts every call)."""
        config = Config(retries={"total_max_attempts": 1}, max_pool_connections=pool, read_timeout=60)
        return boto3.session.Session().client(
            "sqs",
            endpoint_url=self.url,
            region_name=ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"],
            config=config,
        )
