"""Redaction: personal data out of log lines, in time proportional to the line.

Log lines carry text a producer controls (ids, event names, reasons, error
messages), so nothing here may take more than linear time on any input. The
patterns use possessive quantifiers and start only where a match can begin
(a lookbehind rules out every position inside a run), so the regular
expression engine never backtracks over a run of characters it has read; the
JSON inside text is parsed a bounded number of times; nesting is cut off at
``MAX_DEPTH``. ``tests/test_redaction_properties.py`` checks the results and
``make bench`` the time, on inputs up to megabytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, MutableMapping
from functools import lru_cache
from typing import Any

import orjson

REDACTED = "[redacted]"
#: Keys whose values are personal data. They match in any spelling: ``E-Mail``,
#: ``email_address`` and ``emailAddress`` all match ``email`` or ``email_address``
#: (see ``normal_key``). A site adds its own with ``CHOREOGRAPHER_REDACT_KEYS``.
PERSONAL_KEYS = (
    "email",
    "email_address",
    "e_mail",
    "mail",
    "to_email",
    "from_email",
    "reply_to",
    "cc",
    "bcc",
    "name",
    "full_name",
    "first_name",
    "last_name",
    "middle_name",
    "surname",
    "given_name",
    "family_name",
    "display_name",
    "nickname",
    "user_name",
    "to_name",
    "from_name",
    "contact",
    "contact_name",
    "contact_email",
    "contact_phone",
    "address",
    "street_address",
    "street",
    "postcode",
    "postal_code",
    "zip_code",
    "phone",
    "phone_number",
    "mobile",
    "mobile_number",
    "telephone",
    "fax",
    "birth_date",
    "date_of_birth",
    "dob",
    "birthday",
    "ssn",
    "tax_id",
    "national_id",
    "passport",
    "passport_number",
    "iban",
    "credit_card",
    "card_number",
    "ip_address",
    "password",
    "secret",
    "api_key",
    "access_token",
    "authorization",
)
#: Deepest nesting of dicts and lists looked into; anything deeper is hidden whole.
MAX_DEPTH = 32
TOO_DEEP = "[redacted: nested too deep]"
#: Longest text parsed as a whole JSON document (a message body is at most 1 MiB).
MAX_JSON_TEXT = 1_048_576
#: How many JSON documents are looked for inside one text (``ValueError: {...}``).
MAX_EMBEDDED = 8

#: E-mail addresses. The lookbehind lets a match start only at the beginning of a run
#: of address characters, and the possessive quantifiers never give back what they
#: read: each character is looked at a bounded number of times (the naive pattern
#: takes quadratic time on ``"a" * n + "@"``).
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++")
_DECODER = json.JSONDecoder()


def normal_key(key: str) -> str:
    """A key as ``PERSONAL_KEYS`` holds it: lower case, without ``_``, ``-``, ``.`` or spaces."""
    return _normal(key) if type(key) is str else _normal(str(key))


@lru_cache(maxsize=4096)
def _normal(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "").replace(".", "").replace(" ", "")


def _key_forms(keys: Iterable[str]) -> list[str]:
    """The spellings of each key that free text may use: ``email_address``, ``email-address``,
    ``email.address``, ``emailaddress`` (``emailAddress`` too: the pattern ignores case)."""
    forms: set[str] = set()
    for key in keys:
        words = [word for word in re.split(r"[_\-. ]+|(?<=[a-z])(?=[A-Z])", key) if word]
        forms.update(re.escape(sep.join(words)) for sep in ("", "_", "-", "."))
    return sorted(forms, key=lambda form: (-len(form), form))


def pair_pattern(keys: Iterable[str]) -> re.Pattern[str]:
    """``key: value`` and ``key=value`` pairs of personal keys in free text.

    The key may be quoted (JSON ``"email": "..."``, a repr's ``'email': '...'``, JSON
    inside a JSON string ``\\"email\\": \\"...\\"``) or bare (``email=...``, a dataclass
    repr). The value is a quoted string (escapes understood) or runs to the next
    delimiter. Every alternative is possessive and the branches of each loop are
    disjoint, so a match never backtracks.
    """
    names = "|".join(_key_forms(keys))
    value = (
        r"\\+\"(?:[^\\]++|\\(?!\"))*+\\+\""  # \"...\" : JSON text inside a JSON string
        r"|\"(?:[^\"\\]++|\\.)*+\""  # "..."
        r"|'(?:[^'\\]++|\\.)*+'"  # '...'
        r"|[^\\\"'\s,;&)}\]][^,;&)}\]\"'\n]*+"  # a bare value, up to a delimiter
    )
    return re.compile(
        rf"(?i)(?<![\w-])(?:{names})(?![\w-])(?:\\*[\"'])?\s*+[:=]\s*+(?P<value>{value})",
        re.DOTALL,
    )


#: Values that say nothing about a person: shown as they are (that a field is empty is
#: worth knowing).
_EMPTY_VALUES = frozenset({"", '""', "''", '\\"\\"', "null", "none", "None"})


class Redactor:
    """Processor: hide personal data, at any depth of dicts, lists and text.

    Values under personal keys become ``[redacted]``; text that is JSON (a message
    body) is redacted inside; JSON documents, ``key: value`` pairs and e-mail
    addresses inside any other text (error messages, reasons, reprs, tracebacks)
    are replaced; objects are redacted as the line will show them. ``extra_keys``
    widens ``PERSONAL_KEYS`` (``CHOREOGRAPHER_REDACT_KEYS``).
    """

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        spellings = [*PERSONAL_KEYS, *(key.strip() for key in extra_keys if key.strip())]
        self.keys = frozenset(normal_key(key) for key in spellings)
        self._pairs = pair_pattern(spellings)

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        keys = self.keys
        for key, value in event_dict.items():
            kind = type(value)
            if key == "exception":
                # A rendered traceback's frames have a ``name`` (the function's): scrub text only.
                event_dict[key] = self.scrub(value)
            elif normal_key(key) in keys:
                if value not in ("", None):
                    event_dict[key] = REDACTED
            elif kind is str:
                event_dict[key] = self.text(value)
            elif not (value is None or kind is int or kind is bool or kind is float):
                event_dict[key] = self.value(key, value)
        return event_dict

    def personal(self, key: Any) -> bool:
        """Whether values under ``key`` are personal data."""
        return normal_key(key) in self.keys

    def value(self, key: Any, value: Any, depth: int = 0) -> Any:
        """``value`` (found under ``key``) with its personal data hidden."""
        kind = type(value)
        if kind is str:
            if value and self.personal(key):
                return REDACTED
            return self.text(value, depth)
        if value is None or kind is bool or kind is int or kind is float:
            return REDACTED if value is not None and self.personal(key) else value
        if self.personal(key) and value not in ("", None):
            return REDACTED
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, Mapping):
            return {k: self.value(k, v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value("", v, depth + 1) for v in value]
        if isinstance(value, int | float):
            return value
        # Any other object is redacted as the line will show it (a dataclass's fields,
        # an ISO date, its ``__structlog__()``, else its repr): its text may hold data.
        return self.value(key, shown(value), depth + 1)

    def text(self, text: str, depth: int = 0) -> str:
        """``text`` with e-mails, personal ``key: value`` pairs and the personal data of
        JSON documents inside it hidden."""
        # Without these a text holds no e-mail, no JSON and no pair: most values are ids.
        if not ("@" in text or "{" in text or "[" in text or ":" in text or "=" in text):
            return text
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and len(stripped) <= MAX_JSON_TEXT:
            try:
                document = orjson.loads(stripped)
            except orjson.JSONDecodeError:
                pass
            else:
                return dumps(self.value("", document, depth + 1))
        if "{" in text or "[" in text:
            text = self._embedded(text, depth)
        if ":" in text or "=" in text:
            text = self._pairs.sub(self._pair, text)
        if "@" in text:
            text = EMAIL.sub(REDACTED, text)
        return text

    def _pair(self, match: re.Match[str]) -> str:
        value = match.group("value")
        if value.strip() in _EMPTY_VALUES:
            return match.group(0)
        start = match.start("value") - match.start()
        return match.group(0)[:start] + _requote(value)

    def _embedded(self, text: str, depth: int) -> str:
        """JSON objects and arrays inside ``text`` redacted in place (at most ``MAX_EMBEDDED``
        tries, each reading forward from where the last one started: linear in all)."""
        parts: list[str] = []
        position = 0
        for _ in range(MAX_EMBEDDED):
            start = _next_bracket(text, position)
            if start < 0:
                break
            try:
                document, end = _DECODER.raw_decode(text, start)
            except (ValueError, RecursionError):
                parts.append(text[position : start + 1])
                position = start + 1
                continue
            parts += [text[position:start], dumps(self.value("", document, depth + 1))]
            position = end
        parts.append(text[position:])
        return "".join(parts)

    def scrub(self, value: Any, depth: int = 0) -> Any:
        """Personal data out of every text in ``value``; keys and structure left alone."""
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, Mapping):
            return {k: self.scrub(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v, depth + 1) for v in value]
        return self.text(value, depth) if isinstance(value, str) else value


def _next_bracket(text: str, position: int) -> int:
    braces, brackets = text.find("{", position), text.find("[", position)
    if braces < 0 or brackets < 0:
        return max(braces, brackets)
    return min(braces, brackets)


def _requote(value: str) -> str:
    """``[redacted]`` in the quotes ``value`` came in."""
    if value.startswith("\\"):
        quote = value[: len(value) - len(value.lstrip("\\")) + 1]
        return f"{quote}{REDACTED}{quote}"
    if value[:1] in ("'", '"'):
        return f"{value[0]}{REDACTED}{value[0]}"
    return REDACTED


def shown(value: Any) -> Any:
    """What the JSON log line shows for an object JSON cannot hold as it is."""
    try:
        return orjson.loads(orjson.dumps(value, default=logged_form))
    except (orjson.JSONEncodeError, TypeError):
        return repr(value)


def logged_form(value: Any) -> Any:
    """structlog's fallback for a value JSON cannot hold: ``__structlog__()``, else the repr."""
    structlog_form = getattr(value, "__structlog__", None)
    return structlog_form() if callable(structlog_form) else repr(value)


def dumps(document: Any) -> str:
    """JSON text of a document, whatever it holds (numbers beyond 64 bits, lone surrogates)."""
    try:
        return orjson.dumps(document, default=logged_form).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(document, default=logged_form)
