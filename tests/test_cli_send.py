"""``choreographer send`` in-process: the event it builds or reads, the check before sending."""

from __future__ import annotations

import hashlib
import io
import json
from argparse import Namespace
from typing import Any

import pytest

from briefy.choreographer.cli import parser
from briefy.choreographer.cli.common import FAILED, USAGE, CommandError
from briefy.choreographer.cli.send import body_of, check, outgoing
from briefy.choreographer.config import Settings
from briefy.choreographer.site import load_site
from tests.support import LEAD_DATA, event


def arguments(*argv: str) -> Namespace:
    """The parsed arguments of ``choreographer send ARGV``."""
    return parser().parse_args(["send", *argv])


def checked(message: Any, force: bool = False) -> str:
    """What the check says on stderr about ``message`` (raises ``CommandError`` if refused)."""
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    err = io.StringIO()
    check(body, load_site(Settings()), force, err)
    return err.getvalue()


def test_an_event_certain_to_be_dead_lettered_is_refused_with_the_reason(registry: Any) -> None:
    """A lead with an empty email is refused (exit 1): the mail queue's schema rejects it."""
    with pytest.raises(CommandError) as refused:
        checked(event("lead.created", {**LEAD_DATA, "email": ""}))
    assert refused.value.code == FAILED
    message = str(refused.value)
    assert message.startswith("not sent: the worker would dead-letter the event: lead.created.mail: ")
    assert "data.email" in message and "--force sends it anyway" in message


def test_bad_input_is_refused_with_its_error_type(registry: Any) -> None:
    """A body that is not JSON is refused, naming its error type."""
    with pytest.raises(CommandError) as refused:
        checked(b"{broken")
    assert "bad input (invalid_json)" in str(refused.value)


def test_force_sends_it_anyway_and_says_so(registry: Any) -> None:
    """With --force the check only says what the worker will do."""
    said = checked(event("lead.created", {**LEAD_DATA, "email": ""}), force=True)
    assert said.startswith("check: the worker would dead-letter the event: ")
    assert said.endswith("(sending it anyway: --force)\n")


def test_the_check_says_what_the_worker_would_do(registry: Any) -> None:
    """An event to choreograph, one only logged, and an unknown name: each is named."""
    assert checked(event("lead.created", LEAD_DATA)) == (
        "check: the worker would send 1 message(s) and delete the event\n"
    )
    internal = checked(event("lead.created", {**LEAD_DATA, "internal": False}))
    assert "nothing to send: the worker would log the event and delete it" in internal
    assert "log the event and delete it" in checked(event("order.shipped", {}))


def test_file_sends_the_whole_message_as_it_is(tmp_path: Any) -> None:
    """--file reads the event message's bytes, untouched."""
    path = tmp_path / "event.json"
    path.write_bytes(b'{"event_name": "lead.created",  "odd spacing": true}')
    assert body_of(arguments("--file", str(path))) == path.read_bytes()


def test_file_and_the_building_options_exclude_each_other() -> None:
    """--file with EVENT_NAME, --data or --guid is bad usage (exit 2); so is neither."""
    for argv in (["lead.created", "--file", "x.json"], ["--file", "x.json", "--guid", "g"], []):
        with pytest.raises(CommandError) as refused:
            body_of(arguments(*argv))
        assert refused.value.code == USAGE


def test_built_events_have_every_field() -> None:
    """EVENT_NAME and --data give a whole event message: new id and request id, created_at now."""
    built = json.loads(body_of(arguments("lead.created", "--data", json.dumps(LEAD_DATA), "--guid", "g-1")))
    assert (built["event_name"], built["guid"], built["data"]) == ("lead.created", "g-1", LEAD_DATA)
    assert built["id"] and built["request_id"] and built["created_at"]


def test_fifo_ids_come_from_the_event_or_its_bytes() -> None:
    """Grouped by guid, deduplicated by id; a body without them: no group, its hash as dedup id."""
    message = event("lead.created", LEAD_DATA)
    sent = outgoing(json.dumps(message).encode())
    assert (sent.group_id, sent.dedup_id) == (message["guid"], message["id"])
    bare = outgoing(b"[1, 2]")
    assert (bare.group_id, bare.dedup_id, bare.body) == (
        None,
        hashlib.sha256(b"[1, 2]").hexdigest(),
        "[1, 2]",
    )
