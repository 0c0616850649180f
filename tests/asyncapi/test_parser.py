"""The documents of ``choreographer asyncapi`` are valid according to the official AsyncAPI parser."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import zope.component.testing

from briefy.choreographer.admin.asyncapi import document
from briefy.choreographer.cli.asyncapi import render
from briefy.choreographer.config import Settings
from briefy.choreographer.site import load_site, reset_site
from tests.asyncapi.parser import ERROR, Diagnostic, Parser
from tests.packages import SLACK, install_project

ROOT = Path(__file__).resolve().parents[2]


def errors(parser: Parser, path: Path) -> list[Diagnostic]:
    """The parser's errors about the document in ``path`` (warnings and hints are not errors)."""
    [(_, found)] = parser.validate(path).items()
    return [diagnostic for diagnostic in found if diagnostic.severity == ERROR]


@pytest.fixture
def slack_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The Slack example installed as pip would, in a clean registry; its modules forgotten after."""
    target = install_project(SLACK, tmp_path / "site-packages")
    monkeypatch.syspath_prepend(str(target))
    zope.component.testing.setUp()
    reset_site()
    yield target
    zope.component.testing.tearDown()
    reset_site()
    for name in [name for name in sys.modules if name.startswith("slack_extension")]:
        del sys.modules[name]


def test_the_committed_reference_document_is_valid(asyncapi_parser: Parser) -> None:
    """asyncapi.yaml, the reference choreography's document, has no error."""
    assert errors(asyncapi_parser, ROOT / "asyncapi.yaml") == []


def test_the_document_with_the_slack_extension_is_valid(asyncapi_parser: Parser, slack_site: Path) -> None:
    """With the example extension (its data schema, its queue), FIFO queues and an endpoint: no error."""
    settings = Settings(
        endpoint_url="http://localhost:4566",
        queue_names={"CHOREOGRAPHER_EVENTS_QUEUE": "events.fifo", "CHOREOGRAPHER_SLACK_QUEUE": "slack.fifo"},
    )
    doc = document(load_site(settings))
    assert "deal.won" in doc["channels"]["events.queue"]["messages"]
    path = slack_site.parent / "slack.yaml"
    path.write_text(render(doc))
    assert errors(asyncapi_parser, path) == []


def test_the_document_for_aws_is_valid_as_json(asyncapi_parser: Parser, tmp_path: Path) -> None:
    """In production with no region (a server variable), written as JSON: no error."""
    zope.component.testing.setUp()
    reset_site()
    try:
        doc = document(load_site(Settings(mode="production")))
    finally:
        zope.component.testing.tearDown()
        reset_site()
    assert doc["servers"]["aws"]["host"] == "sqs.{region}.amazonaws.com"
    path = tmp_path / "aws.json"
    path.write_text(render(doc, "json"))
    assert errors(asyncapi_parser, path) == []


def test_the_parser_finds_errors_in_a_broken_document(asyncapi_parser: Parser, tmp_path: Path) -> None:
    """The check can fail: a binding of the wrong type and a message the channel lacks are errors."""
    text = (ROOT / "asyncapi.yaml").read_text()
    broken = text.replace("fifoQueue: false", "fifoQueue: nope", 1).replace(
        "#/channels/events.queue/messages/lead.created", "#/channels/events.queue/messages/nowhere", 1
    )
    assert broken != text
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    found = errors(asyncapi_parser, path)
    assert any("fifoQueue" in str(diagnostic) for diagnostic in found)
    assert len(found) >= 2
