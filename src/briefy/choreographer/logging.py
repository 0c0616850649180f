"""Logging: structlog, configured once at start-up by the entry points."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.tracebacks import ExceptionDictTransformer

from briefy.choreographer.config import Settings

#: Keys whose values are personal data, redacted from logs when asked (any case:
#: the mail payload's ``FULLNAME`` and ``EMAIL`` are caught too).
PERSONAL_KEYS = frozenset(
    {
        "email",
        "fullname",
        "full_name",
        "to_email",
        "to_name",
        "from_email",
        "from_name",
        "address",
        "name",
        "phone",
        "mobile",
        "first_name",
        "last_name",
    }
)
REDACTED = "[redacted]"
#: E-mail addresses inside free text (error messages, reasons, tracebacks).
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: Longest text inspected for embedded JSON (a payload or a message body).
MAX_JSON_TEXT = 262_144


def correlation(event: Any) -> dict[str, str]:
    """The ids that tie a log line to its event (none when the body did not parse)."""
    if event is None:
        return {}
    return {"event_id": event.id, "guid": event.guid, "request_id": event.request_id}


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Processor: hide personal data, at any depth of dicts and lists.

    Values under ``PERSONAL_KEYS`` become ``[redacted]``; text that holds a JSON
    object or array (a message body) is redacted inside; e-mail addresses in
    any other text (error messages, tracebacks) are replaced.
    """
    for key, value in event_dict.items():
        # A rendered traceback's frames have a ``name`` (the function's): scrub its text only.
        event_dict[key] = _scrub(value) if key == "exception" else _redact_value(str(key), value)
    return event_dict


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in PERSONAL_KEYS and value not in ("", None):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    if isinstance(value, str):
        return _redact_text(value)
    return value


def _scrub(value: Any) -> Any:
    """E-mail addresses out of every text in ``value``, keys left alone."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return EMAIL.sub(REDACTED, value) if isinstance(value, str) else value


def _redact_text(text: str) -> str:
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and len(stripped) <= MAX_JSON_TEXT:
        try:
            document = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            pass
        else:
            return orjson.dumps(_redact_value("", document)).decode()
    return EMAIL.sub(REDACTED, text)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Configure structlog (and the standard library's logging) for the process.

    JSON lines in production (or ``CHOREOGRAPHER_LOG_FORMAT=json``), readable
    console output in development. With redaction on (production's default),
    exceptions are rendered before redaction, without the local variables of
    their frames, so no payload leaks through a traceback.
    """
    stream = stream or sys.stdout
    level = getattr(logging, settings.log_level)
    redacting = settings.redact_personal_data
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if settings.json_logs:
        tracebacks = ExceptionDictTransformer(show_locals=not redacting)
        processors.append(structlog.processors.ExceptionRenderer(tracebacks))
    elif redacting:
        processors.append(structlog.processors.format_exc_info)
    if redacting:
        processors.append(redact)
    if settings.json_logs:
        processors.append(structlog.processors.JSONRenderer(serializer=orjson.dumps))
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
