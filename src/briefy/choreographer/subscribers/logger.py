"""The logger subscriber: every internal event is logged, known or not."""

from __future__ import annotations

from typing import Any

import structlog

log = structlog.get_logger("briefy.choreographer.events")


def handler(event: Any) -> None:
    """Log the internal event (ids are bound in the logging context by the worker)."""
    log.info("event_dispatched", event_class=type(event).__name__)
