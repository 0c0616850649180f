"""FIFO input: order within message groups, against the real worker."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.delivery_support import DeliveryQueues, proxy, worker_env
from tests.faultproxy import FaultProxy
from tests.support import LEAD_DATA, MotoServer, WorkerProcess, attributes, event, running

pytestmark = pytest.mark.e2e
__all__ = ["proxy"]  # fixtures


@pytest.fixture
def fifo_queues(moto_server: MotoServer) -> DeliveryQueues:
    """FIFO events, output and dead-letter queues."""
    queues = DeliveryQueues(moto_server.client(), fifo=True)
    queues.create(visibility_timeout=5)
    return queues


def group_events(count: int) -> list[dict[str, Any]]:
    """Events about one object: one guid, so their outputs share a FIFO group too."""
    guid = str(uuid.uuid4())
    return [event("lead.created", LEAD_DATA, guid=guid) for _ in range(count)]


def order(outputs: list[dict[str, Any]], group: list[dict[str, Any]]) -> list[str]:
    """The event ids of a group's outputs, in the order they came out."""
    return [
        attributes(m)["event_id"] for m in outputs if m["Attributes"]["MessageGroupId"] == group[0]["guid"]
    ]


def test_fifo_keeps_order_within_each_group(proxy: FaultProxy, fifo_queues: DeliveryQueues) -> None:
    """With two pipelines and interleaved groups, each group's outputs come out in send order."""
    groups = [group_events(6) for _ in range(3)]
    for round_ in zip(*groups, strict=True):
        for message in round_:
            fifo_queues.send(message, MessageGroupId=message["guid"])
    with running(WorkerProcess(worker_env(proxy.url, fifo_queues))):
        outputs = fifo_queues.collect("mail", expected=18)
    for group in groups:
        assert order(outputs, group) == [m["id"] for m in group]


def test_fifo_later_events_wait_for_an_earlier_failed_one(
    proxy: FaultProxy, fifo_queues: DeliveryQueues
) -> None:
    """When an event fails, the later events of its group wait for its retry: order holds."""
    group = group_events(4)
    proxy.fail("SendMessageBatch", how="503", times=2, match=group[0]["id"])
    for message in group:
        fifo_queues.send(message, MessageGroupId="objects")
    with running(WorkerProcess(worker_env(proxy.url, fifo_queues))) as worker:
        outputs = fifo_queues.collect("mail", expected=4)
        fifo_queues.wait_empty("events")
    assert order(outputs, group) == [m["id"] for m in group]
    assert [line["attempt"] for line in worker.find("event_retry")] == [1, 2]
    assert sum(line["count"] for line in worker.find("messages_released")) >= 2 * 3
    assert fifo_queues.drain("dlq") == []
