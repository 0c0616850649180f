"""Property-based tests of the paths a hostile producer reaches: parsing, attributes, redaction, state.

hypothesis generates the inputs; each test's budget is bounded (``max_examples``), so
the suite's time stays fixed. The corpus of known cases is in
``tests/e2e/test_delivery_badinput.py``; these look for the ones nobody thought of.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import parse_event
from briefy.choreographer.logging import serialize
from briefy.choreographer.pipeline.state import SEAL, STATE, RetryState, Seal
from briefy.choreographer.redaction import EMAIL, REDACTED, Redactor
from briefy.common.queue.message import OutgoingMessage

BUDGET = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: The e-mail pattern without the guards that keep it linear: right, but quadratic on long runs.
NAIVE_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: Characters SQS accepts in attribute values (XML 1.0).
SQS_TEXT = re.compile("^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
emails = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z0-9][a-z0-9.+-]{0,10}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,10}", fullmatch=True),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
separators = st.sampled_from([" ", ", ", "\n", ": ", "(", ")", "'", '"', "<", ">", "=", " at "])


@BUDGET
@given(st.text(max_size=200))
def test_the_linear_email_pattern_finds_what_the_naive_one_finds(text: str) -> None:
    """On any short text both patterns replace exactly the same addresses."""
    assert EMAIL.sub(REDACTED, text) == NAIVE_EMAIL.sub(REDACTED, text)


@BUDGET
@given(st.text(max_size=60), emails, separators, separators, st.text(max_size=60))
def test_an_address_anywhere_in_text_is_hidden(
    before: str, email: str, left: str, right: str, after: str
) -> None:
    """However an e-mail is surrounded, the redacted text does not contain it."""
    text = f"{before}{left}{email}{right}{after}"
    assert email not in Redactor().text(text)


@BUDGET
@given(st.dictionaries(st.text(max_size=20), json_values, max_size=8))
def test_redaction_never_fails_and_is_stable(line: dict[str, Any]) -> None:
    """Any line redacts without an error to something JSON can hold, and redacting again changes nothing."""
    redactor = Redactor()
    once = redactor(None, "info", dict(line))
    json.loads(serialize(once))
    assert redactor(None, "info", dict(once)) == once


@BUDGET
@given(json_values, st.sampled_from(["fullname", "email", "phone_number", "Surname"]), st.text(min_size=1))
def test_a_personal_value_inside_json_text_is_hidden(document: Any, key: str, secret: str) -> None:
    """A personal key's value, inside a JSON document logged as text, never survives."""
    secret = f"Q{secret}Z"  # never empty, never a substring of the markers around it
    body = json.dumps({"data": document, key: secret})
    assert json.dumps(secret)[1:-1] not in Redactor().text(body)


@BUDGET
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_parsing_any_body_gives_an_event_or_bad_input(body: bytes) -> None:
    """Whatever the bytes, parse_event returns an event or raises BadInput, nothing else."""
    try:
        parse_event(body, "m-1")
    except BadInput as error:
        kind = error.error_type
    else:
        kind = "event"
    assert kind in {
        "event",
        "invalid_json",
        "not_an_object",
        "missing_field",
        "wrong_type",
        "invalid_datetime",
    }


@BUDGET
@given(st.dictionaries(st.sampled_from(["event_name", "guid", "created_at", "data", "id", "x"]), json_values))
def test_parsing_any_object_gives_an_event_or_bad_input(document: dict[str, Any]) -> None:
    """Any JSON object: an event with exact data (big integers included) or BadInput."""
    body = json.dumps(document)
    try:
        event = parse_event(body, "m-1")
    except BadInput:
        return
    assert event.data == document["data"]
    assert event.created_at.tzinfo is not None


@BUDGET
@given(st.dictionaries(st.text(max_size=30), st.text(max_size=300), max_size=12))
def test_attribute_values_written_are_always_ones_sqs_takes(attributes: dict[str, str]) -> None:
    """Whatever text an attribute is given, the message carries only characters SQS accepts."""
    message = OutgoingMessage("{}", attributes)
    assert all(SQS_TEXT.match(value) for value in message.attributes.values())


KEY = b"k" * 32
seal = Seal((KEY,))
state_attributes = st.dictionaries(
    st.sampled_from(
        [STATE, SEAL, "choreographer.done", "choreographer.attempt", "choreographer.event_id", "x"]
    ),
    st.text(max_size=80),
    max_size=6,
)


@BUDGET
@given(state_attributes, st.text(max_size=80))
def test_unsealed_state_is_never_trusted(attributes: dict[str, str], body: str) -> None:
    """No set of attributes a producer makes up, without the key, yields any state."""
    reading = seal.read(attributes, body)
    assert reading.state == RetryState()
    assert bool(reading.ignored) == any(name.startswith("choreographer.") for name in attributes)


@BUDGET
@given(
    st.lists(st.text(min_size=1, max_size=20), max_size=5),
    st.integers(0, 1000),
    st.text(max_size=40),
    st.text(max_size=80),
    st.text(max_size=80),
)
def test_sealed_state_opens_for_its_body_only(
    done: list[str], attempts: int, event_id: str, body: str, other: str
) -> None:
    """State sealed for a body opens for it, as written; for any other body it is ignored."""
    state = RetryState(tuple(done), attempts, event_id)
    attributes = seal.attributes(state, body)
    if not state:
        assert attributes == {}
        return
    assert seal.read(attributes, body).state == state
    if other != body:
        assert seal.read(attributes, other).ignored == "bad_seal"
