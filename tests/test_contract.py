"""The contract check: each change to a choreography, breaking or compatible, named; the exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zope.component import adapter
from zope.interface import implementer

from briefy.choreographer.actions import IAction
from briefy.choreographer.actions.lead import NewLeadMail
from briefy.choreographer.admin.asyncapi import document
from briefy.choreographer.admin.contract import Contract, NotAContract, compare
from briefy.choreographer.cli import main
from briefy.choreographer.cli.asyncapi import render
from briefy.choreographer.config import Settings
from briefy.choreographer.data.lead import LeadDTO
from briefy.choreographer.events import IInternalEvent, InternalEvent
from briefy.choreographer.events.lead import ILeadCreated, LeadCreated
from briefy.choreographer.queues.mail import MailQueue
from briefy.choreographer.site import load_site
from briefy.common.interfaces import IQueue

PRICE = {"type": "object", "required": ["price"], "properties": {"price": {"type": "number"}}}


def live(settings: Settings | None = None) -> dict[str, Any]:
    """The document of the registry as it is now."""
    return document(load_site(settings or Settings()))


def changes(old: dict[str, Any], new: dict[str, Any] | None = None) -> list[tuple[str, bool]]:
    """(text, breaking) of each change from ``old`` to ``new`` (the live document by default)."""
    found = compare(Contract.of(old), Contract.of(new if new is not None else live()))
    return [(str(change), change.breaking) for change in found]


def priced(schema: dict[str, Any]) -> type:
    """An event class whose data schema is ``schema``."""

    @implementer(IInternalEvent)
    class Priced(InternalEvent):
        data_schema = schema

    return Priced


def test_an_unchanged_choreography_matches(registry: Any) -> None:
    """The live document compared with itself: no change."""
    assert changes(live()) == []


def test_describing_the_pointer_headers_changed_nothing_for_producers(registry: Any) -> None:
    """A document written before the events' S3 pointer headers were described matches the live
    one: the headers allowed any value under those names, and still do."""
    before = live()
    for message in before["channels"]["events.queue"]["messages"].values():
        for name in ("ExtendedPayloadSize", "SQSLargePayloadSize"):
            del message["headers"]["properties"][name]
    assert changes(before) == []


def test_a_removed_event_breaks_its_producers(registry: Any) -> None:
    """An event name no longer registered, and the action it ran, are breaking changes."""
    before = live()
    registry.unregisterUtility(provided=IInternalEvent, name="mail.sent")
    assert changes(before) == [
        ("event mail.sent: removed (its events would only be logged and deleted)", True),
        ("action mail.sent.notification: removed (nothing is sent to 'notification' for it any more)", True),
    ]


def test_an_added_event_is_compatible(registry: Any) -> None:
    """A new event name breaks nobody."""
    before = live()
    registry.registerUtility(priced(PRICE), IInternalEvent, "order.priced")
    assert changes(before) == [("event order.priced: added", False)]


@adapter(LeadDTO, ILeadCreated)
class RoutedElsewhere(NewLeadMail):
    """The reference mail, sent to the notification queue instead."""

    _queue_name = "notification.queue"


def test_an_action_sending_to_another_queue_breaks_its_consumers(registry: Any) -> None:
    """An action whose queue changed is named, with both queues."""
    before = live()
    registry.registerAdapter(RoutedElsewhere, provided=IAction, name="lead.created.mail")
    found = changes(before)
    assert ("action lead.created.mail: sends to 'notification' instead of 'mail'", True) in found
    assert [breaking for _, breaking in found] == [True]


def test_a_removed_action_breaks_its_consumers(registry: Any) -> None:
    """An action no longer registered is a breaking change."""
    before = live()
    registry.unregisterAdapter(
        NewLeadMail, required=(LeadDTO, ILeadCreated), provided=IAction, name="lead.created.mail"
    )
    assert changes(before) == [
        ("action lead.created.mail: removed (nothing is sent to 'mail' for it any more)", True)
    ]


def test_a_narrowed_data_schema_breaks_its_producers(registry: Any) -> None:
    """A data schema that accepts less (a new required field, a new bound) names each narrowing."""
    registry.registerUtility(priced(PRICE), IInternalEvent, "order.priced")
    before = live()
    narrower = {
        **PRICE,
        "required": ["price", "currency"],
        "properties": {"price": {"type": "number", "minimum": 0}},
    }
    registry.registerUtility(priced(narrower), IInternalEvent, "order.priced")
    assert changes(before) == [
        ("event order.priced: data: narrowed: now requires 'currency'", True),
        ("event order.priced: data.price: narrowed: minimum 0 added", True),
    ]


def test_a_widened_data_schema_is_compatible(registry: Any) -> None:
    """A data schema that accepts more breaks no producer."""
    registry.registerUtility(priced(PRICE), IInternalEvent, "order.priced")
    before = live()
    registry.registerUtility(priced({**PRICE, "required": []}), IInternalEvent, "order.priced")
    assert changes(before) == [("event order.priced: data: widened: no longer requires 'price'", False)]


@implementer(ILeadCreated)
class CheckedLead(LeadCreated):
    """lead.created with a data schema."""

    data_schema = {"type": "object", "required": ["email"]}


def test_a_data_schema_where_there_was_none_breaks_its_producers(registry: Any) -> None:
    """Declaring a schema for an event that had none accepts less."""
    before = live()
    registry.registerUtility(CheckedLead, IInternalEvent, "lead.created")
    assert changes(before) == [("event lead.created: data: narrowed: now requires 'email'", True)]


class LooseMail(MailQueue):
    """The mail queue, taking an empty e-mail address."""

    schema = {
        **MailQueue.schema,
        "properties": {**MailQueue.schema["properties"], "email": {"type": "string"}},
    }


class StrictMail(MailQueue):
    """The mail queue, requiring a subject."""

    schema = {
        **MailQueue.schema,
        "properties": {**MailQueue.schema["properties"], "subject": {"type": "string", "minLength": 1}},
    }


def test_a_widened_output_schema_breaks_its_consumers(registry: Any) -> None:
    """An output queue schema that allows more than before is breaking."""
    before = live()
    registry.registerUtility(LooseMail(), IQueue, "mail.queue")
    assert changes(before) == [
        ("action lead.created.mail: payload.email: widened: minLength 1 dropped", True)
    ]


def test_a_narrowed_output_schema_is_compatible(registry: Any) -> None:
    """An output queue schema that allows less breaks no consumer."""
    before = live()
    registry.registerUtility(StrictMail(), IQueue, "mail.queue")
    assert changes(before) == [
        ("action lead.created.mail: payload.subject: narrowed: minLength 1 added", False)
    ]


@implementer(ILeadCreated)
class LeadImported(LeadCreated):
    """``lead.imported``: a lead created by an import, choreographed like lead.created."""


def test_an_action_reached_by_another_event_breaks_its_consumers(registry: Any) -> None:
    """Outputs whose event_name header may now name another event allow more: breaking (listed first)."""
    before = live()
    registry.registerUtility(LeadImported, IInternalEvent, "lead.imported")
    assert changes(before) == [
        ('action lead.created.mail: headers.event_name: widened: also takes "lead.imported"', True),
        ("event lead.imported: added", False),
    ]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            Settings(queue_names={"CHOREOGRAPHER_MAIL_QUEUE": "acme-mail"}),
            "action lead.created.mail: sends to 'acme-mail' instead of 'mail'",
        ),
        (
            Settings(queue_names={"CHOREOGRAPHER_EVENTS_QUEUE": "events.fifo"}),
            "events queue: moved from 'events' to 'events.fifo'",
        ),
        (
            Settings(queue_names={"CHOREOGRAPHER_EVENTS_QUEUE": "events.fifo"}),
            "events queue: is a FIFO queue now",
        ),
        (Settings(dead_letter_queue="acme-dlq"), "dead-letter queue: moved from 'events-dlq' to 'acme-dlq'"),
    ],
)
def test_a_moved_queue_breaks(registry: Any, settings: Settings, expected: str) -> None:
    """A queue named otherwise, or turned FIFO, is a breaking change."""
    assert (expected, True) in changes(live(), live(settings))


def test_a_document_of_something_else_is_refused() -> None:
    """A file that is no document of choreographer asyncapi is said to be none."""
    with pytest.raises(NotAContract, match="not an AsyncAPI 3 document"):
        Contract.of({"openapi": "3.1.0"})
    with pytest.raises(NotAContract, match="no operation 'receiveEvents'"):
        Contract.of({"asyncapi": "3.0.0", "operations": {}})


# -- the command ----------------------------------------------------------------
@pytest.fixture
def committed(registry: Any, tmp_path: Path) -> Path:
    """The document of the reference choreography, committed to a file."""
    path = tmp_path / "asyncapi.yaml"
    path.write_text(render(live()))
    return path


def test_check_exits_0_when_the_document_matches(committed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The committed document of the live choreography: exit 0, saying so."""
    assert main(["asyncapi", "--check", str(committed)]) == 0
    assert capsys.readouterr().out.strip() == f"{committed} matches the live choreography."


def test_check_exits_1_naming_a_breaking_change(
    committed: Path, registry: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A removed event: exit 1, the change named under "breaking"."""
    registry.unregisterUtility(provided=IInternalEvent, name="mail.sent")
    assert main(["asyncapi", "--check", str(committed)]) == 1
    out = capsys.readouterr().out
    assert "2 breaking change(s), 0 compatible" in out
    assert "breaking:\n  event mail.sent: removed" in out
    assert "tell the producers and consumers" in out


def test_check_exits_0_on_compatible_changes_unless_strict(
    committed: Path, registry: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """An added event: exit 0 with the change listed and the document called out of date; 1 with --strict."""
    registry.registerUtility(priced(PRICE), IInternalEvent, "order.priced")
    assert main(["asyncapi", "--check", str(committed)]) == 0
    out = capsys.readouterr().out
    assert "compatible:\n  event order.priced: added" in out and "is out of date" in out
    assert main(["asyncapi", "--check", str(committed), "--strict"]) == 1


def test_check_reads_json_too(registry: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A document committed as JSON is checked the same way."""
    path = tmp_path / "asyncapi.json"
    path.write_text(render(live(), "json"))
    assert main(["asyncapi", "--check", str(path)]) == 0


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (["--check", "{missing}"], None, "cannot read"),
        (["--check", "{file}"], "asyncapi: [unclosed", "is neither YAML nor JSON"),
        (["--check", "{file}"], "openapi: 3.1.0\n", "is not a document written by choreographer asyncapi"),
        (["--strict"], None, "--strict goes with --check FILE"),
        (["--check", "{file}", "--output", "x.yaml"], "asyncapi: 3.0.0\n", "leave out --output"),
    ],
)
def test_check_usage_errors_exit_2(
    registry: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    content: str | None,
    message: str,
) -> None:
    """A file that cannot be read, is not YAML, or is no such document, and wrong options: exit 2."""
    path = tmp_path / "doc.yaml"
    if content is not None:
        path.write_text(content)
    argv = [arg.format(file=path, missing=tmp_path / "missing.yaml") for arg in args]
    assert main(["asyncapi", *argv]) == 2
    assert message in capsys.readouterr().err
