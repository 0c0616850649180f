"""Health checks: liveness (the loop is turning) and readiness (SQS is reachable)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from briefy.common.errors import error_code
from briefy.common.worker import MAX_RECEIVE_BACKOFF, QueueWorker

#: Seconds a readiness answer is reused, so probes cost at most one SQS call each.
READY_TTL = 2.0
#: The SQS client's read-timeout margin over the long-poll wait (see clients.make_client).
READ_MARGIN = 20
#: botocore's attempts per call (standard retry mode, see clients.make_client).
ATTEMPTS = 3


def stale_after(wait_time: int) -> float:
    """Seconds without a turn after which the loop counts as stuck.

    A healthy pipeline turns at least once per long poll; one that cannot reach
    SQS turns once per failed receive (every attempt timing out) plus its backoff.
    Anything slower than that is a loop that no longer turns.
    """
    return float(ATTEMPTS * (wait_time + READ_MARGIN) + 2 * MAX_RECEIVE_BACKOFF)


@dataclass
class Check:
    """One answer of a health check: healthy or not, and what it saw."""

    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


class Health:
    """Answers liveness and readiness for one worker.

    Readiness asks SQS for an attribute of the events queue with ``probe`` (a
    client with short timeouts and no retries) and reuses the answer for ``ttl``
    seconds; a worker that is stopping is not ready.
    """

    def __init__(
        self, worker: QueueWorker, probe: Any, queue_url: str, wait_time: int, ttl: float = READY_TTL
    ) -> None:
        self.worker = worker
        self.probe = probe
        self.queue_url = queue_url
        self.stale_after = stale_after(wait_time)
        self.ttl = ttl
        self._lock = threading.Lock()
        self._ready: Check | None = None
        self._checked_at = 0.0

    def live(self) -> Check:
        """Whether a pipeline turned recently (a stopping worker is still alive)."""
        age = time.monotonic() - self.worker.last_turn
        ok = age <= self.stale_after
        return Check(
            ok,
            {
                "status": "ok" if ok else "stalled",
                "last_turn_age": round(age, 3),
                "stale_after": self.stale_after,
                "stopping": self.worker.stopping,
            },
        )

    def ready(self) -> Check:
        """Whether the events queue answers (cached for ``ttl`` seconds)."""
        if self.worker.stopping:
            return Check(False, {"status": "stopping"})
        with self._lock:
            now = time.monotonic()
            if self._ready is None or now - self._checked_at >= self.ttl:
                self._ready = self._ask()
                self._checked_at = time.monotonic()
            check = self._ready
        age = round(time.monotonic() - self._checked_at, 3)
        return Check(check.ok, {**check.detail, "checked_ago": age})

    def _ask(self) -> Check:
        try:
            self.probe.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        except Exception as error:
            return Check(False, {"status": "unavailable", "error": error_code(error)})
        return Check(True, {"status": "ok"})
