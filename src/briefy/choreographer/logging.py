"""Logging: structlog, configured once at start-up by the entry points.

Production lines are JSON (orjson), development lines are readable console
output; both go through structlog's own processors. Every text a line carries
is bounded (``MAX_TEXT``; the ids of an event ``MAX_ID``), since producers
choose them, and with redaction on (production's default) personal data is
hidden by ``briefy.choreographer.redaction.Redactor``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.tracebacks import ExceptionDictTransformer

from briefy.choreographer.config import Settings
from briefy.choreographer.redaction import Redactor, logged_form

#: Longest id (event id, guid, request id, event name) a log line shows in full.
MAX_ID = 200
#: Longest text a log line carries in any field (the full value is where it belongs:
#: a message body stays whole in the dead letter).
MAX_TEXT = 8192


def clip(text: str, limit: int = MAX_ID) -> str:
    """``text`` cut to ``limit`` characters, saying how many more it had."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more characters]"


def correlation(event: Any) -> dict[str, str]:
    """The ids that tie a log line to its event (none when the body did not parse)."""
    if event is None:
        return {}
    return {"event_id": clip(event.id), "guid": clip(event.guid), "request_id": clip(event.request_id)}


def envelope_fields(envelope: Any) -> dict[str, str]:
    """The fields that say which envelope an event came in (``sns`` or ``eventbridge``) and from
    where (the topic ARN or the EventBridge source)."""
    return {"envelope": envelope.kind, "origin": clip(envelope.origin)}


def bound_texts(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Processor: cut every text field of a line to ``MAX_TEXT`` characters."""
    for key, value in event_dict.items():
        if type(value) is str and len(value) > MAX_TEXT:
            event_dict[key] = clip(value, MAX_TEXT)
    return event_dict


def serialize(event_dict: Any, **kwargs: Any) -> bytes:
    """A line as JSON, whatever it holds: orjson, or the standard library for what orjson
    refuses (integers beyond 64 bits, lone surrogates). Logging never raises."""
    try:
        return orjson.dumps(event_dict, **kwargs)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(event_dict, default=logged_form).encode()


def serialize_text(event_dict: Any, **kwargs: Any) -> str:
    """``serialize`` as text, for the standard library's handlers."""
    return serialize(event_dict, **kwargs).decode()


def naming(worker: str) -> Any:
    """Processor: add ``worker`` (which process of several wrote the line) to every line."""

    def name_worker(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict.setdefault("worker", worker)
        return event_dict

    return name_worker


def configure_logging(settings: Settings, stream: TextIO | None = None, worker: str = "") -> None:
    """Configure structlog (and the standard library's logging) for the process.

    JSON lines in production (or ``CHOREOGRAPHER_LOG_FORMAT=json``), readable
    console output in development. With redaction on, exceptions are rendered
    before redaction, without the local variables of their frames, so no
    payload leaks through a traceback. ``worker``, when given, names the process on
    every line (``--processes N`` runs several).
    """
    stream = stream or sys.stdout
    level = getattr(logging, settings.log_level)
    redacting = settings.redact_personal_data
    processors: list[Any] = [structlog.contextvars.merge_contextvars]
    if worker:
        processors.append(naming(worker))
    factory: Any
    if settings.json_logs:
        transformer = ExceptionDictTransformer(show_locals=not redacting)
        processors.append(structlog.processors.ExceptionRenderer(transformer))
    elif redacting:
        processors.append(structlog.processors.format_exc_info)
    processors.append(bound_texts)
    if redacting:
        processors.append(Redactor(settings.redact_keys))
    # Level and time are the logger's own: added after redaction, which need not read them.
    processors += [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)]
    # The standard library's records (botocore, waitress...) go through the same processors
    # (structlog's ProcessorFormatter): the same format, redacted, naming the worker.
    foreign = [structlog.stdlib.add_logger_name, *processors]
    text_renderer: Any
    if settings.json_logs:
        processors.append(structlog.processors.JSONRenderer(serializer=serialize, default=logged_form))
        text_renderer = structlog.processors.JSONRenderer(serializer=serialize_text, default=logged_form)
        target: Any = getattr(stream, "buffer", stream)
        factory = structlog.BytesLoggerFactory(target)
    else:
        text_renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
        processors.append(text_renderer)
        factory = structlog.PrintLoggerFactory(stream)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=foreign,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, text_renderer],
        )
    )
    _install_handler(handler)
    for noisy in ("werkzeug", "botocore", "urllib3", "waitress"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


#: The root logger's handler installed by ``configure_logging`` (replaced when called again).
_HANDLER: list[logging.Handler] = []


def _install_handler(handler: logging.Handler) -> None:
    root = logging.getLogger()
    while _HANDLER:
        root.removeHandler(_HANDLER.pop())
    root.addHandler(handler)
    _HANDLER.append(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
