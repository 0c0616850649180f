"""Logging: structlog, configured once at start-up by the entry points."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
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
    # Most lines hold only plain values under other keys: tell so at C speed, then
    # look only at the text that could hide personal data (an e-mail, a JSON body).
    values = event_dict.values()
    # Keys are matched in any case; lower-case keys (the usual) need no lowering.
    keys = event_dict if "".join(event_dict).islower() else map(str.lower, event_dict)
    if PERSONAL_KEYS.isdisjoint(keys) and _PLAIN.issuperset(map(type, values)):
        # One scan of all the text: only an "@" (an e-mail) or a bracket (a JSON body) can hide data.
        text = "\x00".join([value for value in values if type(value) is str])
        if "@" in text or "{" in text or "[" in text:
            for key, value in event_dict.items():
                if type(value) is str and ("@" in value or value.lstrip()[:1] in ("{", "[")):
                    event_dict[key] = _redact_text(value)
        return event_dict
    for key, value in event_dict.items():
        # A rendered traceback's frames have a ``name`` (the function's): scrub its text only.
        event_dict[key] = _scrub(value) if key == "exception" else _redact_value(str(key), value)
    return event_dict


_CONTAINERS = (dict, list)
_PLAIN = frozenset({str, int, float, bool, type(None)})


class IsoTimestamp:
    """Processor: ``timestamp`` in ISO 8601, UTC, to the microsecond (``...T12:00:00.123456Z``).

    It runs on every log line, so the text of the current second is kept and
    reused while the second lasts (about a third of the cost of ``TimeStamper``).
    """

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        micros = time.time_ns() // 1000
        second, fraction = divmod(micros, 1_000_000)
        cached = self._second  # one snapshot: threads may replace it concurrently
        if cached[0] != second:
            cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
            self._second = cached
        event_dict["timestamp"] = "%s.%06dZ" % (cached[1], fraction)  # noqa: UP031 - the fastest here
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
    if value is None or isinstance(value, bool | int | float):
        return value
    # Any other object is redacted as the line will show it (a dataclass's fields,
    # an ISO date, its ``__structlog__()``, else its repr): its text may hold e-mails.
    try:
        shown = orjson.loads(orjson.dumps(value, default=_as_logged))
    except orjson.JSONEncodeError:
        shown = repr(value)
    return _redact_value(key, shown)


def _as_logged(value: Any) -> Any:
    """What structlog's JSON renderer shows for a value JSON cannot hold."""
    structlog_form = getattr(value, "__structlog__", None)
    return structlog_form() if callable(structlog_form) else repr(value)


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


#: The fields bound by ``bound_context``: one context variable holding them all.
_BOUND: ContextVar[Mapping[str, Any]] = ContextVar("briefy_choreographer_bound", default=MappingProxyType({}))


class bound_context:  # noqa: N801 - used like structlog's ``bound_contextvars``
    """Bind ``fields`` to every line logged in a block (nested blocks add to the outer ones).

    Like ``structlog.contextvars.bound_contextvars``, for the fields the worker
    binds around every event, at a fraction of the cost: the fields live in one
    context variable, set and reset once, and ``merge_bound`` adds them to lines.
    """

    __slots__ = ("_fields", "_token")

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __enter__(self) -> None:
        outer = _BOUND.get()
        self._token = _BOUND.set({**outer, **self._fields} if outer else self._fields)

    def __exit__(self, *exc_info: object) -> None:
        _BOUND.reset(self._token)


def bound_fields() -> Mapping[str, Any]:
    """The fields ``bound_context`` binds here and now."""
    return _BOUND.get()


def merge_bound(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Processor: add the ``bound_context`` fields a line does not set itself."""
    for key, value in _BOUND.get().items():
        event_dict.setdefault(key, value)
    return event_dict


class JSONLines:
    """Processor: the end of the production chain, rendering a JSON line (bytes).

    It adds the ``bound_context`` fields, the level and the timestamp, renders an
    exception if the line has one, and serialises with orjson: the work of five
    processors in one call, as it runs on every line. With ``redacting``, the
    line is rendered first and only a line that could hold personal data (a
    personal key, an ``@``, JSON text, a nested value) goes through ``redact``
    and is rendered again, so the usual line (ids, names, counts) is checked at
    C speed.
    """

    def __init__(self, *, redacting: bool) -> None:
        self._redacting = redacting
        self._timestamp = IsoTimestamp()
        self._exceptions = structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=not redacting)
        )

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> bytes:
        event_dict = merge_bound(logger, method_name, event_dict)
        event_dict = structlog.processors.add_log_level(logger, method_name, event_dict)
        event_dict = self._timestamp(logger, method_name, event_dict)
        if "exc_info" in event_dict:
            event_dict = self._exceptions(logger, method_name, event_dict)
        line = orjson.dumps(event_dict, default=_as_logged)
        if self._redacting and _may_hold_personal_data(event_dict, line):
            line = orjson.dumps(redact(logger, method_name, event_dict), default=_as_logged)
        return line


def _may_hold_personal_data(event_dict: Mapping[str, Any], line: bytes) -> bool:
    """Whether ``redact`` could change a line (``line`` is its JSON): a personal key,
    a value other than a plain one, an e-mail, or text holding quotes (JSON text)."""
    if b"@" in line or b'\\"' in line or not _PLAIN.issuperset(map(type, event_dict.values())):
        return True
    if _IMPERSONAL_KEYS.issuperset(event_dict):
        return False
    personal = False
    for key in event_dict:
        if str(key).lower() in PERSONAL_KEYS:
            personal = True
        elif len(_IMPERSONAL_KEYS) < MAX_KNOWN_KEYS:
            _IMPERSONAL_KEYS.add(key)
    return personal


#: Keys seen on lines and known not to be personal (log lines use a small, fixed set).
_IMPERSONAL_KEYS: set[Any] = set()
MAX_KNOWN_KEYS = 10_000


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
    processors: list[Any] = [structlog.contextvars.merge_contextvars]
    factory: Any
    if settings.json_logs:
        processors.append(JSONLines(redacting=redacting))
        target: Any = getattr(stream, "buffer", stream)
        factory = structlog.BytesLoggerFactory(target)
    else:
        processors += [merge_bound, structlog.processors.add_log_level, IsoTimestamp()]
        if redacting:
            processors += [structlog.processors.format_exc_info, redact]
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
