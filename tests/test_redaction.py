"""Redaction: what it hides, in every shape personal data reaches a log line."""

from __future__ import annotations

import io
import json
from collections import OrderedDict
from typing import Any

import orjson
import pytest
import structlog

from briefy.choreographer.config import Settings
from briefy.choreographer.logging import MAX_TEXT, configure_logging, serialize
from briefy.choreographer.redaction import MAX_DEPTH, REDACTED, TOO_DEEP, Redactor, normal_key


def redacted(redactor: Redactor | None = None, **fields: Any) -> dict[str, Any]:
    return dict((redactor or Redactor())(None, "info", dict(fields)))


def test_personal_keys_match_in_any_spelling() -> None:
    """E-Mail, email_address, emailAddress and EMAIL are one key; so are the common personal keys."""
    spellings = ["E-Mail", "email_address", "emailAddress", "EMAIL", "Surname", "phone_number", "contact"]
    out = redacted(**dict.fromkeys(spellings, "x"), category="other")
    assert out == {**dict.fromkeys(spellings, REDACTED), "category": "other"}
    assert normal_key("Phone-Number") == normal_key("phoneNumber") == "phonenumber"


def test_a_site_adds_keys_by_setting() -> None:
    """CHOREOGRAPHER_REDACT_KEYS widens the list, in any spelling, in fields and in text."""
    settings = Settings.from_env({"CHOREOGRAPHER_REDACT_KEYS": "customer_ref, Loyalty-Card"})
    redactor = Redactor(settings.redact_keys)
    out = redacted(redactor, customerRef="C-1", loyalty_card="L-2", note="customer_ref=C-1, ok")
    assert out == {"customerRef": REDACTED, "loyalty_card": REDACTED, "note": f"customer_ref={REDACTED}, ok"}
    assert redacted(customerRef="C-1") == {"customerRef": "C-1"}


def test_personal_data_is_hidden_at_any_depth() -> None:
    """Inside dicts, lists and dict subclasses; numbers under personal keys too."""
    out = redacted(
        payload={"FULLNAME": "Ada", "data": [{"Email": "ada@example.org", "category": "other"}]},
        ordered=OrderedDict(phone=4915112345678),
    )
    assert out["payload"] == {"FULLNAME": REDACTED, "data": [{"Email": REDACTED, "category": "other"}]}
    assert out["ordered"] == {"phone": REDACTED}


def test_nesting_beyond_the_limit_is_hidden_whole() -> None:
    """A structure deeper than MAX_DEPTH is cut off there, hidden, instead of recursing on."""
    tree: Any = "ada@example.org"
    for _ in range(MAX_DEPTH + 10):
        tree = {"down": tree}
    out = redacted(tree=tree)["tree"]
    for _ in range(MAX_DEPTH - 1):
        out = out["down"]
    assert out == {"down": TOO_DEEP}


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ('ValueError: {"fullname": "Ada Lovelace", "n": 1} in transform', "Ada Lovelace"),
        ("KeyError: {'fullname': 'Ada Lovelace'}", "Ada Lovelace"),
        ("LeadDTO(fullname='Ada Lovelace', category='other')", "Ada Lovelace"),
        ('body={\\"fullname\\": \\"Ada Lovelace\\", \\"n\\": 1}', "Ada Lovelace"),
        ('{"data": {"first_name": "Ada", "last_name": "Lovelace"}}', "Lovelace"),
        ("lead surname=Lovelace, category=other", "Lovelace"),
        ('failed: [{"to_name": "Ada"}] and [1, 2]', "Ada"),
        ("mail 'ada.lovelace+x@example.co.uk' bounced", "ada.lovelace"),
        ('contact: "Ada \\"The Countess\\" Lovelace"', "Countess"),
    ],
)
def test_personal_data_in_free_text_is_hidden(text: str, hidden: str) -> None:
    """JSON after a prefix, reprs, escaped JSON, key=value pairs and e-mails: each is hidden."""
    out = redacted(reason=text)["reason"]
    assert hidden not in out and REDACTED in out


def test_what_is_not_personal_stays_as_it_is() -> None:
    """Ids, queue names, counts, broken JSON and empty personal values pass unchanged."""
    fields = {
        "event_id": "e1",
        "queue": "mail.queue",
        "count": 3,
        "broken": "{not json",
        "reason": "field 'created_at' is not an ISO 8601 date-time",
        "fullname": "",
        "email": None,
        "detail": 'said "email": "" and name=None',
    }
    assert redacted(**fields) == fields


class Opaque:
    """A value JSON cannot hold: logged by its repr."""

    def __repr__(self) -> str:
        return "Opaque(email='ada@example.org', fullname='Ada Lovelace')"


def test_objects_are_redacted_as_they_are_shown() -> None:
    """An object is hidden in the text the line would show for it (its repr)."""
    out = redacted(value=Opaque())["value"]
    assert "ada@example.org" not in out and "Ada Lovelace" not in out


#: Lines of every shape: after the production chain none shows a name or an e-mail.
LINES: list[dict[str, Any]] = [
    {"email": "ada@example.org", "fullname": "Ada Lovelace", "phone": None},
    {"FullName": "Ada Lovelace", "Event_ID": "e1"},
    {"reason": "cannot mail 'ada@example.org' for to_name='Ada Lovelace'"},
    {"body": orjson.dumps({"data": {"fullname": "Ada Lovelace", "n": 1}}).decode()},
    {"body": '  [{"name": "Ada Lovelace"}]', "other": "{not json"},
    {"payload": {"to_name": "Ada Lovelace", "items": [{"address": "a@b.c"}, 3]}},
    {"payload": OrderedDict(email="ada@example.org"), "tags": ["a", "b"]},
    {"detail": 'said "hello"', "value": Opaque()},
    {"text": "ValueError: {'fullname': 'Ada Lovelace', 'to_email': 'ada@example.org'}"},
]


@pytest.mark.parametrize("line", LINES)
def test_production_lines_hold_no_personal_data(line: dict[str, Any]) -> None:
    """Each line, logged in production mode, reaches the output without the name or the address."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    configure_logging(Settings(mode="production"), stream)
    structlog.get_logger("test").info("seen", **line)
    text = stream.buffer.getvalue().decode()  # type: ignore[attr-defined]
    assert "Ada Lovelace" not in text and "@" not in text
    assert json.loads(text)["event"] == "seen"


def test_long_texts_are_cut_on_every_line() -> None:
    """A text field longer than MAX_TEXT is cut, saying how much was left out (redaction on or off)."""
    for settings in (Settings(mode="production"), Settings(mode="development", log_format="json")):
        stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        configure_logging(settings, stream)
        structlog.get_logger("test").info("seen", reason="r" * (MAX_TEXT + 500))
        line = json.loads(stream.buffer.getvalue())  # type: ignore[attr-defined]
        assert line["reason"].startswith("r" * MAX_TEXT)
        assert line["reason"].endswith("...[500 more characters]")


def test_serialising_a_line_never_raises() -> None:
    """Integers beyond 64 bits and lone surrogates, which orjson refuses, still make a JSON line."""
    line = serialize({"event": "x", "big": 2**70, "text": "\ud800"})
    assert json.loads(line) == {"event": "x", "big": 2**70, "text": "\ud800"}
