"""Several worker processes under one parent: ``choreographer worker --processes N``.

The parent starts N ``python -m briefy.choreographer.worker`` children (SQS shares
the queue among them), forwards SIGTERM and SIGINT to them (a second signal is
forwarded too: the workers then exit at once), and exits 0 once every child
exited cleanly. A child that exits on its own stops the others and makes the
parent exit non-zero, so that whatever runs the parent can restart it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

log = structlog.get_logger("briefy.choreographer.ops.supervisor")

#: The environment variable that tells a child which process supervises it.
PARENT = "CHOREOGRAPHER_SUPERVISOR_PID"
#: The environment variable that tells a child its number among its siblings (``2/3``).
NUMBER = "CHOREOGRAPHER_WORKER_NUMBER"
#: How often the parent looks at its children, in seconds.
POLL = 0.2


class Supervisor:
    """Runs ``count`` worker processes until they are told to stop."""

    def __init__(
        self,
        count: int,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        metrics_port: int = 0,
    ) -> None:
        self.count = count
        #: Worker k (from 1) serves metrics and health on ``metrics_port + k - 1`` (0: none).
        self.metrics_port = metrics_port
        self.env = {**(os.environ if env is None else env), PARENT: str(os.getpid())}
        self.command = list(command or [sys.executable, "-m", "briefy.choreographer.worker"])
        self.children: list[subprocess.Popen[bytes]] = []
        self.signals = 0

    def start(self) -> None:
        """Start the children, each in a session of its own: only the parent hears the terminal."""
        for number in range(self.count):
            if self.signals:  # told to stop while starting
                return
            port = str(self.metrics_port + number) if self.metrics_port else "0"
            env = {**self.env, "CHOREOGRAPHER_METRICS_PORT": port, NUMBER: f"{number + 1}/{self.count}"}
            child = subprocess.Popen(self.command, env=env, start_new_session=True)
            self.children.append(child)
            log.info("worker_process_started", pid=child.pid, number=number + 1, of=self.count)

    def forward(self, signum: int, _: Any = None) -> None:
        """Pass a signal on to every running child."""
        self.signals += 1
        log.info("signal_forwarded", signal=signal.Signals(signum).name, to=len(self.running()))
        for child in self.running():
            child.send_signal(signum)

    def running(self) -> list[subprocess.Popen[bytes]]:
        """The children that have not exited."""
        return [child for child in self.children if child.poll() is None]

    def wait(self) -> int:
        """Wait for every child; 0 when all exited cleanly after a signal, else the first failure's code."""
        failed: int | None = None
        reported: set[int] = set()
        while True:
            for child in self.children:
                if child.pid in reported or child.poll() is None:
                    continue
                reported.add(child.pid)
                code = child.returncode
                unexpected = self.signals == 0
                report = log.error if code or unexpected else log.info
                report("worker_process_exited", pid=child.pid, exit_code=code, unexpected=unexpected)
                if (code or unexpected) and failed is None:
                    failed = exit_status(code)
                    self._stop_others()
            if len(reported) == len(self.children):
                break
            time.sleep(POLL)
        return failed or 0

    def _stop_others(self) -> None:
        if self.signals == 0 and self.running():
            log.warning("stopping_worker_processes", reason="a worker process exited")
            self.forward(signal.SIGTERM)

    def run(self) -> int:
        """Start, forward SIGTERM and SIGINT until every child exited; return the exit code."""
        previous = {sig: signal.signal(sig, self.forward) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            return self.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def exit_status(code: int) -> int:
    """A child's return code as an exit status: killed by signal N is 128 + N; 0 is a failure too."""
    if code < 0:
        return 128 - code
    return code or 1


def watch_parent(stop: Any, interval: float = 1.0) -> None:
    """In a child: call ``stop()`` once the supervising parent is gone (it was killed).

    Does nothing in a worker that no supervisor started.
    """
    parent = os.environ.get(PARENT, "")
    if not parent.isdigit():
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(interval)
        log.warning("supervisor_gone", supervisor_pid=int(parent))
        stop()

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def worker_name(processes: int) -> str:
    """What the log lines of this process call it: a supervised worker its number and pid
    (``2/3 pid 4242``), a supervisor itself; nothing for a worker on its own."""
    if number := os.environ.get(NUMBER, ""):
        return f"{number} pid {os.getpid()}"
    return f"supervisor pid {os.getpid()}" if processes > 1 else ""
