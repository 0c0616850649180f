"""Logging: structlog, configured once at start-up by the entry points."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog

from briefy.choreographer.config import Settings

#: Keys whose values are personal data, redacted from logs when asked.
PERSONAL_KEYS = frozenset(
    {"email", "fullname", "to_email", "to_name", "address", "name", "phone", "first_name", "last_name"}
)
REDACTED = "[redacted]"


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Processor: replace personal data (at any depth of dicts and lists) with a marker."""
    for key, value in event_dict.items():
        event_dict[key] = _redact_value(key, value)
    return event_dict


def _redact_value(key: str, value: Any) -> Any:
    if key in PERSONAL_KEYS and value not in ("", None):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value("", v) for v in value]
    return value


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Configure structlog (and the standard library's logging) for the process.

    JSON lines in production (or ``CHOREOGRAPHER_LOG_FORMAT=json``), readable
    console output in development.
    """
    stream = stream or sys.stdout
    level = getattr(logging, settings.log_level)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if settings.redact_personal_data:
        processors.append(redact)
    if settings.json_logs:
        processors += [
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ]
        target: Any = getattr(stream, "buffer", stream)
        factory: Any = structlog.BytesLoggerFactory(target)
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=stream.isatty()))
        factory = structlog.PrintLoggerFactory(stream)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
