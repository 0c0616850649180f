"""Injected SQS failures against the real worker: retries, backoff, partial success, attempt limit."""

from __future__ import annotations

import json

import pytest

from tests.e2e.delivery_support import DeliveryQueues, pair_queues, proxy, worker_env
from tests.faultproxy import FaultProxy
from tests.support import LEAD_DATA, MotoServer, WorkerProcess, attributes, event, running

pytestmark = pytest.mark.e2e
__all__ = ["pair_queues", "proxy"]  # fixtures


def on(queues: DeliveryQueues, key: str) -> str:
    """A proxy ``match`` for calls to one queue (its URL ends the JSON ``QueueUrl``)."""
    return f'/{queues.names[key]}"'


def test_transient_send_failures_are_retried_with_backoff(
    proxy: FaultProxy, pair_queues: DeliveryQueues
) -> None:
    """Throttling, a 5xx and a dropped connection leave the event in place; retries back off, then succeed."""
    for how in ("throttle", "503", "drop"):
        proxy.fail("SendMessageBatch", how=how, match=on(pair_queues, "mail"))
    message = event("lead.created", LEAD_DATA)
    env = worker_env(proxy.url, pair_queues, CHOREOGRAPHER_BACKOFF_BASE="1", CHOREOGRAPHER_BACKOFF_MAX="4")
    with running(WorkerProcess(env)) as worker:
        pair_queues.send(message)
        [out] = pair_queues.collect("mail", expected=1)
        pair_queues.wait_empty("events")
    retries = worker.find("event_retry")
    assert [line["attempt"] for line in retries] == [1, 2, 3]
    for line in retries:
        ceiling = 2 ** (line["attempt"] - 1)
        assert round(ceiling / 2) <= line["retry_in"] <= ceiling
    assert [line["error"] for line in worker.find("action_failed")] == [
        "ThrottlingException",
        "ServiceUnavailable",
        "ConnectionClosedError",
    ]
    assert proxy.calls["ChangeMessageVisibilityBatch"] >= 3
    assert attributes(out)["event_id"] == message["id"]
    assert pair_queues.drain("dlq") == []


def test_exhausted_attempts_go_to_the_dlq_with_the_last_error(
    proxy: FaultProxy, pair_queues: DeliveryQueues
) -> None:
    """When every attempt fails, the event is dead-lettered after CHOREOGRAPHER_MAX_ATTEMPTS of them."""
    proxy.fail("SendMessageBatch", how="500", times=None, match=on(pair_queues, "mail"))
    message = json.dumps(event("lead.created", LEAD_DATA))
    env = worker_env(proxy.url, pair_queues, CHOREOGRAPHER_MAX_ATTEMPTS="3")
    with running(WorkerProcess(env)):
        pair_queues.send(message)
        [letter] = pair_queues.collect("dlq", expected=1)
        pair_queues.wait_empty("events")
    found = attributes(letter)
    assert letter["Body"] == message
    assert found["error_type"] == "attempts_exhausted"
    assert found["receive_count"] == "3"
    assert "InternalError" in found["error_message"]
    assert pair_queues.drain("mail") == []


def test_the_worker_dead_letters_before_the_redrive_policy_would(
    proxy: FaultProxy, pair_queues: DeliveryQueues
) -> None:
    """With maxReceiveCount 3 the worker makes 2 attempts and dead-letters with its reason, not SQS."""
    pair_queues.redrive(max_receive_count=3)
    proxy.fail("SendMessageBatch", how="503", times=None, match=on(pair_queues, "mail"))
    env = worker_env(proxy.url, pair_queues, CHOREOGRAPHER_MAX_ATTEMPTS="8")
    with running(WorkerProcess(env)) as worker:
        pair_queues.send(event("lead.created", LEAD_DATA))
        [letter] = pair_queues.collect("dlq", expected=1)
        pair_queues.wait_empty("events")
    [limit] = worker.find("attempt_limit")
    assert (limit["max_attempts"], limit["max_receive_count"], limit["lowered"]) == (2, 3, True)
    assert attributes(letter)["error_type"] == "attempts_exhausted"
    assert attributes(letter)["receive_count"] == "2"


def test_a_permanent_send_failure_is_dead_lettered(proxy: FaultProxy, pair_queues: DeliveryQueues) -> None:
    """An output queue that refuses a message for good sends the event to the DLQ at once."""
    proxy.fail("SendMessageBatch", how="reject", match=on(pair_queues, "mail"))
    with running(WorkerProcess(worker_env(proxy.url, pair_queues))):
        pair_queues.send(event("lead.created", LEAD_DATA))
        [letter] = pair_queues.collect("dlq", expected=1)
    assert attributes(letter)["error_type"] == "output_rejected"
    assert "InvalidParameterValue" in attributes(letter)["error_message"]
    assert attributes(letter)["receive_count"] == "1"


def test_a_retry_sends_only_the_failed_action(proxy: FaultProxy, pair_queues: DeliveryQueues) -> None:
    """When one of two actions fails, the retry sends that one only: each output exists once."""
    proxy.fail("SendMessageBatch", how="503", match=on(pair_queues, "second"))
    message = event("pair.created", {"name": "left"})
    with running(WorkerProcess(worker_env(proxy.url, pair_queues))) as worker:
        pair_queues.send(message)
        firsts = pair_queues.collect("first", expected=1)
        seconds = pair_queues.collect("second", expected=1)
        pair_queues.wait_empty("events")
    assert len(firsts) == 1 and len(seconds) == 1
    [retry] = worker.find("event_retry")
    assert retry["remaining"] == ["pair.created.second"] and retry["envelope"] is True
    assert [line["action"] for line in worker.find("action_skipped")] == ["pair.created.first"]
    assert {attributes(m)["event_id"] for m in firsts + seconds} == {message["id"]}


def test_receive_failures_are_logged_backed_off_and_survived(
    proxy: FaultProxy, pair_queues: DeliveryQueues
) -> None:
    """Failing receives are logged with exponential backoff; the worker recovers and goes on."""
    env = worker_env(proxy.url, pair_queues, CHOREOGRAPHER_CONCURRENCY="1")
    with running(WorkerProcess(env)) as worker:
        proxy.fail("ReceiveMessage", how="503", times=4)
        proxy.wait_for("ReceiveMessage", count=4, injected=True)
        pair_queues.send(event("lead.created", LEAD_DATA))
        pair_queues.collect("mail", expected=1)
        worker.wait_for("receive_recovered")
    failures = worker.find("receive_failed")
    assert [line["failures"] for line in failures] == [1, 2, 3, 4]
    for line in failures:
        ceiling = min(1.0, 0.2 * 2 ** (line["failures"] - 1))
        assert max(0.1, ceiling / 2) <= line["retry_in"] <= ceiling
    assert worker.process is not None and worker.process.returncode == 0


def test_a_failed_delete_does_not_send_the_outputs_again(proxy: FaultProxy, moto_server: MotoServer) -> None:
    """When deleting a done event fails, it comes back and is only deleted: no duplicate output."""
    queues = DeliveryQueues(moto_server.client())
    queues.create(visibility_timeout=2)
    proxy.fail("DeleteMessageBatch", how="503")
    with running(WorkerProcess(worker_env(proxy.url, queues))) as worker:
        queues.send(event("lead.created", LEAD_DATA))
        worker.wait_for("event_already_settled")
        queues.wait_empty("events")
        outputs = queues.collect("mail", expected=1)
    assert len(outputs) == 1
    assert len(worker.find("delete_failed")) == 1
