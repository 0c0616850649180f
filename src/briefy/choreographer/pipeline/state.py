"""Retry state: what the worker writes on a message for a later attempt, and whom it trusts.

Retry envelopes and dead letters carry what earlier attempts did (the actions
done, the attempts made, the event id) so that a retry or a redrive runs only
what is left. Any producer can set message attributes, so that state counts only
when it is sealed with ``CHOREOGRAPHER_STATE_KEY``: an HMAC-SHA256 over the state
and a digest of the body, so a seal proves the worker wrote this state for this
very body. State that is unsealed, wrongly sealed or malformed is treated as
absent (the caller logs a warning) and the message runs as a fresh one. With no
key the worker writes no state and trusts none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

#: Message attributes of the retry state and its seal.
STATE = "choreographer.state"
SEAL = "choreographer.seal"
#: The prefix of the worker's own attributes: none other than the two above is read.
PREFIX = "choreographer."
#: What the seal covers first, so a seal of this scheme can never pass for another's.
_DOMAIN = b"briefy.choreographer retry state v1\n"
#: Bounds of a state the worker wrote (anything beyond is not the worker's).
MAX_ACTIONS = 256
MAX_NAME = 512
MAX_ATTEMPTS = 100_000


@dataclass(frozen=True, slots=True)
class RetryState:
    """What earlier attempts of an event left for this one."""

    #: The actions that already wrote their payloads.
    done: tuple[str, ...] = ()
    #: Attempts made on earlier messages of the event (retry envelopes).
    attempts: int = 0
    #: The event id, when the body has none (derived from the first message's id).
    event_id: str = ""

    def __bool__(self) -> bool:
        return bool(self.done or self.attempts or self.event_id)

    def text(self) -> str:
        """The state as compact JSON (empty fields left out)."""
        document: dict[str, object] = {}
        if self.done:
            document["done"] = list(self.done)
        if self.attempts:
            document["attempts"] = self.attempts
        if self.event_id:
            document["event_id"] = self.event_id
        return orjson.dumps(document).decode()

    @classmethod
    def parse(cls, text: str) -> RetryState:
        """The state in ``text``; ``ValueError`` unless it is one the worker could have written."""
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"not JSON: {error}") from None
        if not isinstance(document, dict) or set(document) - {"done", "attempts", "event_id"}:
            raise ValueError("not a state object")
        done = document.get("done", [])
        attempts = document.get("attempts", 0)
        event_id = document.get("event_id", "")
        if not isinstance(done, list) or len(done) > MAX_ACTIONS:
            raise ValueError("'done' is not a list of actions")
        if not all(isinstance(name, str) and 0 < len(name) <= MAX_NAME for name in done):
            raise ValueError("'done' holds something other than action names")
        if type(attempts) is not int or not 0 <= attempts <= MAX_ATTEMPTS:
            raise ValueError("'attempts' is not a count")
        if not isinstance(event_id, str) or len(event_id) > MAX_NAME:
            raise ValueError("'event_id' is not an id")
        return cls(tuple(done), attempts, event_id)


NO_STATE = RetryState()


@dataclass(frozen=True, slots=True)
class Reading:
    """The state a message carries, and why any it carried was not trusted."""

    state: RetryState = NO_STATE
    #: ``""`` (trusted, or nothing carried), else why it was ignored.
    ignored: str = ""
    #: The names of the ignored attributes.
    attributes: tuple[str, ...] = ()


class Seal:
    """Seals retry state for a body with the first key; opens it with any key.

    ``keys`` come from ``CHOREOGRAPHER_STATE_KEY`` (a comma-separated list, so a
    key can be rotated: put the new one first, keep the old one after it until no
    message sealed with it is left, then drop it).
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        self.keys = tuple(keys)

    @property
    def enabled(self) -> bool:
        """Whether state is written and trusted at all."""
        return bool(self.keys)

    def attributes(self, state: RetryState, body: str) -> dict[str, str]:
        """The attributes carrying ``state`` for ``body`` (none without a key or a state)."""
        if not self.keys or not state:
            return {}
        text = state.text()
        return {STATE: text, SEAL: _encode(_digest(self.keys[0], text, body))}

    def read(self, attributes: Mapping[str, str], body: str) -> Reading:
        """The trusted state of a message with ``attributes`` and ``body``."""
        ours = tuple(sorted(name for name in attributes if name.startswith(PREFIX)))
        if not ours:
            return Reading()
        text, seal = attributes.get(STATE), attributes.get(SEAL)
        foreign = tuple(name for name in ours if name not in (STATE, SEAL))
        if text is None or seal is None:
            return Reading(ignored="unsealed", attributes=ours)
        if not self.keys:
            return Reading(ignored="no_state_key", attributes=ours)
        if not self._opens(seal, text, body):
            return Reading(ignored="bad_seal", attributes=ours)
        try:
            state = RetryState.parse(text)
        except ValueError:
            return Reading(ignored="malformed", attributes=ours)
        return Reading(state, "foreign" if foreign else "", foreign)

    def _opens(self, seal: str, text: str, body: str) -> bool:
        try:
            given = base64.urlsafe_b64decode(seal + "=" * (-len(seal) % 4))
        except (binascii.Error, ValueError):
            return False
        return any(hmac.compare_digest(_digest(key, text, body), given) for key in self.keys)


def _digest(key: bytes, text: str, body: str) -> bytes:
    body_digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).digest()
    message = _DOMAIN + text.encode("utf-8", "surrogatepass") + b"\n" + body_digest
    return hmac.new(key, message, hashlib.sha256).digest()


def _encode(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
