"""Output idempotency: every output carries a deterministic id consumers can deduplicate on."""

from __future__ import annotations

import json

import pytest

from briefy.choreographer.actions import output_id
from tests.e2e.delivery_support import DeliveryQueues, pair_queues, worker_env
from tests.support import LEAD_DATA, MotoServer, WorkerProcess, attributes, event, running

pytestmark = pytest.mark.e2e
__all__ = ["pair_queues"]  # fixtures


def test_an_event_run_twice_gives_outputs_with_one_output_id(
    moto_server: MotoServer, pair_queues: DeliveryQueues
) -> None:
    """The same event received twice gives two outputs carrying the same id, in body and attribute."""
    message = event("lead.created", LEAD_DATA)
    with running(WorkerProcess(worker_env(moto_server.url, pair_queues))):
        pair_queues.send(message)
        pair_queues.send(message)
        outputs = pair_queues.collect("mail", expected=2)
    expected = output_id(message["id"], "lead.created.mail")
    assert [json.loads(m["Body"])["output_id"] for m in outputs] == [expected, expected]
    assert [attributes(m)["output_id"] for m in outputs] == [expected, expected]


def test_on_a_fifo_output_queue_the_output_id_deduplicates(moto_server: MotoServer) -> None:
    """On FIFO queues the output id is the MessageDeduplicationId: an event run twice gives one output."""
    queues = DeliveryQueues(moto_server.client(), fifo=True)
    queues.create(visibility_timeout=5)
    message = event("lead.created", LEAD_DATA)
    with running(WorkerProcess(worker_env(moto_server.url, queues))) as worker:
        queues.send(message)
        queues.send(message)
        worker.wait_for("action_sent", count=2)
        queues.wait_empty("events")
        outputs = queues.collect("mail", expected=1)
    [out] = outputs
    assert out["Attributes"]["MessageDeduplicationId"] == output_id(message["id"], "lead.created.mail")
    assert out["Attributes"]["MessageGroupId"] == message["guid"]
