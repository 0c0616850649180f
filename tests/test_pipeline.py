"""The pipeline's parts on their own: decisions with no SQS at all, ordering, log lines, sizes."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs
from zope.component import adapter
from zope.interface import providedBy

from briefy.choreographer.actions import Action, ordered_actions
from briefy.choreographer.data.lead import LeadDTO
from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import parse_event
from briefy.choreographer.events.lead import ILeadCreated, LeadCreated
from briefy.choreographer.events.message import NAMESPACE, derived_id
from briefy.choreographer.events.outbox import Planned
from briefy.choreographer.pipeline.decide import DeadLetter, Done, Retry, RetryPolicy, decide
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.state import RetryState
from briefy.choreographer.worker import Worker
from briefy.common.queue.message import OutgoingMessage, SendResult, SQSMessage
from tests.support import LEAD_DATA, MAIL_DATA, event

#: A policy without jitter: the delay is the top of its range.
POLICY = RetryPolicy(max_attempts=3, base=2.0, cap=60, uniform=lambda low, high: high)


class Named:
    """An action stand-in: only what decisions read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue_name = f"{name}.queue"


def job(*results: SendResult, receive_count: int = 1, bad: BadInput | None = None) -> Job:
    """A job whose sends had ``results``, on its ``receive_count``-th delivery."""
    message = SQSMessage("m", "r", "{}", {"ApproximateReceiveCount": str(receive_count)})
    found = Job(message, bad=bad)
    for number, result in enumerate(results):
        found.results.append((Planned(Named(f"a{number}"), "handler", True), result))
    return found


SENT = SendResult(OutgoingMessage("{}"), "sent-id")
THROTTLED = SendResult(OutgoingMessage("{}"), None, "Throttling", "slow down", transient=True)
REFUSED = SendResult(OutgoingMessage("{}"), None, "InvalidMessageContents", "no", transient=False)


def test_a_job_whose_sends_all_succeeded_is_done() -> None:
    """Every send accepted (or none to make): done."""
    assert decide(job(SENT, SENT), POLICY) == Done()
    assert decide(job(), POLICY) == Done()


def test_bad_input_is_dead_lettered_with_its_reason() -> None:
    """A job marked bad is dead-lettered with its error type and message."""
    assert decide(job(bad=BadInput("missing_field", "no guid")), POLICY) == DeadLetter(
        "missing_field", "no guid"
    )


def test_a_permanent_refusal_is_dead_lettered_as_output_rejected() -> None:
    """One send refused for good dead-letters the event, naming the action and the error."""
    outcome = decide(job(SENT, REFUSED), POLICY)
    assert isinstance(outcome, DeadLetter) and outcome.error_type == "output_rejected"
    assert outcome.reason.startswith("a1: a1.queue rejected the payload: InvalidMessageContents")


def test_a_passing_failure_is_retried_after_an_exponential_delay() -> None:
    """Throttled sends: retry the ones that failed, the delay doubling with each attempt."""
    assert decide(job(SENT, THROTTLED, receive_count=1), POLICY) == Retry(2, ("a1",))
    assert decide(job(THROTTLED, receive_count=2), POLICY) == Retry(4, ("a0",))


def test_attempts_run_out_into_the_dead_letter_queue() -> None:
    """At the attempt limit a passing failure is dead-lettered, with the last error."""
    outcome = decide(job(THROTTLED, receive_count=3), POLICY)
    assert outcome == DeadLetter("attempts_exhausted", "gave up after 3 attempts; last error: a0: Throttling")


def test_attempts_of_earlier_envelopes_count() -> None:
    """An envelope's sealed state adds the attempts already made to the receive count."""
    found = job(THROTTLED, receive_count=1)
    found.state = RetryState((), 2, "")
    assert decide(found, POLICY) == DeadLetter(
        "attempts_exhausted", "gave up after 3 attempts; last error: a0: Throttling"
    )


def test_delays_are_jittered_between_half_and_all_of_the_ceiling_and_capped() -> None:
    """The delay lies in [c/2, c], c = min(cap, base * 2**(attempt - 1))."""
    policy = RetryPolicy(8, 1.0, 60)
    for attempt, ceiling in [(1, 1), (3, 4), (7, 60), (20, 60)]:
        delays = [policy.delay(attempt) for _ in range(50)]
        assert all(round(ceiling / 2) <= d <= ceiling for d in delays)


def test_the_policy_stays_below_the_redrive_policy() -> None:
    """With maxReceiveCount 3 the worker makes 2 attempts, whatever the setting; none lowers nothing."""
    assert RetryPolicy.below(8, 3, 2.0, 900).max_attempts == 2
    assert RetryPolicy.below(8, None, 2.0, 900).max_attempts == 8


@adapter(LeadDTO, ILeadCreated)
class EarlyAction(Action):
    """A test action that runs before the reference one."""

    weight = 10
    _queue_name = "mail.queue"

    def transform(self) -> dict[str, Any]:
        return {}


def test_actions_are_ordered_by_weight_and_follow_registry_changes(registry: Any) -> None:
    """An action registered or removed after a lookup is seen by the next lookup, in weight order."""
    lead = LeadCreated(parse_event(orjson.dumps(event("lead.created", LEAD_DATA))))
    specs = (providedBy(LeadDTO(lead)), providedBy(lead))
    assert [name for name, _ in ordered_actions(registry, *specs)] == ["lead.created.mail"]
    registry.registerAdapter(EarlyAction, name="lead.created.early")
    assert [name for name, _ in ordered_actions(registry, *specs)] == [
        "lead.created.early",
        "lead.created.mail",
    ]
    registry.unregisterAdapter(EarlyAction, name="lead.created.early")
    assert [name for name, _ in ordered_actions(registry, *specs)] == ["lead.created.mail"]


def test_info_logging_is_a_line_per_event_and_per_action(app: Any) -> None:
    """A batch logs one INFO line per event and per action sent, and its summary at DEBUG."""
    worker = Worker(app)
    for message in (
        event("lead.created", LEAD_DATA),
        event("mail.sent", MAIL_DATA),
        event("lead.created", LEAD_DATA),
    ):
        app.client.send_message(QueueUrl=app.events.url, MessageBody=orjson.dumps(message).decode())
    with capture_logs() as logs:
        assert worker.run_once() == 3
    info = [line["event"] for line in logs if line["log_level"] == "info"]
    assert sorted(info) == ["action_sent"] * 3 + ["event_dispatched"] * 3
    [summary] = [line for line in logs if line["event"] == "batch_done"]
    assert summary["log_level"] == "debug" and summary["received"] == 3


@pytest.mark.parametrize(
    ("body", "attributes"),
    [
        ("{}", {}),
        ('{"a": "plain"}', {"event_id": "e1", "request_id": ""}),
        ('{"name": "Zoë 北京"}', {"action": "ünïcode", "empty": "", "emoji": "🎉"}),
    ],
)
def test_message_size_counts_utf8_bytes(body: str, attributes: dict[str, str]) -> None:
    """size() is the UTF-8 bytes of the body and of each sent attribute's name, value and type."""
    sent = {k: v for k, v in attributes.items() if v}
    expected = len(body.encode()) + sum(len((k + v + "String").encode()) for k, v in sent.items())
    assert OutgoingMessage(body, attributes).size() == expected


def test_a_derived_event_id_is_stable_across_attempts() -> None:
    """An event without an id gets str(uuid5(NAMESPACE, sqs_message_id)), kept when carried again."""
    message_id = str(uuid.uuid4())
    first = derived_id(message_id, "{}")
    assert first == str(uuid.uuid5(NAMESPACE, message_id))
    assert derived_id(first, "{}") == first


def test_each_job_records_how_it_was_settled(app: Any) -> None:
    """After a batch, each job says how it was settled: done, or dead-lettered with its type."""
    worker = Worker(app)
    for body in (orjson.dumps(event("lead.created", LEAD_DATA)).decode(), "{broken"):
        app.client.send_message(QueueUrl=app.events.url, MessageBody=body)
    messages = app.events.get_messages(10, 0)
    jobs = [worker.planner.job(message) for message in messages]
    worker._process(jobs)
    assert sorted((job.outcome, job.error_type) for job in jobs) == [
        ("dead_lettered", "invalid_json"),
        ("done", ""),
    ]


def test_every_line_about_an_event_carries_the_same_fields(app: Any) -> None:
    """The line logged while the event is dispatched and the line of its action name the event
    alike: its name, ids and trace."""
    worker = Worker(app)
    body = orjson.dumps(event("lead.created", LEAD_DATA)).decode()
    app.client.send_message(QueueUrl=app.events.url, MessageBody=body)
    with capture_logs(processors=[merge_contextvars]) as logs:
        assert worker.run_once() == 1
    fields = ("event_name", "event_id", "guid", "request_id", "trace_id")
    [dispatched] = [line for line in logs if line["event"] == "event_dispatched"]
    [sent] = [line for line in logs if line["event"] == "action_sent"]
    assert all(dispatched[key] for key in fields)
    assert {key: dispatched[key] for key in fields} == {key: sent[key] for key in fields}
