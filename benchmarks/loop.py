"""What the benchmark's own loops share: settings, one client, a graceful stop."""

from __future__ import annotations

import signal
import threading
from typing import Any

from briefy.choreographer.config import Settings


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = threading.Event()

    def handle(signum: int, _: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def queue_url(client: Any, settings: Settings, utility_name: str, default: str) -> str:
    """The URL of the queue the settings name for a queue utility."""
    return str(client.get_queue_url(QueueName=settings.queue_name(utility_name, default))["QueueUrl"])
