"""``choreographer asyncapi``: the AsyncAPI document of the live choreography, and the committed one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
import pytest
import yaml
import zope.component.testing
from zope.event import notify
from zope.interface import implementer

from briefy.choreographer.admin.asyncapi import RECEIVE_EVENTS, SEND_DEAD_LETTERS, TRACE_ATTRIBUTES, document
from briefy.choreographer.admin.schemadiff import pointer
from briefy.choreographer.cli import main
from briefy.choreographer.cli.asyncapi import render
from briefy.choreographer.config import Settings
from briefy.choreographer.errors import ERROR_TYPES
from briefy.choreographer.events import IInternalEvent, InternalEvent, internal_event, parse_event
from briefy.choreographer.events.outbox import PlanningOutbox
from briefy.choreographer.pipeline import deadletter
from briefy.choreographer.pipeline.deadletter import letter
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.queues.mail import MailQueue
from briefy.choreographer.site import load_site, reset_site
from briefy.common.claimcheck import SIZE_ATTRIBUTES
from briefy.common.interfaces import IQueue
from briefy.common.queue.message import SQSMessage
from tests.packages import SLACK, install_project
from tests.support import LEAD_DATA, TEST_SEAL, event

ROOT = Path(__file__).resolve().parent.parent


def doc_of(settings: Settings | None = None) -> dict[str, Any]:
    return document(load_site(settings or Settings()))


def messages(doc: dict[str, Any], operation: str) -> list[dict[str, Any]]:
    """The messages an operation names, looked up in the document."""
    return [pointer(doc, ref["$ref"]) for ref in doc["operations"][operation]["messages"]]


@pytest.fixture
def slack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Slack example installed as pip would, in a clean registry."""
    monkeypatch.syspath_prepend(str(install_project(SLACK, tmp_path)))
    zope.component.testing.setUp()
    reset_site()
    yield
    zope.component.testing.tearDown()
    reset_site()
    for name in [name for name in sys.modules if name.startswith("slack_extension")]:
        del sys.modules[name]


def test_a_channel_per_sqs_queue_with_its_binding(registry: Any) -> None:
    """The events queue (with its DLQ and redrive policy), each output queue and the DLQ are channels."""
    doc = doc_of()
    assert doc["asyncapi"] == "3.0.0"
    channels = doc["channels"]
    assert {key: channel["address"] for key, channel in channels.items()} == {
        "events.queue": "events",
        "mail.queue": "mail",
        "notification.queue": "notification",
        "deadLetters": "events-dlq",
    }
    assert channels["events.queue"]["bindings"]["sqs"] == {
        "queue": {
            "name": "events",
            "fifoQueue": False,
            "redrivePolicy": {"deadLetterQueue": {"name": "events-dlq"}, "maxReceiveCount": 13},
        },
        "deadLetterQueue": {"name": "events-dlq", "fifoQueue": False},
        "bindingVersion": "0.2.0",
    }
    assert channels["mail.queue"]["bindings"]["sqs"]["queue"] == {"name": "mail", "fifoQueue": False}


def test_queue_names_fifo_and_the_redrive_policy_follow_the_settings(registry: Any) -> None:
    """Configured names, FIFO queues (by their .fifo name) and the attempt limit make the document."""
    settings = Settings(
        queue_names={"CHOREOGRAPHER_EVENTS_QUEUE": "ev.fifo", "CHOREOGRAPHER_MAIL_QUEUE": "acme-mail"},
        dead_letter_queue="acme-dlq",
        max_attempts=3,
    )
    channels = doc_of(settings)["channels"]
    events = channels["events.queue"]["bindings"]["sqs"]
    assert events["queue"]["fifoQueue"] is True and events["queue"]["redrivePolicy"]["maxReceiveCount"] == 8
    assert events["deadLetterQueue"] == {"name": "acme-dlq.fifo", "fifoQueue": True}
    assert channels["mail.queue"]["address"] == "acme-mail"
    assert channels["deadLetters"]["address"] == "acme-dlq.fifo"


def test_servers_are_the_endpoint_the_settings_name(registry: Any) -> None:
    """The embedded endpoint in development, a configured one, or AWS's for the region."""
    assert doc_of()["servers"]["embedded"]["host"] == "127.0.0.1:9324"
    assert doc_of(Settings(endpoint_url="http://sqs.local:4566"))["servers"] == {
        "sqs": {
            "host": "sqs.local:4566",
            "protocol": "sqs",
            "description": "The configured SQS endpoint (http://sqs.local:4566).",
        }
    }
    aws = doc_of(Settings(mode="production", region="eu-west-1"))["servers"]["aws"]
    assert (aws["host"], aws["protocol"]) == ("sqs.eu-west-1.amazonaws.com", "sqs")


def test_a_receive_operation_with_a_message_per_event_name(registry: Any) -> None:
    """The events queue is received, one message per registered event name with the event message's fields."""
    doc = doc_of()
    assert doc["operations"][RECEIVE_EVENTS]["action"] == "receive"
    assert doc["operations"][RECEIVE_EVENTS]["channel"] == {"$ref": "#/channels/events.queue"}
    found = {message["name"]: message for message in messages(doc, RECEIVE_EVENTS)}
    assert sorted(found) == ["lead.created", "mail.sent"]
    payload = found["lead.created"]["payload"]
    assert payload["required"] == ["event_name", "guid", "created_at", "data"]
    assert payload["properties"]["event_name"]["const"] == "lead.created"
    assert payload["properties"]["data"]["type"] == "object"
    assert "no data_schema" in found["lead.created"]["description"]
    assert set(found["mail.sent"]["headers"]["properties"]) == {*TRACE_ATTRIBUTES, *SIZE_ATTRIBUTES}


def test_the_event_message_schema_takes_what_the_worker_takes(registry: Any) -> None:
    """A message the worker parses meets the schema (checked with fastjsonschema)."""
    [lead] = [m for m in messages(doc_of(), RECEIVE_EVENTS) if m["name"] == "lead.created"]
    check = fastjsonschema.compile(lead["payload"])
    body = event("lead.created", LEAD_DATA, id=None, actor=None)
    parse_event(json.dumps(body))
    check(body)
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        check({**body, "guid": "  "})


def test_a_send_operation_per_action_with_its_queues_schema(registry: Any) -> None:
    """Each action sends its queue's payload schema (plus output_id and request_id) to its queue."""
    doc = doc_of()
    operation = doc["operations"]["send.lead.created.mail"]
    assert operation["action"] == "send" and operation["channel"] == {"$ref": "#/channels/mail.queue"}
    [mail] = messages(doc, "send.lead.created.mail")
    assert mail["name"] == "lead.created.mail"
    payload = mail["payload"]
    assert {k: v for k, v in payload["properties"].items() if k not in ("output_id", "request_id")} == (
        MailQueue.schema["properties"]
    )
    assert payload["required"] == [*MailQueue.schema["required"], "output_id", "request_id"]
    assert mail["headers"]["properties"]["action"]["const"] == "lead.created.mail"
    assert mail["headers"]["properties"]["event_name"]["const"] == "lead.created"
    assert "weight 100" in operation["summary"] and "Only internal leads get the mail" in operation["summary"]
    assert sorted(doc["operations"]) == [
        RECEIVE_EVENTS,
        "send.lead.created.mail",
        "send.mail.sent.notification",
        SEND_DEAD_LETTERS,
    ]


def test_the_output_headers_are_the_attributes_an_output_carries(registry: Any) -> None:
    """What a planned output carries as message attributes is declared; what is required is there."""
    [mail] = messages(doc_of(), "send.lead.created.mail")
    queues = dict(registry.getUtilitiesFor(IQueue))
    outbox = PlanningOutbox(queues)
    internal = internal_event(parse_event(json.dumps(event("lead.created", LEAD_DATA))), outbox, registry)
    notify(internal)
    [planned] = outbox.planned
    assert planned.message is not None
    headers = mail["headers"]
    assert set(planned.message.attributes) <= set(headers["properties"])
    assert set(headers["required"]) <= set(planned.message.attributes)
    payload = orjson.loads(planned.message.body)
    assert set(mail["payload"]["required"]) <= set(payload)


def test_the_dead_letter_message_declares_every_reason_attribute(registry: Any) -> None:
    """A dead letter's attributes are its message's headers; every error type is explained."""
    doc = doc_of()
    [dead] = messages(doc, SEND_DEAD_LETTERS)
    written = letter(Job(SQSMessage("m-1", "r", "{}")), "invalid_data", "data.amount ...", TEST_SEAL)
    assert set(written.attributes) <= set(dead["headers"]["properties"])
    assert "required" not in dead["headers"]  # a trimmed letter, or one SQS moved, has fewer
    explained = dead["headers"]["properties"]["error_type"]["description"]
    assert all(f"{name}: " in explained for name in ERROR_TYPES)
    assert doc["operations"][SEND_DEAD_LETTERS]["channel"] == {"$ref": "#/channels/deadLetters"}


def headers_of(doc: dict[str, Any]) -> dict[str, set[str]]:
    """The header names of an event message, an output message and the dead letter."""
    [event_message, *_] = messages(doc, RECEIVE_EVENTS)
    [mail] = messages(doc, "send.lead.created.mail")
    [dead] = messages(doc, SEND_DEAD_LETTERS)
    return {
        part: set(message["headers"]["properties"])
        for part, message in (("event", event_message), ("output", mail), ("letter", dead))
    }


def test_trace_headers_are_declared_where_the_worker_reads_and_writes_them(registry: Any) -> None:
    """The events and the outputs declare the trace context attributes; a letter declares only
    those the dead-letter module writes (it keeps the traceparent the event came with)."""
    doc = doc_of()
    found = headers_of(doc)
    assert TRACE_ATTRIBUTES == ("traceparent", "tracestate")
    assert set(TRACE_ATTRIBUTES) <= found["event"]
    assert set(TRACE_ATTRIBUTES) <= found["output"]
    written = {name for name in deadletter.EXPENDABLE if name in TRACE_ATTRIBUTES}
    assert found["letter"] & set(TRACE_ATTRIBUTES) == written == {"traceparent"}
    [mail] = messages(doc, "send.lead.created.mail")
    assert mail["headers"]["properties"]["traceparent"]["pattern"].startswith("^[0-9a-f]{2}-")
    assert "traceparent" not in mail["headers"]["required"]  # an event without one gets a new trace


def test_a_large_payloads_size_attributes_are_declared_on_events_and_letters(registry: Any) -> None:
    """The claim check's size attributes are headers of the events (a pointer's body is read from
    S3) and of the letter (kept on the letter of a pointer), never of an output's."""
    found = headers_of(doc_of())
    assert set(SIZE_ATTRIBUTES) <= found["event"]
    assert set(SIZE_ATTRIBUTES) <= found["letter"]
    assert not set(SIZE_ATTRIBUTES) & found["output"]


def test_the_receive_operation_names_every_form_an_event_may_come_in(registry: Any) -> None:
    """Besides its own body, an event may come in an SNS or EventBridge envelope, as a pointer to
    S3 with its size attribute, and with X-Ray's trace header: the document says so."""
    doc = doc_of()
    text = doc["operations"]["receiveEvents"]["description"]
    for form in ("SNS notification", "EventBridge event", "PayloadS3Pointer", "ExtendedPayloadSize"):
        assert form in text
    for message in messages(doc, "receiveEvents"):
        headers = message["headers"]["properties"]
        assert {"ExtendedPayloadSize", "SQSLargePayloadSize"} <= set(headers)
        assert "type" not in headers["ExtendedPayloadSize"]  # any value was allowed before: no narrowing
        assert "AWSTraceHeader" in headers["traceparent"]["description"]


def test_an_installed_extension_appears_with_no_extra_work(slack: None) -> None:
    """The Slack example's event (with its data schema), queue and actions are in the document."""
    doc = doc_of()
    assert doc["channels"]["slack.queue"]["address"] == "slack"
    deal = doc["channels"]["events.queue"]["messages"]["deal.won"]
    data = deal["payload"]["properties"]["data"]
    assert data["required"] == ["title", "amount", "currency"]
    assert data["properties"]["amount"] == {"type": "number", "minimum": 0}
    assert "must meet the event's data_schema" in deal["description"]
    assert {"send.slack.deal.won", "send.slack.lead.created"} <= set(doc["operations"])
    [slack_lead] = messages(doc, "send.slack.lead.created")
    assert slack_lead["payload"]["properties"]["channel"] == {"type": "string", "pattern": "^#"}


@implementer(IInternalEvent)
class Referring(InternalEvent):
    """An event whose data schema uses local references."""

    data_schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "definitions": {"money": {"type": "number", "minimum": 0}},
        "properties": {"price": {"$ref": "#/definitions/money"}},
    }


def test_a_data_schemas_references_point_into_the_document(registry: Any) -> None:
    """A schema's local $ref is rewritten to where the schema sits in the document, and resolves."""
    registry.registerUtility(Referring, IInternalEvent, "priced")
    doc = doc_of()
    data = doc["channels"]["events.queue"]["messages"]["priced"]["payload"]["properties"]["data"]
    ref = data["properties"]["price"]["$ref"]
    assert ref == "#/channels/events.queue/messages/priced/payload/properties/data/definitions/money"
    assert pointer(doc, ref) == {"type": "number", "minimum": 0}
    assert "$schema" not in data


def test_yaml_and_json_read_back_as_the_document(registry: Any) -> None:
    """Both forms hold the same document; the YAML has no anchors or aliases."""
    doc = doc_of()
    text = render(doc)
    assert text.startswith("# Generated by `choreographer asyncapi`")
    assert yaml.safe_load(text) == doc
    assert "&id" not in text and "*id" not in text
    assert json.loads(render(doc, "json")) == doc


def test_the_command_writes_yaml_json_or_a_file(
    registry: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """YAML on stdout by default, JSON with --format json, a file with --output."""
    assert main(["asyncapi"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["asyncapi"] == "3.0.0"
    assert main(["asyncapi", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["asyncapi"] == "3.0.0"
    target = tmp_path / "contract.yaml"
    assert main(["asyncapi", "--output", str(target)]) == 0
    assert yaml.safe_load(target.read_text()) == doc_of()
    assert capsys.readouterr().err.strip().endswith(f"wrote {target}")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of the reference choreography: no setting of ours, no extension, no endpoint."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("CHOREOGRAPHER_", "AWS_ENDPOINT"))}
    return {**keep, "CHOREOGRAPHER_EXTENSIONS": "none", **extra}


def command(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("choreographer", path=str(Path(sys.executable).parent))
    assert script, "the console script is installed"
    return subprocess.run(
        [script, *args],
        env=clean_env(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_committed_document_is_the_reference_choreographys() -> None:
    """asyncapi.yaml at the root of the repository is exactly what the command writes today."""
    result = command("asyncapi")
    assert result.returncode == 0, result.stderr
    assert (ROOT / "asyncapi.yaml").read_text() == result.stdout, (
        "asyncapi.yaml is stale: regenerate it with `make asyncapi` (and review what changed)"
    )


def test_the_contract_check_passes_on_the_committed_document() -> None:
    """``choreographer asyncapi --check asyncapi.yaml --strict`` finds no difference: exit 0."""
    result = command("asyncapi", "--check", "asyncapi.yaml", "--strict")
    assert (result.returncode, result.stdout.strip()) == (0, "asyncapi.yaml matches the live choreography.")


def test_the_contract_check_names_a_changed_choreography_against_the_committed_document() -> None:
    """The console script, the committed document, and a site whose mail goes to another queue:
    exit 1, the action and both queues named."""
    result = command("asyncapi", "--check", "asyncapi.yaml", CHOREOGRAPHER_MAIL_QUEUE="mail-v2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 breaking change(s), 0 compatible" in result.stdout
    assert "breaking:\n  action lead.created.mail: sends to 'mail-v2' instead of 'mail'" in result.stdout


def yaml_blocks(text: str) -> list[str]:
    """The bodies of the ``.. code-block:: yaml`` directives of a reStructuredText text."""
    found = re.findall(r"^( *)\.\. code-block:: yaml\n\n((?:(?:\1    .*)?\n)+)", text, re.MULTILINE)
    return [textwrap.dedent(body).strip("\n") for _, body in found]


@pytest.mark.parametrize(("guide", "count"), [("docs/contracts.rst", 3)])
def test_the_guides_excerpts_are_the_committed_documents_text(guide: str, count: int) -> None:
    """Each YAML excerpt the guide shows is text of asyncapi.yaml, at some indentation."""
    committed = (ROOT / "asyncapi.yaml").read_text()
    blocks = yaml_blocks((ROOT / guide).read_text())
    assert len(blocks) == count
    for block in blocks:
        assert any(textwrap.indent(block, " " * n) in committed for n in range(0, 20, 2)), block
