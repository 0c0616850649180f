"""Trace context: W3C traceparent/tracestate and X-Ray's AWSTraceHeader, from each event to its
outputs, its dead letter and its log lines."""

from __future__ import annotations

import json
from typing import Any

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import parse_event
from briefy.choreographer.pipeline import deadletter
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.state import RetryState
from briefy.choreographer.worker import Worker
from briefy.common.queue.message import SQSMessage
from briefy.common.queue.sqs import MAX_ATTRIBUTES
from briefy.common.tracecontext import (
    TraceContext,
    from_aws_trace_header,
    from_traceparent,
    incoming,
)
from tests.aws import sns_notification
from tests.faults import Faults, to_queue
from tests.pairs import Pairs, pair
from tests.support import LEAD_DATA, TEST_SEAL, event

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


# -- reading and writing ----------------------------------------------------------
def test_a_traceparent_is_read_and_written_back() -> None:
    """Trace id, parent and sampled flag come from traceparent; tracestate goes with it."""
    context = from_traceparent(TRACEPARENT, "congo=t61rcWkgMzE")
    assert context == TraceContext(TRACE, PARENT, True, "congo=t61rcWkgMzE")
    assert context.traceparent() == TRACEPARENT
    assert from_traceparent(f"00-{TRACE}-{PARENT}-00") == TraceContext(TRACE, PARENT, False)


def test_x_ray_s_header_is_the_same_trace_written_another_way() -> None:
    """AWSTraceHeader's Root is the 128-bit trace id; written back it gives the same header."""
    context = from_aws_trace_header(XRAY)
    assert context == TraceContext("5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", True)
    assert context.aws_trace_header() == XRAY
    assert from_aws_trace_header("Sampled=0;Root=1-5759e988-bd862e3fe1be46a994272793").sampled is False


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        f"00-{TRACE}-{PARENT}",
        f"00-{TRACE.upper()}-{PARENT}-01",
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"ff-{TRACE}-{PARENT}-01",
        f"00-{TRACE}-{PARENT}-01-extra",
        f"00-{TRACE}-{PARENT}-0x",
        "00-" + "a" * 100_000,
    ],
)
def test_a_malformed_traceparent_is_ignored(value: str) -> None:
    """What does not parse gives no context (a new trace starts); a later version's fields are allowed."""
    assert from_traceparent(value) is None
    assert from_traceparent(f"01-{TRACE}-{PARENT}-01-more") == TraceContext(TRACE, PARENT, True)


def test_the_traceparent_counts_before_x_ray_and_bad_values_are_named() -> None:
    """traceparent first, else AWSTraceHeader; a value that does not parse is named as ignored."""
    assert incoming({"traceparent": TRACEPARENT}, {"AWSTraceHeader": XRAY}).context.trace_id == TRACE
    found = incoming({"traceparent": "nope"}, {"AWSTraceHeader": XRAY})
    assert found.context is not None and found.context.trace_id.startswith("5759e988")
    assert found.ignored == ("traceparent",)
    assert incoming({}, {"AWSTraceHeader": "Root=nope"}).ignored == ("AWSTraceHeader",)
    assert incoming({}, {}).context is None


def test_a_tracestate_sqs_could_not_carry_is_dropped() -> None:
    """A tracestate too long or with control characters is dropped; the trace goes on."""
    assert from_traceparent(TRACEPARENT, "a=" + "b" * 600).tracestate == ""
    assert from_traceparent(TRACEPARENT, "a=\x00b").tracestate == ""


# -- the worker -------------------------------------------------------------------------
class Requests:
    """The SendMessageBatch requests a client makes, as the wire JSON (botocore's own event)."""

    def __init__(self, client: Any) -> None:
        self.entries: list[dict[str, Any]] = []
        client.meta.events.register("request-created.sqs.SendMessageBatch", self._created)

    def _created(self, request: Any, **_: Any) -> None:
        self.entries += json.loads(request.body)["Entries"]


def turn(app: Application, body: str, **kwargs: Any) -> tuple[Worker, list[dict[str, Any]]]:
    """One worker turn on ``body`` with its log lines (the bound context merged)."""
    worker = Worker(app)
    app.client.send_message(QueueUrl=app.events.url, MessageBody=body, **kwargs)
    with capture_logs(processors=[merge_contextvars]) as logs:
        worker.run_once()
    return worker, logs


def take(app: Application, url: str | None) -> list[dict[str, Any]]:
    response = app.client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return list(response.get("Messages", []))


def traceparent(message: dict[str, Any]) -> str:
    return str(message["MessageAttributes"]["traceparent"]["StringValue"])


def test_an_output_continues_the_incoming_trace_in_a_span_of_its_own(app: Application) -> None:
    """The mail carries the trace id, a new parent id, the tracestate, and X-Ray's header on the wire."""
    requests = Requests(app.client)
    attributes = {
        "traceparent": {"DataType": "String", "StringValue": TRACEPARENT},
        "tracestate": {"DataType": "String", "StringValue": "congo=t61rcWkgMzE"},
    }
    _, logs = turn(app, json.dumps(event("lead.created", LEAD_DATA)), MessageAttributes=attributes)
    [mail] = take(app, app.queues["mail.queue"].url)
    out = from_traceparent(traceparent(mail))
    assert out is not None and out.trace_id == TRACE and out.span_id != PARENT and out.sampled
    assert mail["MessageAttributes"]["tracestate"]["StringValue"] == "congo=t61rcWkgMzE"
    assert len(mail["MessageAttributes"]) <= MAX_ATTRIBUTES
    [entry] = requests.entries
    header = entry["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"]
    assert header == out.aws_trace_header()
    about = [line for line in logs if line.get("event") in ("event_dispatched", "action_sent")]
    assert len(about) == 2 and {line["trace_id"] for line in about} == {TRACE}


def test_an_event_without_a_trace_starts_one(app: Application) -> None:
    """No trace context in: the output carries a new trace, which the event's log lines name."""
    _, logs = turn(app, json.dumps(event("lead.created", LEAD_DATA)))
    [mail] = take(app, app.queues["mail.queue"].url)
    out = from_traceparent(traceparent(mail))
    assert out is not None and out.trace_id != TRACE
    assert {line["trace_id"] for line in logs if line.get("event") == "action_sent"} == {out.trace_id}


def test_a_malformed_traceparent_starts_a_new_trace_and_is_no_bad_input(app: Application) -> None:
    """A traceparent that does not parse: the event is choreographed in a new trace, with a warning."""
    attributes = {"traceparent": {"DataType": "String", "StringValue": "00-not-a-trace"}}
    _, logs = turn(app, json.dumps(event("lead.created", LEAD_DATA)), MessageAttributes=attributes)
    [mail] = take(app, app.queues["mail.queue"].url)
    assert from_traceparent(traceparent(mail)) is not None
    assert take(app, app.dead_letters.url) == []
    [warning] = [line for line in logs if line["event"] == "trace_context_ignored"]
    assert warning["attributes"] == ("traceparent",)


def test_x_ray_s_trace_is_continued(app: Application) -> None:
    """With no traceparent, the AWSTraceHeader system attribute's trace is the one continued."""
    system = {"AWSTraceHeader": {"DataType": "String", "StringValue": XRAY}}
    turn(app, json.dumps(event("lead.created", LEAD_DATA)), MessageSystemAttributes=system)
    [mail] = take(app, app.queues["mail.queue"].url)
    assert traceparent(mail).startswith("00-5759e988bd862e3fe1be46a994272793-")


def test_the_receive_asks_for_x_ray_s_header(app: Application) -> None:
    """The events queue's ReceiveMessage asks for AWSTraceHeader among the system attributes."""
    asked: list[list[str]] = []
    app.client.meta.events.register(
        "provide-client-params.sqs.ReceiveMessage",
        lambda params, **_: asked.append(params.get("MessageSystemAttributeNames", [])),
    )
    app.events.get_messages(wait_time=0)
    assert "AWSTraceHeader" in asked[0]


def test_a_traceparent_published_to_sns_is_seen(app: Application) -> None:
    """The SNS envelope's MessageAttributes count: its traceparent's trace is continued."""
    body = sns_notification(event("lead.created", LEAD_DATA), {"traceparent": TRACEPARENT})
    turn(app, body)
    [mail] = take(app, app.queues["mail.queue"].url)
    assert traceparent(mail).startswith(f"00-{TRACE}-")


@pytest.mark.parametrize("data", [{**LEAD_DATA, "email": ""}, None], ids=["invalid_payload", "missing_field"])
def test_a_dead_letter_keeps_the_incoming_traceparent(app: Application, data: Any) -> None:
    """Dead-lettered (bad data, or a body that is no event at all): the letter keeps its traceparent."""
    message = event("lead.created", data) if data is not None else {"event_name": "lead.created"}
    attributes = {"traceparent": {"DataType": "String", "StringValue": TRACEPARENT}}
    _, logs = turn(app, json.dumps(message), MessageAttributes=attributes)
    [letter] = take(app, app.dead_letters.url)
    assert traceparent(letter) == TRACEPARENT
    [line] = [line for line in logs if line["event"] == "event_dead_lettered"]
    assert line["trace_id"] == TRACE


def test_a_dead_letter_stays_within_sqs_s_ten_attributes() -> None:
    """Reasons, sealed state, traceparent and more: a letter gives up its least useful attributes."""
    body = json.dumps(event("lead.created", LEAD_DATA))
    job = Job(SQSMessage("m", "r", body), RetryState(("done.action",), 1, ""))
    job.event = parse_event(body, "m")
    job.incoming_trace = TraceContext(TRACE, PARENT)
    written = deadletter.letter(job, "invalid_payload", "why", TEST_SEAL)
    written.attributes.update(extra_1="x", extra_2="y")  # what another feature may add
    fitted, dropped = deadletter.fit(written, 262_144)
    assert len(fitted.attributes) == MAX_ATTRIBUTES and dropped == ["worker", "failed_at"]
    assert fitted.attributes["traceparent"] == TRACEPARENT


def test_all_outputs_of_an_event_share_its_trace(pairs: Pairs) -> None:
    """Two outputs of one event: one trace, a parent id each."""
    pairs.send(pair())
    pairs.worker.run_once()
    [first], [second] = pairs.take("first.queue"), pairs.take("second.queue")
    one, two = from_traceparent(traceparent(first)), from_traceparent(traceparent(second))
    assert one is not None and two is not None
    assert one.trace_id == two.trace_id and one.span_id != two.span_id


def test_a_retry_envelope_goes_on_in_the_event_s_trace(pairs: Pairs) -> None:
    """An event that came with no trace: the output sent on its retry is in the first attempt's trace."""
    faults = Faults(pairs.client)
    faults.fail("SendMessageBatch", how="throttle", when=to_queue("/second"))
    pairs.send(pair())
    pairs.worker.run_once()  # first sent; second throttled: a retry envelope, due at once
    assert faults.injected == {"SendMessageBatch": 1}
    pairs.worker.run_once()
    [first], [second] = pairs.take("first.queue"), pairs.take("second.queue")
    assert traceparent(first).split("-")[1] == traceparent(second).split("-")[1]


def test_bad_input_before_any_read_has_no_trace() -> None:
    """A job whose attributes could not be read gets no trace: its letter has no traceparent."""
    job = Job(SQSMessage("m", "r", "{}"))
    job.bad = BadInput("invalid_attributes", "cannot read them")
    assert "traceparent" not in deadletter.letter(job, "invalid_attributes", "x", TEST_SEAL).attributes
