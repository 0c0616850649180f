"""A corpus of bad (and borderline) input against the real worker, with each one's outcome.

Bad input is dead-lettered at once, body intact, reason in attributes; unknown
events are logged and deleted; borderline but valid input is choreographed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from briefy.choreographer.logging import MAX_ID
from tests.e2e.delivery_support import DeliveryQueues, worker_env
from tests.support import LEAD_DATA, MAIL_DATA, MotoServer, WorkerProcess, attributes, event

pytestmark = pytest.mark.e2e

#: The queues' MaximumMessageSize in this test: SQS's classic (and default before 2025) limit.
LIMIT = 262_144
#: Large bodies: near that limit, with room for the rest of the event.
LARGE = 250_000


def lead(changes: dict[str, Any] | None = None, **fields: Any) -> str:
    """A lead.created body: its data with ``changes``, its fields with ``fields``."""
    message = event("lead.created", {**LEAD_DATA, **(changes or {})})
    message.update(fields)
    return json.dumps(message)


def without(name: str, **fields: Any) -> str:
    """A lead.created body without the field ``name``."""
    message = json.loads(lead(**fields))
    del message[name]
    return json.dumps(message)


def nested(depth: int) -> str:
    """A lead whose data holds objects nested ``depth`` deep (built as text: too deep for json)."""
    tree = '{"down": ' * depth + '"bottom"' + "}" * depth
    return lead({"tree": "TREE"}).replace('"TREE"', tree)


@dataclass(frozen=True)
class Case:
    """A corpus entry: its body and outcome (``dlq:<error_type>``, ``deleted``, ``sent:<queue>``)."""

    name: str
    body: str
    outcome: str
    event_name: str = ""
    #: Too big for the DLQ with every attribute: the reason is logged in full, the letter trimmed.
    trimmed: bool = False
    #: Text the reason (``error_message``) must hold, if any.
    reason: str = ""


CORPUS = [
    Case("malformed_json", "{not json", "dlq:invalid_json"),
    Case("truncated_json", lead()[:-3], "dlq:invalid_json"),
    Case("lone_surrogate", '{"event_name": "\\ud800"}', "dlq:invalid_json"),
    Case("number_out_of_range", '{"event_name": "lead.created", "n": 1e400}', "dlq:invalid_json"),
    Case("too_deeply_nested", nested(2000), "dlq:invalid_json"),
    Case("large_malformed", "{" + "x" * (LIMIT - 100), "dlq:invalid_json", trimmed=True),
    Case("json_array", "[1, 2, 3]", "dlq:not_an_object"),
    Case("json_string", '"lead.created"', "dlq:not_an_object"),
    Case("json_null", "null", "dlq:not_an_object"),
    Case("missing_event_name", without("event_name"), "dlq:missing_field"),
    Case("missing_guid", without("guid"), "dlq:missing_field", "lead.created"),
    Case("missing_created_at", without("created_at"), "dlq:missing_field", "lead.created"),
    Case("missing_data", without("data"), "dlq:missing_field", "lead.created"),
    Case("null_guid", lead(guid=None), "dlq:missing_field", "lead.created"),
    Case("numeric_guid", lead(guid=42), "dlq:wrong_type", "lead.created"),
    Case("empty_event_name", lead(event_name=""), "dlq:wrong_type"),
    Case("event_name_list", lead(event_name=["lead.created"]), "dlq:wrong_type"),
    Case("data_is_a_list", lead(data=[1]), "dlq:wrong_type", "lead.created"),
    Case("request_id_number", lead(request_id=7), "dlq:wrong_type", "lead.created"),
    Case("created_at_number", lead(created_at=1_700_000_000), "dlq:wrong_type", "lead.created"),
    Case("invalid_date", lead(created_at="2026-13-45T99:00:00Z"), "dlq:invalid_datetime", "lead.created"),
    Case("date_without_time", lead(created_at="2026-11-28"), "dlq:invalid_datetime", "lead.created"),
    Case(
        "control_characters",
        without("guid", event_name="lead.\x00created\x1b"),
        "dlq:missing_field",
        "lead.\ufffdcreated\ufffd",
    ),
    Case("mail_without_email", lead({"email": ""}), "dlq:invalid_payload", "lead.created"),
    Case("mail_fullname_number", lead({"fullname": 12}), "dlq:invalid_payload", "lead.created"),
    Case(
        "notification_without_address",
        json.dumps(event("mail.sent", {**MAIL_DATA, "to_email": None})),
        "dlq:invalid_payload",
        "mail.sent",
    ),
    Case(
        "transform_breaks",
        json.dumps(event("pair.created", {"name": 7})),
        "dlq:transform_failed",
        "pair.created",
    ),
    # pair.created declares a data_schema: name required, size a whole number from 0.
    Case(
        "data_without_a_required_field",
        json.dumps(event("pair.created", {"size": 1})),
        "dlq:invalid_data",
        "pair.created",
        reason="data_schema of pair.created: data must contain ['name'] properties",
    ),
    Case(
        "data_below_its_minimum",
        json.dumps(event("pair.created", {"name": "p", "size": -1})),
        "dlq:invalid_data",
        "pair.created",
        reason="data.size must be bigger than or equal to 0",
    ),
    Case(
        "data_of_the_wrong_type",
        json.dumps(event("pair.created", {"name": "p", "size": "big"})),
        "dlq:invalid_data",
        "pair.created",
        reason="data.size must be integer",
    ),
    Case("payload_too_big", lead({"fullname": "F" * 140_000}), "dlq:output_rejected", "lead.created"),
    Case("unknown_event", json.dumps(event("order.shipped", {"order": 1})), "deleted"),
    Case("unknown_odd_name", json.dumps(event("Not A Dotted \u2603 Name", {})), "deleted"),
    Case("not_internal", lead({"internal": False}), "deleted"),
    Case("large_valid", lead({"notes": "n" * LARGE}), "sent:mail"),
    Case("nested_valid", nested(500), "sent:mail"),
    Case("naive_date", lead(created_at="2026-11-28T12:00:00"), "sent:mail"),
    Case("no_optional_fields", without("request_id", actor=None, id=None), "sent:mail"),
    # Hostile producers: text that made the old e-mail pattern take quadratic time on every
    # log line (49 s a line at 120 KB), numbers beyond 64 bits, names too long to log whole.
    Case("redos_guid", lead(guid="a" * 120_000 + "@"), "sent:mail"),
    Case("redos_unknown_event_name", json.dumps(event("a" * 100_000 + "@", {})), "deleted"),
    Case("redos_email_runs", lead({"notes": "a@" * 60_000 + "a." * 30_000}), "sent:mail"),
    Case("integer_beyond_64_bits", lead({"category": 2**64 + 1}), "sent:mail"),
    Case("negative_integer_beyond_64_bits", lead({"category": -(2**63) - 1}), "sent:mail"),
    Case("guid_with_control_characters", lead(guid="g\u0001\u001b"), "sent:mail"),
]


@dataclass
class Outcomes:
    """What became of each corpus message."""

    message_ids: dict[str, str] = field(default_factory=dict)
    letters: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    worker: WorkerProcess | None = None
    events_left: int = -1
    returncode: int | None = None


@pytest.fixture(scope="module")
def outcomes(moto_server: MotoServer) -> Outcomes:
    """Run the whole corpus through one worker process and collect the results."""
    queues = DeliveryQueues(moto_server.client())
    queues.create(visibility_timeout=10)
    for url in queues.urls.values():
        queues.client.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": str(LIMIT)})
    result = Outcomes()
    dead = sum(case.outcome.startswith("dlq:") for case in CORPUS)
    sent = sum(case.outcome.startswith("sent:") for case in CORPUS)
    worker = WorkerProcess(worker_env(moto_server.url, queues))
    result.worker = worker.start()
    try:
        for case in CORPUS:
            result.message_ids[case.name] = queues.send(case.body)
        letters = queues.collect("dlq", expected=dead)
        result.letters = {attributes(letter)["source_message_id"]: letter for letter in letters}
        for message in queues.collect("mail", expected=sent):
            result.outputs.setdefault(attributes(message)["event_id"], []).append(message)
        queues.wait_empty("events")
        result.events_left = queues.depth("events")
        result.returncode = worker.stop()
    finally:
        worker.kill()
    return result


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_corpus_outcome(outcomes: Outcomes, case: Case) -> None:
    """The message has its stated outcome, and the worker ran on and stopped cleanly."""
    message_id = outcomes.message_ids[case.name]
    letter = outcomes.letters.get(message_id)
    kind, _, detail = case.outcome.partition(":")
    if kind == "dlq":
        assert letter is not None, f"{case.name} was not dead-lettered"
        found = attributes(letter)
        assert letter["Body"] == case.body
        assert found["error_type"] == detail
        if case.trimmed:
            assert outcomes.worker is not None
            assert outcomes.worker.find("dead_letter_trimmed", lambda line: line["message_id"] == message_id)
            [logged] = outcomes.worker.find(
                "event_dead_lettered", lambda line: line["message_id"] == message_id
            )
            assert logged["error_type"] == detail and logged["reason"]
        else:
            assert found["error_message"] and found["worker"] and found["failed_at"]
            assert found["receive_count"] == "1"
            assert found.get("event_name", "") == case.event_name
            assert case.reason in found["error_message"]
    else:
        assert letter is None, f"{case.name} was dead-lettered: {attributes(letter)}"
    if kind == "deleted":
        event_id = json.loads(case.body)["id"]
        assert outcomes.outputs.get(event_id) is None
        assert outcomes.worker is not None
        [line] = outcomes.worker.find("event_dispatched", lambda line: line.get("event_id") == event_id)
        assert len(line["event_name"]) <= MAX_ID + 40  # a long name is cut in the log
    if kind == "sent":
        outputs = [
            output
            for outputs in outcomes.outputs.values()
            for output in outputs
            if attributes(output)["event_name"] == "lead.created"
            and json.loads(output["Body"])["guid"] == json.loads(case.body)["guid"]
        ]
        assert len(outputs) == 1
        # Exact data: a number beyond 64 bits reaches the mail unchanged.
        assert json.loads(outputs[0]["Body"])["data"]["CATEGORY"] == json.loads(case.body)["data"]["category"]
    assert outcomes.events_left == 0
    assert outcomes.returncode == 0
