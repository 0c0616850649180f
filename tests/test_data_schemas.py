"""Event data schemas: compiled once at start-up, checked before handlers run, invalid data dead-lettered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import zope.component.testing
from zope.component import getGlobalSiteManager
from zope.interface import implementer

from briefy.choreographer.cli import main
from briefy.choreographer.cli.dryrun import render, report
from briefy.choreographer.cli.graph import build, dot, mermaid
from briefy.choreographer.config import Settings
from briefy.choreographer.errors import ERROR_TYPES, BadInput, StartupError
from briefy.choreographer.events import IInternalEvent, InternalEvent, parse_event
from briefy.choreographer.events.schema import DataSchemaError, DataSchemas
from briefy.choreographer.site import load_site, reset_site
from briefy.common.schema import InvalidSchema, compile_schema
from tests.fixtures.twoactions import SITE_ZCML
from tests.packages import SLACK, install_extension, install_project
from tests.pairs import Pairs
from tests.support import event

DEAL = {"title": "Acme", "amount": 1200, "currency": "EUR", "owner": "Grace"}


def message(name: str, data: dict[str, Any]) -> Any:
    return parse_event(orjson.dumps(event(name, data)))


@implementer(IInternalEvent)
class Sized(InternalEvent):
    """An event whose data needs a ``size`` from 0."""

    data_schema = {
        "type": "object",
        "required": ["size"],
        "properties": {
            "size": {"type": "integer", "minimum": 0},
            "unit": {"type": "string", "default": "cm"},
        },
        "additionalProperties": False,
    }


def schemas_of(*events: tuple[str, Any]) -> DataSchemas:
    """The data schemas of a registry holding only ``events``."""
    zope.component.testing.setUp()
    try:
        registry = getGlobalSiteManager()
        for name, factory in events:
            registry.registerUtility(factory, IInternalEvent, name)
        return DataSchemas.of(registry)
    finally:
        zope.component.testing.tearDown()


@pytest.fixture
def clean() -> Iterator[None]:
    """A clean registry, and no site remembered."""
    zope.component.testing.setUp()
    reset_site()
    yield
    zope.component.testing.tearDown()
    reset_site()


@pytest.fixture
def site_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: None) -> Path:
    """A site-packages stand-in on sys.path."""
    target = tmp_path / "site-packages"
    target.mkdir()
    monkeypatch.syspath_prepend(str(target))
    return target


def test_data_that_meets_its_schema_passes_unchanged() -> None:
    """Valid data passes, and validating fills in no default (``unit`` has one)."""
    event_message = message("sized", {"size": 0})
    schemas_of(("sized", Sized)).check(event_message)
    assert dict(event_message.data) == {"size": 0}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({}, "data_schema of sized: data must contain ['size'] properties"),
        ({"size": -1}, "data_schema of sized: data.size must be bigger than or equal to 0"),
        ({"size": "big"}, "data_schema of sized: data.size must be integer"),
        ({"size": True}, "data_schema of sized: data.size must be integer"),
    ],
)
def test_data_that_fails_its_schema_is_invalid_data(data: dict[str, Any], reason: str) -> None:
    """Data failing the schema is bad input, ``invalid_data``, the failing field in the reason."""
    with pytest.raises(BadInput) as raised:
        schemas_of(("sized", Sized)).check(message("sized", data))
    assert (raised.value.error_type, raised.value.message, raised.value.event_name) == (
        "invalid_data",
        reason,
        "sized",
    )
    assert "invalid_data" in ERROR_TYPES


def test_unexpected_properties_are_not_quoted_in_the_reason() -> None:
    """A property the schema forbids is reported without its name (the producer's text)."""
    with pytest.raises(BadInput) as raised:
        schemas_of(("sized", Sized)).check(message("sized", {"size": 1, "ada@example.org": 1}))
    assert raised.value.message == (
        "data_schema of sized: data must not contain properties its schema does not name"
    )


def test_events_without_a_schema_take_any_data() -> None:
    """An event class that declares no schema, and an unknown name, are not checked."""
    schemas = schemas_of(("plain", InternalEvent))
    assert "plain" not in schemas
    schemas.check(message("plain", {"anything": [1, 2]}))
    schemas.check(message("unknown.name", {}))


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "strin"}, "schema.type: cannot be validated by any definition"),
        ({"additionalProperties": "no"}, "schema.additionalProperties: must be object or boolean"),
        ({"required": "title"}, "schema.required: must be array"),
        ({"properties": {"a": {"pattern": "("}}}, "schema.properties.a.pattern: must be a valid regex"),
        ({"$ref": "https://example.org/deal.json"}, "only local references"),
        ({"$ref": "#/definitions/missing"}, "Unresolvable ref"),
        (["title"], "a schema is a JSON object or a boolean, not a list"),
    ],
)
def test_a_schema_that_is_not_json_schema_is_refused(schema: Any, reason: str) -> None:
    """Each declared schema is checked against the draft-07 meta-schema, then compiled."""
    with pytest.raises(InvalidSchema) as raised:
        compile_schema(schema)
    assert reason in str(raised.value)


def bad_event(schema: Any) -> Any:
    """An event class declaring ``schema``."""

    @implementer(IInternalEvent)
    class Bad(InternalEvent):
        data_schema = schema

    return Bad


def test_a_bad_schema_names_its_event_and_class() -> None:
    """The error says which event's schema is wrong and where its class is."""
    with pytest.raises(DataSchemaError, match=r"the data_schema of event 'deal\.broken' \(.*Bad\)"):
        schemas_of(("deal.broken", bad_event({"type": "strin"})))


#: An extension whose event's data schema has a typo (``numbr``): installed by ``install_typo``.
TYPO_FILES = {
    "__init__.py": "",
    "events.py": (
        "from zope.interface import implementer\n"
        "from briefy.choreographer.events import IInternalEvent, InternalEvent\n\n"
        "@implementer(IInternalEvent)\n"
        "class Typo(InternalEvent):\n"
        "    data_schema = {'type': 'object', 'properties': {'amount': {'type': 'numbr'}}}\n"
    ),
    "configure.zcml": (
        '<configure xmlns="http://namespaces.zope.org/zope">'
        '<utility component=".events.Typo" provides="briefy.choreographer.events.IInternalEvent" '
        'name="deal.typo" /></configure>'
    ),
}
#: What the start-up error says of it.
TYPO_NAMED = (
    "extension 'typo' (briefy.choreographer.extensions entry point 'typo_ext' of acme-typo 0.1): "
    "the data_schema of event 'deal.typo' (typo_ext.events.Typo) is not valid JSON Schema: "
    "schema.properties.amount.type: cannot be validated by any definition"
)


def install_typo(target: Path) -> Path:
    """Install the extension with the bad schema into ``target``, as pip would."""
    return install_extension(target, "acme-typo", "typo", "typo_ext", TYPO_FILES)


def test_an_extension_with_a_bad_schema_stops_start_up_naming_it(site_packages: Path) -> None:
    """An installed extension whose event's data_schema is not JSON Schema stops start-up, named."""
    install_typo(site_packages)
    with pytest.raises(StartupError) as raised:
        load_site(Settings())
    assert str(raised.value).startswith(TYPO_NAMED)


def test_the_tools_stop_on_a_bad_schema_too(site_packages: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """choreographer asyncapi (like every tool that loads the site) exits 2, naming the extension."""
    install_typo(site_packages)
    assert main(["asyncapi"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and TYPO_NAMED in captured.err


def test_the_slack_example_declares_a_schema_for_deal_won(site_packages: Path) -> None:
    """The example extension's deal.won checks its data; the reference events declare none."""
    install_project(SLACK, site_packages)
    schemas = load_site(Settings()).data_schemas
    assert "deal.won" in schemas
    assert "lead.created" not in schemas and "mail.sent" not in schemas
    schemas.check(message("deal.won", DEAL))
    with pytest.raises(BadInput, match=r"data\.currency must match pattern"):
        schemas.check(message("deal.won", {**DEAL, "currency": "euro"}))


def test_the_site_compiles_its_schemas_once(clean: None) -> None:
    """Loading the site again gives the schemas compiled the first time."""
    first = load_site(Settings(zcml=SITE_ZCML)).data_schemas
    assert load_site(Settings(zcml=SITE_ZCML)).data_schemas is first
    assert "pair.created" in first


def test_the_worker_dead_letters_invalid_data_before_any_action(pairs: Pairs) -> None:
    """An event whose data fails its schema goes to the DLQ intact with its reason; nothing is sent."""
    body = event("pair.created", {"name": "left", "size": -2})
    message_id = pairs.send(body)
    pairs.worker.run_once()
    [letter] = pairs.take("dlq")
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert letter["Body"] == json.dumps(body)
    assert attributes["error_type"] == "invalid_data"
    assert (
        attributes["error_message"]
        == "data_schema of pair.created: data.size must be bigger than or equal to 0"
    )
    assert (attributes["event_name"], attributes["source_message_id"]) == ("pair.created", message_id)
    assert pairs.take("first.queue") == [] and pairs.take("second.queue") == []


def test_the_worker_runs_events_whose_data_is_valid(pairs: Pairs) -> None:
    """Data that meets the schema runs its actions as usual."""
    pairs.send(event("pair.created", {"name": "left", "size": 2}))
    pairs.worker.run_once()
    assert [
        json.loads(m["Body"])["step"] for m in pairs.take("first.queue") + pairs.take("second.queue")
    ] == [
        "first",
        "second",
    ]
    assert pairs.take("dlq") == []


def test_dry_run_reports_invalid_data_and_runs_no_handler(site_packages: Path) -> None:
    """dry-run checks the data first: invalid data is the worker's dead letter, with its reason."""
    install_project(SLACK, site_packages)
    body = orjson.dumps(event("deal.won", {**DEAL, "amount": -5}))
    result = report(body, load_site(Settings()))
    assert (result["ok"], result["outcome"], result["error_type"]) == (False, "dead_letter", "invalid_data")
    assert result["data_schema"] == {
        "declared": True,
        "valid": False,
        "error": "data_schema of deal.won: data.amount must be bigger than or equal to 0",
    }
    assert (result["handlers"], result["actions"]) == ([], [])
    text = render(result)
    assert "data        REJECTED (invalid_data): data_schema of deal.won: data.amount must be" in text
    assert "handlers: none run (the data is checked first)" in text
    assert "would dead-letter the event" in text


def test_dry_run_says_valid_data_meets_its_schema(site_packages: Path) -> None:
    """Valid data is reported as such, then the handlers and actions as usual."""
    install_project(SLACK, site_packages)
    result = report(orjson.dumps(event("deal.won", DEAL)), load_site(Settings()))
    assert result["ok"] and result["data_schema"] == {"declared": True, "valid": True, "error": None}
    text = render(result)
    assert "data        valid (data_schema of deal.won)" in text
    assert "1. slack.deal.won  weight 100  ->  slack.queue" in text


def test_dry_run_of_an_event_without_a_schema_has_no_data_line(registry: Any) -> None:
    """The reference events declare no schema: the report says nothing about one."""
    result = report(orjson.dumps(event("lead.created")), load_site(Settings()))
    assert result["data_schema"] == {"declared": False, "valid": None, "error": None}
    assert "\ndata " not in render(result)


def test_graph_hangs_a_note_on_an_event_with_a_schema(site_packages: Path) -> None:
    """graph draws the data schema as a note on deal.won (Mermaid and DOT), none on the reference events."""
    install_project(SLACK, site_packages)
    graph = build(load_site(Settings()))
    text = mermaid(graph)
    note = "data_schema<br/>required: title, amount, currency<br/>else dead-lettered: invalid_data"
    assert f'note_deal_won>"{note}"]:::note' in text
    assert "event_deal_won -. data .-> note_deal_won" in text
    assert [node.id for node in graph.nodes.values() if node.kind == "note"] == ["note_deal_won"]
    assert 'note_deal_won [label="data_schema\\nrequired: title, amount, currency' in dot(graph)
