"""OpenTelemetry spans: a consumer span per event, a producer span per output, one trace over two
hops; and none of it without OpenTelemetry."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.errors import StartupError
from briefy.choreographer.ops.tracing import OpenTelemetrySpans, start_tracing, wants_spans
from briefy.choreographer.worker import Worker
from tests.support import LEAD_DATA, MAIL_DATA, event


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    """A tracer provider of the test's own (the global one is left alone), exporting to memory."""
    found = TracerProvider()
    found.add_span_processor(SimpleSpanProcessor(exporter))
    return found


@pytest.fixture
def traced(app: Application, provider: TracerProvider) -> Application:
    """The application, recording spans in the test's provider."""
    return replace(app, tracing=OpenTelemetrySpans(provider, app.events.queue_name, app.queues))


def carrier_of(message: dict[str, Any]) -> dict[str, str]:
    """A received message's attributes as a propagation carrier."""
    return {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}


def attributes_of(carrier: dict[str, str]) -> dict[str, Any]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in carrier.items()}


def take(app: Application, name: str) -> dict[str, Any]:
    url = app.queues[name].url
    [message] = app.client.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    return dict(message)


def spans_named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def test_two_hops_are_one_trace(traced: Application, provider: TracerProvider, exporter: Any) -> None:
    """Lead published, mail sent, mail.sent answered, notification sent: one trace, each span a child."""
    worker = Worker(traced)
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("publish lead", kind=SpanKind.PRODUCER) as publish:
        carrier: dict[str, str] = {}
        inject(carrier)
    lead = event("lead.created", LEAD_DATA)
    traced.client.send_message(
        QueueUrl=traced.events.url, MessageBody=json.dumps(lead), MessageAttributes=attributes_of(carrier)
    )
    worker.run_once()
    mail = take(traced, "mail.queue")
    # The mail service: consumes the mail in its own span, then reports it as mail.sent.
    with tracer.start_as_current_span(
        "mail service", context=extract(carrier_of(mail)), kind=SpanKind.CONSUMER
    ):
        answer: dict[str, str] = {}
        inject(answer)
    traced.client.send_message(
        QueueUrl=traced.events.url,
        MessageBody=json.dumps(event("mail.sent", {**MAIL_DATA, "guid": lead["guid"]})),
        MessageAttributes=attributes_of(answer),
    )
    worker.run_once()
    notification = take(traced, "notification.queue")

    spans = exporter.get_finished_spans()
    assert {span.context.trace_id for span in spans} == {publish.get_span_context().trace_id}
    events_queue = traced.events.queue_name
    first, second = spans_named(exporter, f"process {events_queue}")
    send_mail = spans_named(exporter, f"send {traced.queues['mail.queue'].queue_name}")[0]
    send_note = spans_named(exporter, f"send {traced.queues['notification.queue'].queue_name}")[0]
    [service] = spans_named(exporter, "mail service")
    assert first.parent is not None and first.parent.span_id == publish.get_span_context().span_id
    assert send_mail.parent is not None and send_mail.parent.span_id == first.context.span_id
    assert service.parent is not None and service.parent.span_id == send_mail.context.span_id
    assert second.parent is not None and second.parent.span_id == service.context.span_id
    assert send_note.parent is not None and send_note.parent.span_id == second.context.span_id
    # What each output carries is its producer span's context.
    assert carrier_of(mail)["traceparent"].split("-")[2] == f"{send_mail.context.span_id:016x}"
    assert carrier_of(notification)["traceparent"].split("-")[2] == f"{send_note.context.span_id:016x}"


def test_spans_follow_the_messaging_conventions(traced: Application, exporter: Any) -> None:
    """Consumer and producer spans: kind, messaging.system aws_sqs, destination, operation, message id."""
    worker = Worker(traced)
    sqs_id = traced.client.send_message(
        QueueUrl=traced.events.url, MessageBody=json.dumps(event("lead.created", LEAD_DATA))
    )["MessageId"]
    worker.run_once()
    mail = take(traced, "mail.queue")
    [consumer] = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.CONSUMER]
    [producer] = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.PRODUCER]
    assert consumer.parent is None  # no trace came in: the consumer span is the root
    assert (
        dict(consumer.attributes or {}).items()
        >= {
            "messaging.system": "aws_sqs",
            "messaging.destination.name": traced.events.queue_name,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.message.id": sqs_id,
            "choreographer.event_name": "lead.created",
            "choreographer.outcome": "done",
        }.items()
    )
    assert (
        dict(producer.attributes or {}).items()
        >= {
            "messaging.system": "aws_sqs",
            "messaging.destination.name": traced.queues["mail.queue"].queue_name,
            "messaging.operation.type": "send",
            "messaging.message.id": mail["MessageId"],
            "choreographer.action": "lead.created.mail",
        }.items()
    )
    assert consumer.status.status_code == StatusCode.UNSET


def test_a_dead_lettered_event_ends_its_span_in_error(traced: Application, exporter: Any) -> None:
    """The consumer span of a dead-lettered event has an error status naming the error type only."""
    worker = Worker(traced)
    body = json.dumps(event("lead.created", {**LEAD_DATA, "email": ""}))
    traced.client.send_message(QueueUrl=traced.events.url, MessageBody=body)
    worker.run_once()
    [span] = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "dead-lettered: invalid_payload"
    assert dict(span.attributes or {})["choreographer.outcome"] == "dead_lettered"


@pytest.mark.parametrize(
    ("otel", "wanted"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_the_otel_variables_decide_whether_spans_are_recorded(otel: dict[str, str], wanted: bool) -> None:
    """Spans only when OpenTelemetry's variables ask for traces (and not when the SDK is disabled)."""
    assert wants_spans(otel) is wanted


def test_spans_are_recorded_when_asked_and_ids_only_otherwise() -> None:
    """With no variable the tracing only propagates ids; with an exporter it records spans."""
    assert not start_tracing({}, "events", {}).records
    made = start_tracing({"OTEL_TRACES_EXPORTER": "console"}, "events", {})
    assert isinstance(made, OpenTelemetrySpans) and made.records
    made.close()


def test_an_exporter_nobody_provides_stops_start_up_naming_the_variable() -> None:
    """OTEL_TRACES_EXPORTER naming an exporter that is not installed is a start-up error saying so."""
    with pytest.raises(StartupError, match="OTEL_TRACES_EXPORTER names 'zipkin_json'"):
        start_tracing({"OTEL_TRACES_EXPORTER": "zipkin_json"}, "events", {})
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # the global one untouched


#: A worker turn in a process where ``import opentelemetry`` fails, as where it is not installed.
WITHOUT_OTEL = """
import json, sys
sys.modules["opentelemetry"] = None  # any import of it now raises ImportError
import boto3
from moto import mock_aws
from briefy.choreographer.admin.provision import create_queues
from briefy.choreographer.bootstrap import connect
from briefy.choreographer.config import Settings
from briefy.choreographer.site import load_site
from briefy.choreographer.worker import Worker

settings = Settings(endpoint_url="http://mocked", wait_time=0)
with mock_aws():
    client = boto3.client("sqs", region_name="us-east-1")
    site = load_site(settings)
    create_queues(client, site.registry, settings)
    app = connect(site, client)
    body = {"event_name": "lead.created", "guid": "g", "created_at": "2026-11-28T12:00:00Z",
            "data": {"fullname": "Ada", "email": "ada@example.org", "internal": True}}
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    client.send_message(QueueUrl=app.events.url, MessageBody=json.dumps(body),
                        MessageAttributes={"traceparent": {"DataType": "String", "StringValue": parent}})
    Worker(app).run_once()
    [mail] = client.receive_message(QueueUrl=app.queues["mail.queue"].url,
                                    MessageAttributeNames=["All"])["Messages"]
    print(mail["MessageAttributes"]["traceparent"]["StringValue"])
    print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
"""


def test_without_opentelemetry_the_trace_still_propagates() -> None:
    """With OpenTelemetry not importable the worker runs, outputs carry the trace, nothing imports it."""
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_OTEL],
        capture_output=True,
        text=True,
        timeout=120,
        env={"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    traceparent, modules = done.stdout.splitlines()[-2:]  # after the log lines
    assert traceparent.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert modules == "['opentelemetry']"  # only the blocked entry itself
