"""Delivery bookkeeping and the worker's retries, on moto's mock (see docs/delivery.rst)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import orjson
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from structlog.testing import capture_logs

from briefy.choreographer.bootstrap import Application
from briefy.choreographer.pipeline.deadletter import fit, letter
from briefy.choreographer.pipeline.decide import RetryPolicy
from briefy.choreographer.pipeline.fifo import rounds
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.memory import DoneMemory
from briefy.choreographer.pipeline.retry import attempt_limit, explain_limit
from briefy.choreographer.pipeline.state import STATE, RetryState
from briefy.choreographer.worker import Worker
from briefy.common.errors import is_transient
from briefy.common.queue.message import SQSMessage, sqs_text
from tests.faults import Faults, failure, to_queue
from tests.pairs import Pairs, pair, pairs_settings
from tests.support import LEAD_DATA, TEST_SEAL, event, with_settings

FIRST = "pair.created.first"
SECOND = "pair.created.second"


# -- bookkeeping ----------------------------------------------------------------
def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    """Retry delays lie in [c/2, c] where c doubles per attempt, and never pass the cap."""
    random.seed(3)
    for attempt in range(1, 12):
        ceiling = min(60.0, 1.0 * 2 ** (attempt - 1))
        delays = [RetryPolicy(8, 1.0, 60).delay(attempt) for _ in range(50)]
        assert all(round(ceiling / 2) <= d <= round(ceiling) for d in delays)


def test_attempt_limit_stays_below_the_redrive_policy() -> None:
    """The worker's limit is the setting, lowered so it dead-letters before SQS's redrive would."""
    assert attempt_limit(8, None) == 8
    assert attempt_limit(8, 13) == 8
    assert attempt_limit(8, 5) == 4
    assert attempt_limit(8, 1) == 1


def test_the_attempt_limit_is_said_in_words_with_where_it_comes_from() -> None:
    """The start-up line says how many attempts an event gets and whether the setting or the
    events queue's maxReceiveCount decided it."""
    source, words = explain_limit(8, 13)
    assert source == "CHOREOGRAPHER_MAX_ATTEMPTS"
    assert words.startswith("each event gets 8 attempts (CHOREOGRAPHER_MAX_ATTEMPTS), then the worker")
    assert "only after 13 receives" in words
    assert "no redrive policy" in explain_limit(8, None)[1]
    source, words = explain_limit(8, 3)
    assert source == "redrive_policy"
    assert words.startswith("each event gets 2 attempts, not the 8 CHOREOGRAPHER_MAX_ATTEMPTS asks for")
    assert "after 3 receives (its maxReceiveCount)" in words and "raise maxReceiveCount above 8" in words
    assert explain_limit(8, 2)[1].startswith("each event gets 1 attempt,")


def test_rounds_keep_group_order() -> None:
    """A FIFO batch splits into rounds holding the k-th message of each group, in order."""

    def job(group: str, n: int) -> Job:
        return Job(SQSMessage(f"{group}{n}", f"r{group}{n}", "{}", {"MessageGroupId": group}))

    jobs = [job("a", 1), job("b", 1), job("a", 2), job("a", 3), job("b", 2)]
    assert [[j.message.message_id for j in r] for r in rounds(jobs, fifo=True)] == [
        ["a1", "b1"],
        ["a2", "b2"],
        ["a3"],
    ]
    assert rounds(jobs, fifo=False) == [jobs]


def test_fit_keeps_the_body_and_sheds_attributes() -> None:
    """A dead letter too big for its queue keeps its body whole and gives up attribute bytes."""
    body = "x" * 1000
    written = letter(Job(SQSMessage("m", "r", body)), "invalid_json", "e" * 900, TEST_SEAL)
    fitted, dropped = fit(written, 1100)
    assert fitted.body == body
    assert fitted.size() <= 1100
    assert fitted.attributes["error_type"] == "invalid_json"
    assert dropped and "error_type" not in dropped
    assert fit(written, 10_000) == (written, [])


def test_attribute_values_lose_characters_sqs_refuses() -> None:
    """Text from a body that SQS would refuse in an attribute value is replaced, not sent."""
    written = letter(Job(SQSMessage("m", "r", "{}")), "wrong_type", "bad \x00 \ufffe value", TEST_SEAL)
    assert written.attributes["error_message"] == "bad \ufffd \ufffd value"
    assert sqs_text("ok\tline\nlé 💡") == "ok\tline\nlé 💡"


def test_done_memory_is_bounded() -> None:
    """The memory keeps the newest entries and tells done actions from settled messages."""
    memory = DoneMemory(size=2)
    memory.remember("a", [FIRST])
    assert memory.settle(SQSMessage("b", "rb", "{}")) == 1
    memory.remember("c", [SECOND])
    assert len(memory) == 2
    assert memory.recall("a") == ()
    assert memory.settled("b") and not memory.settled("c")
    assert memory.recall("c") == (SECOND,)


def test_undeleted_messages_are_offered_for_a_few_more_deletes() -> None:
    """A settled message whose delete failed is offered again until it failed more than ``most`` times."""
    memory = DoneMemory()
    undeleted = SQSMessage("m", "r", "{}")
    memory.settle(undeleted)
    assert memory.undeleted(most=2) == [undeleted]
    memory.settle(undeleted)
    memory.settle(undeleted)
    assert memory.undeleted(most=2) == []
    assert memory.settled("m")


def test_forgotten_messages_leave_the_memory() -> None:
    """Forgetting drops the named messages, done actions and undeleted alike, and keeps the rest."""
    memory = DoneMemory()
    memory.remember("a", [FIRST])
    memory.settle(SQSMessage("b", "rb", "{}"))
    memory.remember("c", [SECOND])
    memory.forget(["a", "b", "unknown"])
    assert (memory.recall("a"), memory.settled("b"), memory.recall("c")) == ((), False, (SECOND,))
    assert len(memory) == 1


# -- the worker: attempts -------------------------------------------------------------
def test_worker_lowers_its_attempt_limit_below_the_redrive_policy(pairs_client: Any) -> None:
    """With maxReceiveCount 3 and 8 attempts set, the worker makes 2 and says so at start."""
    settings = pairs_settings(max_attempts=8)
    with capture_logs() as logs:
        pairs = Pairs(pairs_client, settings)
        pairs.client.set_queue_attributes(
            QueueUrl=pairs.urls["events.queue"],
            Attributes={
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:events-dlq",
                        "maxReceiveCount": 3,
                    }
                )
            },
        )
        pairs.worker.events.refresh_attributes()
        worker = Worker(replace(pairs.app, site=replace(pairs.app.site, settings=settings)))
    assert worker.max_attempts == 2
    [entry] = [e for e in logs if e["event"] == "attempt_limit" and e["lowered"]]
    assert (entry["log_level"], entry["max_receive_count"], entry["setting"]) == ("warning", 3, 8)
    assert (entry["limit_from"], entry["detail"]) == explain_limit(8, 3)


def test_a_message_received_beyond_the_limit_is_dead_lettered_unrun(pairs: Pairs) -> None:
    """A message received more often than the limit (a crashing worker) goes to the DLQ, not run."""
    pairs.worker = Worker(with_settings(pairs.app, max_attempts=1))
    pairs.send(pair())
    pairs.worker.events.get_messages(10, 0)
    pairs.expire()
    pairs.worker.run_once()
    assert pairs.take("first.queue") == []
    [letter] = pairs.take("dlq")
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == "attempts_exhausted"


# -- the worker: partial success ----------------------------------------------------------
def test_partial_success_leaves_an_envelope_naming_what_is_done(pairs: Pairs) -> None:
    """When the second action fails, the event is replaced by an envelope naming the first."""
    Faults(pairs.client).fail("SendMessageBatch", how="throttle", when=to_queue("/second"))
    body = pair()
    pairs.send(body)
    pairs.worker.run_once()
    [envelope] = pairs.worker.events.get_messages(10, 0)
    reading = TEST_SEAL.read(envelope.message_attributes, envelope.body)
    assert reading.ignored == ""
    assert reading.state == RetryState((FIRST,), 1, body["id"])
    assert orjson.loads(envelope.message_attributes[STATE]) == {
        "done": [FIRST],
        "attempts": 1,
        "event_id": body["id"],
    }
    assert len(pairs.take("first.queue")) == 1
    assert pairs.take("second.queue") == []


def test_a_retry_sends_only_what_failed(pairs: Pairs) -> None:
    """The retry of a partly done event sends the failed action only: each output exists once."""
    Faults(pairs.client).fail("SendMessageBatch", how="5xx", when=to_queue("/second"))
    pairs.send(pair())
    pairs.worker.run_once()
    assert pairs.worker.run_once() == 1
    assert [json.loads(m["Body"])["step"] for m in pairs.take("first.queue")] == ["first"]
    assert [json.loads(m["Body"])["step"] for m in pairs.take("second.queue")] == ["second"]
    assert pairs.worker.run_once() == 0


def test_without_an_envelope_the_process_remembers_what_is_done(pairs: Pairs) -> None:
    """If the envelope cannot be stored, the retry this process receives still skips what is done."""
    faults = Faults(pairs.client)
    faults.fail("SendMessageBatch", how="5xx", when=to_queue("/second"))
    faults.fail("SendMessageBatch", how="5xx", when=to_queue("/events"))
    pairs.send(pair())
    with capture_logs() as logs:
        pairs.worker.run_once()
        pairs.worker.run_once()
    assert "retry_envelope_failed" in [e["event"] for e in logs]
    assert len(pairs.take("first.queue")) == 1
    assert len(pairs.take("second.queue")) == 1


def test_a_message_whose_delete_failed_is_only_deleted_when_it_returns(pairs: Pairs) -> None:
    """A done event whose delete failed is not run again when it comes back: no duplicate."""
    Faults(pairs.client).fail("DeleteMessageBatch", how="connection")
    pairs.send(pair())
    pairs.worker.run_once()
    pairs.expire()
    with capture_logs() as logs:
        assert pairs.worker.run_once() == 1
    assert "event_already_settled" in [e["event"] for e in logs]
    assert len(pairs.take("first.queue")) == 1
    assert len(pairs.take("second.queue")) == 1
    assert pairs.worker.run_once() == 0


def test_a_failed_dead_letter_write_keeps_the_message(pairs: Pairs) -> None:
    """Bad input whose DLQ write fails is not deleted: it is retried, then dead-lettered."""
    Faults(pairs.client).fail("SendMessageBatch", how="throttle", when=to_queue("/events-dlq"))
    pairs.send({"not": "an event"})
    with capture_logs() as logs:
        pairs.worker.run_once()
    assert "dead_letter_failed" in [e["event"] for e in logs]
    assert pairs.take("dlq") == []
    pairs.worker.run_once()
    [letter] = pairs.take("dlq")
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == "missing_field"


# -- the worker: FIFO -----------------------------------------------------------------
@pytest.fixture
def fifo_pairs(pairs_client: Any) -> Pairs:
    names = {
        "CHOREOGRAPHER_EVENTS_QUEUE": "events.fifo",
        "CHOREOGRAPHER_FIRST_QUEUE": "first.fifo",
        "CHOREOGRAPHER_SECOND_QUEUE": "second.fifo",
    }
    return Pairs(pairs_client, pairs_settings(queue_names=names))


def test_fifo_outputs_carry_their_output_id_as_deduplication_id(fifo_pairs: Pairs) -> None:
    """On a FIFO output queue the output id is the MessageDeduplicationId, the guid the group."""
    message = pair()
    fifo_pairs.send(message)
    fifo_pairs.worker.run_once()
    response = fifo_pairs.client.receive_message(
        QueueUrl=fifo_pairs.urls["first.queue"],
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    [out] = response["Messages"]
    assert out["Attributes"]["MessageDeduplicationId"] == json.loads(out["Body"])["output_id"]
    assert out["Attributes"]["MessageDeduplicationId"] == out["MessageAttributes"]["output_id"]["StringValue"]
    assert out["Attributes"]["MessageGroupId"] == message["guid"]


def test_fifo_retry_keeps_the_group_waiting_and_skips_what_is_done(fifo_pairs: Pairs) -> None:
    """On FIFO a failed event holds back its group's later events; its retry sends only what failed."""
    Faults(fifo_pairs.client).fail("SendMessageBatch", how="throttle", when=to_queue("/second.fifo"))
    first, later = pair(), pair()
    fifo_pairs.send(first)
    fifo_pairs.send(later)
    fifo_pairs.worker.run_once()
    assert [json.loads(m["Body"])["guid"] for m in fifo_pairs.take("first.queue")] == [first["guid"]]
    while fifo_pairs.worker.run_once():
        pass
    assert [json.loads(m["Body"])["guid"] for m in fifo_pairs.take("first.queue")] == [later["guid"]]
    assert [json.loads(m["Body"])["guid"] for m in fifo_pairs.take("second.queue")] == [
        first["guid"],
        later["guid"],
    ]


# -- the worker: lead events on the reference site --------------------------------------
def test_a_too_big_dead_letter_is_trimmed_not_lost(app: Application) -> None:
    """Bad input near the DLQ's size limit still reaches it whole, with fewer attributes."""
    dlq = app.dead_letters
    assert dlq is not None
    app.client.set_queue_attributes(QueueUrl=dlq.url, Attributes={"MaximumMessageSize": "2048"})
    dlq.refresh_attributes()
    worker = Worker(app)
    message = event("lead.created", {**LEAD_DATA, "notes": ""}, created_at="never")
    message["data"]["notes"] = "n" * (2000 - len(json.dumps(message)))
    body = json.dumps(message)
    app.client.send_message(QueueUrl=app.events.url, MessageBody=body)  # type: ignore[union-attr]
    with capture_logs() as logs:
        worker.run_once()
    assert "dead_letter_trimmed" in [e["event"] for e in logs]
    [letter] = app.client.receive_message(QueueUrl=dlq.url, MessageAttributeNames=["All"])["Messages"]
    assert letter["Body"] == body
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == "invalid_datetime"


def test_a_failed_delete_is_tried_again_with_the_next_batch(pairs: Pairs) -> None:
    """A delete that failed is retried along with the next batch's, so the event never comes back."""
    Faults(pairs.client).fail("DeleteMessageBatch", how="connection")
    pairs.send(pair())
    pairs.worker.run_once()
    pairs.send(pair())
    pairs.worker.run_once()
    pairs.expire()
    assert pairs.worker.run_once() == 0
    assert len(pairs.take("first.queue")) == 2


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ReadTimeoutError(endpoint_url="http://sqs"), True),
        (ConnectTimeoutError(endpoint_url="http://sqs"), True),
        (EndpointConnectionError(endpoint_url="http://sqs"), True),
        (ConnectionClosedError(endpoint_url="http://sqs"), True),
        (failure("throttle", "SendMessageBatch"), True),
        (failure("5xx", "SendMessageBatch"), True),
        (ClientError({"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPStatusCode": 429}}, "Op"), True),
        (failure("denied", "SendMessageBatch"), False),
        (ClientError({"Error": {"Code": "InvalidParameterValue"}}, "SendMessageBatch"), False),
        (ParamValidationError(report="Invalid length for parameter Entries"), False),
        (NoCredentialsError(), False),
    ],
)
def test_transient_failures_are_told_from_permanent_ones(error: Exception, transient: bool) -> None:
    """Throttling, 5xx, 429, timeouts and connection errors are retried; refusals are not."""
    assert is_transient(error) is transient
