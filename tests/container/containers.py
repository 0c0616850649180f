"""Containers of the image, started by a test, watched through the engine, removed after."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

from tests.container.engine import Engine, EngineError


class Container:
    """One container of ``image`` on the host's network (it reaches moto's server on loopback)."""

    def __init__(self, engine: Engine, image: str, env: Mapping[str, str], *options: str) -> None:
        self.engine = engine
        self.image = image
        self.env = dict(env)
        self.options = list(options)
        self.name = f"choreographer-test-{uuid.uuid4().hex[:10]}"
        self.id = ""

    def start(self) -> Container:
        variables = [arg for key, value in self.env.items() for arg in ("--env", f"{key}={value}")]
        result = self.engine(
            "run", "--detach", "--name", self.name, "--network", "host", *variables, *self.options, self.image
        )
        self.id = result.stdout.strip().splitlines()[-1]
        return self

    def remove(self) -> None:
        if self.id:
            self.engine.remove(self.id)

    # -- what it says ----------------------------------------------------------
    def output(self) -> str:
        """Everything it wrote, stdout and stderr."""
        result = self.engine("logs", self.id)
        return result.stdout + result.stderr

    def logs(self) -> list[dict[str, Any]]:
        """Its JSON log lines (stdout)."""
        return [json.loads(line) for line in self.engine("logs", self.id).stdout.splitlines() if line]

    def wait_for(
        self, event: str, where: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 60.0
    ) -> dict[str, Any]:
        """The first log line of ``event`` (that ``where`` accepts), waiting for it if need be."""
        deadline = time.monotonic() + timeout
        while True:
            with suppress(ValueError):  # a line being written
                for line in self.logs():
                    if line.get("event") == event and (where is None or where(line)):
                        return line
            if time.monotonic() > deadline or not self.running():
                raise TimeoutError(f"{event!r} not logged in {timeout}s; output:\n{self.output()[-4000:]}")
            time.sleep(0.2)

    # -- its state -------------------------------------------------------------
    def state(self, field: str) -> str:
        return self.engine.inspect(self.id, "{{.State." + field + "}}")

    def running(self) -> bool:
        return self.state("Running") == "true"

    def exit_code(self) -> int:
        return int(self.state("ExitCode"))

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for it to exit; its exit code."""
        return int(self.engine("wait", self.id, timeout=timeout).stdout.strip())

    # -- acting on it ----------------------------------------------------------
    def signal(self, name: str) -> None:
        """Send a signal to its main process, from outside (as ``docker stop`` does)."""
        self.engine("kill", "--signal", name, self.id)

    def stop(self, grace: int) -> float:
        """``stop --time grace``: SIGTERM, then SIGKILL after ``grace`` seconds; the seconds it took."""
        started = time.monotonic()
        self.engine("stop", "--time", str(grace), self.id, timeout=grace + 60)
        return time.monotonic() - started

    def exec(self, *command: str) -> str:
        result = self.engine("exec", self.id, *command, check=False)
        if result.returncode != 0:
            raise EngineError(f"exec {' '.join(command)} exited {result.returncode}: {result.stderr}")
        return result.stdout
