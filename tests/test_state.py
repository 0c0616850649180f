"""Retry state: sealed by the worker, trusted only when the seal opens."""

from __future__ import annotations

import pytest

from briefy.choreographer.config import MIN_KEY_LENGTH, Settings, SettingsError
from briefy.choreographer.pipeline import state as state_module
from briefy.choreographer.pipeline.state import SEAL, STATE, RetryState, Seal

OLD, NEW = b"o" * 32, b"n" * 32
BODY = '{"event_name": "lead.created"}'
STATE_DONE = RetryState(("lead.created.mail",), 2, "e-1")


def test_state_sealed_for_a_body_opens_as_written() -> None:
    """The worker's own state comes back exactly, and nothing is reported as ignored."""
    seal = Seal((NEW,))
    reading = seal.read(seal.attributes(STATE_DONE, BODY), BODY)
    assert (reading.state, reading.ignored) == (STATE_DONE, "")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda a: {**a, STATE: a[STATE].replace('"attempts":2', '"attempts":0')}, "bad_seal"),
        (lambda a: {**a, SEAL: a[SEAL][:-2] + "AA"}, "bad_seal"),
        (lambda a: {**a, SEAL: "not base64 \u00e9"}, "bad_seal"),
        (lambda a: {STATE: a[STATE]}, "unsealed"),
        (lambda a: {"choreographer.done": '["lead.created.mail"]'}, "unsealed"),
        (lambda a: {"choreographer.attempt": "99"}, "unsealed"),
        (lambda a: {"choreographer.event_id": "chosen"}, "unsealed"),
    ],
)
def test_forged_or_changed_state_is_ignored(change: object, reason: str) -> None:
    """Changed state, a broken seal, no seal, or the attributes of old versions: no state, a reason."""
    seal = Seal((NEW,))
    attributes = change(seal.attributes(STATE_DONE, BODY))  # type: ignore[operator]
    reading = seal.read(attributes, BODY)
    assert (reading.state, reading.ignored) == (RetryState(), reason)
    assert reading.attributes == tuple(sorted(attributes))


def test_state_sealed_for_another_body_is_ignored() -> None:
    """A seal copied onto another body does not open: state cannot be moved between events."""
    seal = Seal((NEW,))
    assert seal.read(seal.attributes(STATE_DONE, BODY), BODY + " ").ignored == "bad_seal"


def test_a_rotated_key_still_opens_what_the_old_one_sealed() -> None:
    """With the new key first and the old one after it, both seals open; only the new one seals."""
    old_attributes = Seal((OLD,)).attributes(STATE_DONE, BODY)
    rotated = Seal((NEW, OLD))
    assert rotated.read(old_attributes, BODY).state == STATE_DONE
    assert rotated.attributes(STATE_DONE, BODY) == Seal((NEW,)).attributes(STATE_DONE, BODY)
    assert Seal((NEW,)).read(old_attributes, BODY).ignored == "bad_seal"


def test_without_a_key_no_state_is_written_or_trusted() -> None:
    """No key: no attributes are written, and sealed ones from elsewhere are ignored."""
    assert Seal(()).attributes(STATE_DONE, BODY) == {}
    sealed = Seal((NEW,)).attributes(STATE_DONE, BODY)
    assert Seal(()).read(sealed, BODY).ignored == "no_state_key"


@pytest.mark.parametrize(
    "text",
    ['{"done": "x"}', '{"done": [""]}', '{"attempts": -1}', '{"attempts": true}', "[]", '{"x": 1}', "{"],
)
def test_sealed_but_malformed_state_is_ignored(text: str) -> None:
    """State the worker could not have written is ignored even under a seal that opens."""
    sealed = {STATE: text, SEAL: state_module._encode(state_module._digest(NEW, text, BODY))}
    reading = Seal((NEW,)).read(sealed, BODY)
    assert (reading.state, reading.ignored) == (RetryState(), "malformed")


def test_foreign_attributes_beside_sealed_state_are_reported() -> None:
    """Sealed state is used; other choreographer.* attributes beside it are named as ignored."""
    seal = Seal((NEW,))
    attributes = {**seal.attributes(STATE_DONE, BODY), "choreographer.done": "[]"}
    reading = seal.read(attributes, BODY)
    assert (reading.state, reading.ignored, reading.attributes) == (
        STATE_DONE,
        "foreign",
        ("choreographer.done",),
    )


def test_state_keys_come_from_the_setting_first_one_sealing() -> None:
    """CHOREOGRAPHER_STATE_KEY is a comma-separated list of secrets; too short a key is refused."""
    settings = Settings.from_env({"CHOREOGRAPHER_STATE_KEY": f"{'a' * 40}, {'b' * 40}"})
    assert settings.state_keys == (b"a" * 40, b"b" * 40)
    assert "a" * 40 not in repr(settings)
    with pytest.raises(SettingsError, match=f"fewer than {MIN_KEY_LENGTH}"):
        Settings.from_env({"CHOREOGRAPHER_STATE_KEY": "short"})
