"""Provisioning and surveying the queues (``queues create|status``), in moto's mock."""

from __future__ import annotations

import json
from typing import Any

from briefy.choreographer.admin.provision import REDRIVE_MARGIN, Provisioned, provision
from briefy.choreographer.cli.queues import survey
from briefy.choreographer.config import Settings
from briefy.choreographer.site import load_site


def provisioned(sqs: Any, settings: Settings) -> list[Provisioned]:
    """``provision`` for the reference site under ``settings``."""
    return provision(sqs, load_site(settings).registry, settings)


def attributes(sqs: Any, url: str) -> dict[str, str]:
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def test_creates_every_queue_with_the_redrive_policy(sqs: Any) -> None:
    """Events, DLQ, mail and notification are created; events dead-letters to the DLQ."""
    settings = Settings(max_attempts=3)
    found = provisioned(sqs, settings)
    assert [(p.utility, p.queue_name, p.status) for p in found] == [
        ("events.queue", "events", "created"),
        ("dead letters", "events-dlq", "created"),
        ("mail.queue", "mail", "created"),
        ("notification.queue", "notification", "created"),
    ]
    policy = json.loads(attributes(sqs, found[0].url or "")["RedrivePolicy"])
    assert policy["deadLetterTargetArn"].endswith(":events-dlq")
    assert int(policy["maxReceiveCount"]) == 3 + REDRIVE_MARGIN


def test_second_run_reports_exists_and_changes_nothing(sqs: Any) -> None:
    """Running again finds every queue and leaves its attributes as they were."""
    first = provisioned(sqs, Settings())
    before = {p.queue_name: attributes(sqs, p.url or "") for p in first}
    second = provisioned(sqs, Settings())
    assert [p.status for p in second] == ["exists"] * 4
    assert [p.url for p in second] == [p.url for p in first]
    assert {p.queue_name: attributes(sqs, p.url or "") for p in second} == before


def test_queue_names_come_from_the_settings_and_fifo_names_make_fifo_queues(sqs: Any) -> None:
    """CHOREOGRAPHER_*_QUEUE names are used; a .fifo events queue gets a FIFO DLQ."""
    settings = Settings(
        queue_names={
            "CHOREOGRAPHER_EVENTS_QUEUE": "acme-events.fifo",
            "CHOREOGRAPHER_MAIL_QUEUE": "acme-mail",
        }
    )
    found = {p.utility: p for p in provisioned(sqs, settings)}
    assert found["events.queue"].queue_name == "acme-events.fifo"
    assert found["dead letters"].queue_name == "events-dlq.fifo"
    assert found["mail.queue"].queue_name == "acme-mail"
    assert attributes(sqs, found["events.queue"].url or "")["FifoQueue"] == "true"
    assert attributes(sqs, found["dead letters"].url or "")["FifoQueue"] == "true"


def test_existing_events_queue_without_policy_gets_one(sqs: Any) -> None:
    """An events queue made by someone else, with no redrive policy, gets one (and says so)."""
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    [events, dlq, *_] = provisioned(sqs, Settings(dead_letter_queue="my-dlq"))
    assert events.status == "exists" and events.note.startswith("redrive policy added")
    assert json.loads(attributes(sqs, url)["RedrivePolicy"])["deadLetterTargetArn"].endswith(":my-dlq")
    assert (dlq.queue_name, dlq.status) == ("my-dlq", "created")


def test_existing_redrive_target_is_the_dlq_unless_one_is_set(sqs: Any) -> None:
    """With no DLQ setting the events queue's own redrive target is used, as the worker does."""
    arn = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName="theirs")["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
    sqs.create_queue(QueueName="events", Attributes={"RedrivePolicy": policy})
    [events, dlq, *_] = provisioned(sqs, Settings())
    assert (dlq.queue_name, dlq.status) == ("theirs", "exists")
    assert events.note == "dead letters to theirs after 5 receives"
    [events, dlq, *_] = provisioned(sqs, Settings(dead_letter_queue="other"))
    assert events.note == "its redrive policy sends dead letters to theirs, not other: left as it is"


def test_queue_given_by_a_missing_url_is_reported_missing(sqs: Any) -> None:
    """A queue URL cannot be created by name: it is reported missing."""
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/gone"
    found = {p.utility: p for p in provisioned(sqs, Settings(queue_names={"CHOREOGRAPHER_MAIL_QUEUE": url}))}
    assert (found["mail.queue"].status, found["mail.queue"].url) == ("missing", None)


def test_survey_counts_visible_in_flight_and_delayed(sqs: Any) -> None:
    """Each queue's visible, in-flight and delayed messages are counted, the DLQ last."""
    found = {p.utility: p.url for p in provisioned(sqs, Settings())}
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=found["events.queue"], MessageBody=body)
    sqs.receive_message(QueueUrl=found["events.queue"], MaxNumberOfMessages=1)
    sqs.send_message(QueueUrl=found["mail.queue"], MessageBody="later", DelaySeconds=60)
    sqs.send_message(QueueUrl=found["dead letters"], MessageBody="dead")
    counts = {s.utility: (s.visible, s.in_flight, s.delayed) for s in survey(sqs, load_site(Settings()))}
    assert counts == {
        "events.queue": (2, 1, 0),
        "mail.queue": (0, 0, 1),
        "notification.queue": (0, 0, 0),
        "dead letters": (1, 0, 0),
    }
    assert survey(sqs, load_site(Settings()))[-1].utility == "dead letters"


def test_survey_reports_missing_queues(sqs: Any) -> None:
    """A queue that does not exist has no URL and no counts."""
    provisioned(sqs, Settings())
    [mail] = [
        s
        for s in survey(sqs, load_site(Settings(queue_names={"CHOREOGRAPHER_MAIL_QUEUE": "nope"})))
        if s.url is None
    ]
    assert (mail.utility, mail.queue_name, mail.visible) == ("mail.queue", "nope", None)
