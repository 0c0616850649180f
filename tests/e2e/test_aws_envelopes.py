"""The real worker on an events queue fed by SNS (raw delivery on and off) and by an EventBridge rule,
all served by moto's server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.aws import client
from tests.e2e.delivery_support import worker_env
from tests.support import LEAD_DATA, MotoServer, Queues, WorkerProcess, attributes, event, running

pytestmark = pytest.mark.e2e

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def queue_arn(queues: Queues, key: str = "events") -> str:
    found = queues.client.get_queue_attributes(QueueUrl=queues.urls[key], AttributeNames=["QueueArn"])
    return str(found["Attributes"]["QueueArn"])


def topic(moto_server: MotoServer, queues: Queues, raw: bool) -> tuple[Any, str]:
    """An SNS topic of its own with the events queue subscribed to it."""
    sns = client("sns", moto_server.url)
    arn = sns.create_topic(Name=f"{queues.prefix}-leads")["TopicArn"]
    options = {"Attributes": {"RawMessageDelivery": "true"}} if raw else {}
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn(queues), **options)
    return sns, arn


def worker(moto_server: MotoServer, queues: Queues) -> WorkerProcess:
    return WorkerProcess(worker_env(moto_server.url, queues))


@pytest.mark.parametrize("raw", [False, True])
def test_a_lead_published_to_a_topic_is_choreographed(
    moto_server: MotoServer, queues: Queues, raw: bool
) -> None:
    """Published to SNS, a lead comes out as a mail in the publisher's trace; each line names the
    topic unless delivery is raw."""
    sns, arn = topic(moto_server, queues, raw)
    lead = event("lead.created", LEAD_DATA)
    trace = {"traceparent": {"DataType": "String", "StringValue": TRACEPARENT}}
    with running(worker(moto_server, queues)) as process:
        sns.publish(TopicArn=arn, Message=json.dumps(lead), MessageAttributes=trace)
        [sent] = process.wait_for("action_sent")
        [dispatched] = process.find("event_dispatched")
    [mail] = queues.drain("mail", expected=1)
    assert json.loads(mail["Body"])["guid"] == lead["guid"]
    assert attributes(mail)["event_id"] == lead["id"]
    assert attributes(mail)["traceparent"].startswith(f"00-{TRACE_ID}-")
    for line in (sent, dispatched):
        assert line["trace_id"] == TRACE_ID
        if raw:
            assert "envelope" not in line and "origin" not in line
        else:
            assert (line["envelope"], line["origin"]) == ("sns", arn)
    assert queues.depth("events") == 0 and queues.depth("dlq") == 0


def test_an_eventbridge_rule_targeting_the_queue_is_choreographed(
    moto_server: MotoServer, queues: Queues
) -> None:
    """An event put on a bus whose rule targets the events queue comes out as a mail, its id kept."""
    events = client("events", moto_server.url)
    rule = f"{queues.prefix}-leads"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["briefy.leads"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "events-queue", "Arn": queue_arn(queues)}])
    lead = event("lead.created", LEAD_DATA)
    detail = {key: lead[key] for key in ("guid", "request_id", "data")}
    with running(worker(moto_server, queues)) as process:
        [entry] = events.put_events(
            Entries=[{"Source": "briefy.leads", "DetailType": "lead.created", "Detail": json.dumps(detail)}]
        )["Entries"]
        [sent] = process.wait_for("action_sent")
    [mail] = queues.drain("mail", expected=1)
    assert attributes(mail)["event_id"] == entry["EventId"]
    assert json.loads(mail["Body"])["request_id"] == lead["request_id"]
    assert (sent["envelope"], sent["origin"]) == ("eventbridge", "briefy.leads")


def test_a_bad_message_published_to_a_topic_is_dead_lettered_whole(
    moto_server: MotoServer, queues: Queues
) -> None:
    """A lead without a guid published to SNS: the letter is SNS's whole envelope, with the inner reason."""
    sns, arn = topic(moto_server, queues, raw=False)
    lead = event("lead.created", LEAD_DATA)
    del lead["guid"]
    with running(worker(moto_server, queues)) as process:
        sns.publish(TopicArn=arn, Message=json.dumps(lead))
        [line] = process.wait_for("event_dead_lettered")
    [letter] = queues.drain("dlq", expected=1)
    envelope = json.loads(letter["Body"])
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == arn
    assert json.loads(envelope["Message"]) == lead
    assert attributes(letter)["error_type"] == "missing_field"
    assert (line["envelope"], line["origin"], line["error_type"]) == ("sns", arn, "missing_field")
