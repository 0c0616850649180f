"""Hostile messages on moto's mock: none stalls, poisons or steers the worker.

The end-to-end corpus (``tests/e2e/test_delivery_badinput.py``) sends the same
kinds of message to the real worker process; these pin each outcome down in
process, with the log lines that say what happened.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from structlog.testing import capture_logs

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.pipeline.plan import Planner
from briefy.choreographer.pipeline.settle import DEAD_LETTER_HOLD
from briefy.choreographer.worker import Worker
from briefy.common.queue.message import SQSMessage
from tests.support import LEAD_DATA, TEST_SEAL, event
from tests.test_worker import Harness

#: Attributes a producer might set under the worker's prefix: malformed or well formed.
POISON = [
    {"choreographer.done": "{"},
    {"choreographer.done": "5"},
    {"choreographer.attempt": "x"},
    {"choreographer.attempt": "-" + "9" * 40},
    {"choreographer.state": '{"done": ["lead.created.mail"]}'},
    {"choreographer.state": "{", "choreographer.seal": "AAAA"},
]


def string_attributes(values: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


@pytest.fixture
def harness(app: Application) -> Harness:
    return Harness(app)


@pytest.mark.parametrize("poison", POISON, ids=[next(iter(p.items()))[1][:8] for p in POISON])
def test_a_poisoned_message_does_not_poison_its_batch(harness: Harness, poison: dict[str, str]) -> None:
    """Nine leads and one with bad internal attributes: all ten mailed once, all deleted, one warning."""
    leads = [event("lead.created", LEAD_DATA) for _ in range(10)]
    for number, lead in enumerate(leads):
        attributes = string_attributes(poison) if number == 4 else {}
        harness.send(lead, MessageAttributes=attributes) if attributes else harness.send(lead)
    with capture_logs() as logs:
        assert harness.worker.run_once() == 10
    mailed = sorted(body["guid"] for body in harness.bodies("mail.queue"))
    assert mailed == sorted(lead["guid"] for lead in leads)
    assert harness.counts() == (0, 0)
    assert harness.receive("dlq") == []
    [warning] = [line for line in logs if line["event"] == "retry_state_ignored"]
    assert warning["log_level"] == "warning" and warning["attributes"] == sorted(poison)


def test_forged_done_actions_do_not_skip_an_action(harness: Harness) -> None:
    """A fresh lead claiming its mail was sent already is mailed all the same."""
    lead = event("lead.created", LEAD_DATA)
    harness.send(lead, MessageAttributes=string_attributes({"choreographer.done": '["lead.created.mail"]'}))
    with capture_logs() as logs:
        harness.worker.run_once()
    assert [body["guid"] for body in harness.bodies("mail.queue")] == [lead["guid"]]
    assert "action_skipped" not in [line["event"] for line in logs]


def test_a_forged_attempt_count_does_not_dead_letter(harness: Harness) -> None:
    """A fresh event claiming 99 earlier attempts is run as a first attempt."""
    harness.send(
        event("lead.created", LEAD_DATA), MessageAttributes=string_attributes({"choreographer.attempt": "99"})
    )
    harness.worker.run_once()
    assert harness.receive("dlq") == []
    assert len(harness.bodies("mail.queue")) == 1


def test_a_forged_event_id_does_not_choose_the_output_ids(harness: Harness) -> None:
    """An event without an id gets the one derived from its own message, not the one it names."""
    lead = event("lead.created", LEAD_DATA)
    del lead["id"]
    chosen = str(uuid.uuid4())
    harness.send(lead, MessageAttributes=string_attributes({"choreographer.event_id": chosen}))
    harness.worker.run_once()
    [mail] = harness.receive("mail.queue")
    assert mail["MessageAttributes"]["event_id"]["StringValue"] != chosen


def test_sealed_state_is_trusted(harness: Harness) -> None:
    """The worker's own sealed state still skips what is done (a genuine retry)."""
    from briefy.choreographer.pipeline.state import RetryState

    body = json.dumps(event("lead.created", LEAD_DATA))
    sealed = TEST_SEAL.attributes(RetryState(("lead.created.mail",), 1, ""), body)
    harness.send(body, MessageAttributes=string_attributes(sealed))
    with capture_logs() as logs:
        harness.worker.run_once()
    assert harness.receive("mail.queue") == []
    assert "action_skipped" in [line["event"] for line in logs]


def test_ids_sqs_would_refuse_are_cleaned_in_attributes(harness: Harness) -> None:
    """Control characters in id and request_id stay in the body; the attributes carry U+FFFD."""
    lead = event("lead.created", LEAD_DATA, id="e\u0001vil", request_id="r\u0001" + "x" * 400)
    harness.send(lead)
    harness.worker.run_once()
    [mail] = harness.receive("mail.queue")
    attributes = {name: value["StringValue"] for name, value in mail["MessageAttributes"].items()}
    assert attributes["event_id"] == "e\ufffdvil"
    assert attributes["request_id"].startswith("r\ufffdx") and len(attributes["request_id"]) == 256
    assert json.loads(mail["Body"])["request_id"] == lead["request_id"]


@pytest.mark.parametrize("number", [2**64 + 1, -(2**63) - 1, 10**40])
def test_integers_beyond_64_bits_reach_the_output_exactly(harness: Harness, number: int) -> None:
    """A lead whose category is a number beyond 64 bits is mailed with that very number, not a float."""
    harness.send(json.dumps(event("lead.created", {**LEAD_DATA, "category": number})))
    harness.worker.run_once()
    [mail] = harness.receive("mail.queue")
    assert json.loads(mail["Body"])["data"]["CATEGORY"] == number
    assert f'"CATEGORY":{number}' in mail["Body"]


class BrokenPlanner(Planner):
    """A planner with a bug on one particular message (a stand-in for any bug of ours)."""

    def _plan(self, job: Any) -> None:
        if "boom" in job.message.body:
            raise RuntimeError("a bug")
        super()._plan(job)


def test_a_bug_planning_one_message_is_that_messages_alone(app: Application) -> None:
    """The other messages of the batch settle; the one hit by the bug is dead-lettered with a reason."""
    harness = Harness(app)
    worker = harness.worker
    worker.planner = BrokenPlanner(
        app.registry,
        app.queues,
        worker.seal,
        worker.memory,
        worker.max_attempts,
        worker.listener,
        data_schemas=app.site.data_schemas,
    )
    harness.send(event("lead.created", LEAD_DATA))
    harness.send(event("lead.created", {**LEAD_DATA, "note": "boom"}))
    with capture_logs() as logs:
        assert worker.run_once() == 2
    assert len(harness.bodies("mail.queue")) == 1
    [letter] = harness.receive("dlq")
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == "internal_error"
    assert "plan_failed" in [line["event"] for line in logs]


def test_a_message_whose_attributes_cannot_be_read_is_dead_lettered(app: Application) -> None:
    """Attributes of a shape no SQS message has (not text): invalid_attributes, with the reason."""
    worker = Worker(app)
    odd: dict[str, Any] = {"choreographer.state": 5, "choreographer.seal": 6}
    job = worker.job(SQSMessage("m-1", "r", "{}", {}, odd))
    assert job.bad is not None and job.bad.error_type == "invalid_attributes"
    assert "attributes" in job.bad.message


def test_with_the_dead_letter_queue_gone_bad_input_is_kept_loudly(harness: Harness) -> None:
    """The DLQ deleted while running: the message stays on the events queue, held, with an ERROR line."""
    harness.client.delete_queue(QueueUrl=harness.urls["dlq"])
    harness.send("{not json")
    with capture_logs() as logs:
        harness.worker.run_once()
    [line] = [line for line in logs if line["event"] == "dead_letter_failed"]
    assert line["log_level"] == "error" and line["held_for"] == DEAD_LETTER_HOLD
    assert line["error"] in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
    assert harness.counts() == (0, 1)


def test_a_letter_too_big_for_the_dead_letter_queue_keeps_its_message(app: Application) -> None:
    """Too small a DLQ is reported at start-up; a letter it cannot take keeps its message, held."""
    dlq = app.dead_letters
    assert dlq is not None
    app.client.set_queue_attributes(QueueUrl=dlq.url, Attributes={"MaximumMessageSize": "1024"})
    dlq.refresh_attributes()
    with capture_logs() as logs:
        harness = Harness(app)
        harness.send("{" + "x" * 2000)
        harness.worker.run_once()
    events = [line["event"] for line in logs]
    assert "dead_letter_queue_too_small" in events
    [line] = [line for line in logs if line["event"] == "dead_letter_failed"]
    assert line["error"] == "too_big" and line["held_for"] == DEAD_LETTER_HOLD
    assert harness.counts() == (0, 1)
    assert harness.receive("dlq") == []
