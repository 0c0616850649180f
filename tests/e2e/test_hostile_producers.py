"""Hostile producers against the real worker process: no message stalls, poisons or steers it.

Each test is a case a producer tried on the first version (see the CHANGELOG),
with the outcome now promised. The worker runs in production mode, as deployed.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.delivery_support import DeliveryQueues, worker_env
from tests.faultproxy import FaultProxy
from tests.support import (
    LEAD_DATA,
    MotoServer,
    WorkerProcess,
    attributes,
    event,
    free_port,
    http_get,
    running,
)

pytestmark = pytest.mark.e2e

PRODUCTION = {"CHOREOGRAPHER_MODE": "production"}


def string_attributes(values: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


@pytest.fixture
def queues(moto_server: MotoServer) -> DeliveryQueues:
    """The reference queues; the events queue dead-letters after 2 receives, as a quiet queue
    with a strict redrive policy would: a batch that does not settle is moved reasonless."""
    created = DeliveryQueues(moto_server.client())
    created.create(visibility_timeout=2)
    created.redrive(max_receive_count=2)
    return created


def send_batch(
    queues: DeliveryQueues, bodies: list[dict[str, Any]], poisoned: dict[int, dict[str, str]]
) -> None:
    entries = [
        {"Id": str(i), "MessageBody": json.dumps(body), "MessageAttributes": string_attributes(poisoned[i])}
        if i in poisoned
        else {"Id": str(i), "MessageBody": json.dumps(body)}
        for i, body in enumerate(bodies)
    ]
    response = queues.client.send_message_batch(QueueUrl=queues.urls["events"], Entries=entries)
    assert not response.get("Failed"), response["Failed"]


@pytest.mark.parametrize(
    "poison",
    [
        {"choreographer.done": "{"},
        {"choreographer.done": "5"},
        {"choreographer.attempt": "x"},
        {"choreographer.attempt": "-" + "9" * 40},
    ],
    ids=["done_brace", "done_number", "attempt_text", "attempt_huge"],
)
def test_a_malformed_internal_attribute_does_not_poison_its_batch(
    moto_server: MotoServer, queues: DeliveryQueues, poison: dict[str, str]
) -> None:
    """Ten leads in one batch, one with a malformed internal attribute: ten mails, once each, and
    nothing dead-lettered (the attribute is ignored with a warning)."""
    leads = [event("lead.created", LEAD_DATA) for _ in range(10)]
    with running(WorkerProcess({**worker_env(moto_server.url, queues), **PRODUCTION})) as worker:
        send_batch(queues, leads, {4: poison})
        mails = queues.collect("mail", expected=10)
        queues.wait_empty("events")
        assert worker.stop() == 0
    assert sorted(json.loads(mail["Body"])["guid"] for mail in mails) == sorted(
        lead["guid"] for lead in leads
    )
    assert queues.drain("dlq") == []
    [warning] = worker.find("retry_state_ignored")
    assert warning["level"] == "warning" and warning["reason"] == "unsealed"
    assert worker.find("pipeline_error") == []


def test_a_producer_cannot_steer_the_worker(moto_server: MotoServer, queues: DeliveryQueues) -> None:
    """Claimed actions done, claimed attempts and a chosen event id change nothing: each lead is mailed,
    none is dead-lettered, and output ids are the worker's own."""
    skipping, exhausted, chosen = (event("lead.created", LEAD_DATA) for _ in range(3))
    del chosen["id"]
    forged_id = str(uuid.uuid4())
    with running(WorkerProcess({**worker_env(moto_server.url, queues), **PRODUCTION})) as worker:
        send_batch(
            queues,
            [skipping, exhausted, chosen],
            {
                0: {"choreographer.done": '["lead.created.mail"]'},
                1: {"choreographer.attempt": "99"},
                2: {"choreographer.event_id": forged_id},
            },
        )
        mails = queues.collect("mail", expected=3)
        assert worker.stop() == 0
    assert sorted(json.loads(m["Body"])["guid"] for m in mails) == sorted(
        lead["guid"] for lead in (skipping, exhausted, chosen)
    )
    assert forged_id not in {attributes(m)["event_id"] for m in mails}
    assert queues.drain("dlq") == []
    assert worker.find("action_skipped") == []


def test_ids_with_characters_sqs_refuses_still_reach_their_queues(moto_server: MotoServer) -> None:
    """A control character in id and request_id is valid JSON: the mail goes out all the same, its
    attributes cleaned, against an SQS that refuses such attributes (emulated by the proxy)."""
    with FaultProxy(moto_server.url) as proxy:
        proxy.check_text = True
        queues = DeliveryQueues(moto_server.client())
        queues.create()
        lead = event("lead.created", LEAD_DATA, id="e\u0001vil", request_id="r\u0001")
        # The emulation refuses what SQS refuses: a raw control character in an attribute.
        with pytest.raises(ClientError, match="InvalidParameterValue"):
            proxy_client(proxy).send_message(
                QueueUrl=queues.urls["events"],
                MessageBody="{}",
                MessageAttributes=string_attributes({"x": "a\u0001"}),
            )
        with running(WorkerProcess({**worker_env(proxy.url, queues), **PRODUCTION})) as worker:
            queues.send(lead)
            [mail] = queues.collect("mail", expected=1)
            assert worker.stop() == 0
    assert attributes(mail)["event_id"] == "e\ufffdvil"
    assert attributes(mail)["request_id"] == "r\ufffd"
    assert json.loads(mail["Body"])["request_id"] == "r\u0001"
    assert queues.drain("dlq") == []


def proxy_client(proxy: FaultProxy) -> Any:
    """A client that talks to SQS through the proxy (no retries: a refusal is seen at once)."""
    return boto3.client(
        "sqs",
        endpoint_url=proxy.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_a_deleted_dead_letter_queue_keeps_bad_input_loudly(moto_server: MotoServer) -> None:
    """The DLQ deleted while the worker runs: bad input stays on the events queue, held, with an
    ERROR line naming the queue; nothing is lost and the worker runs on."""
    queues = DeliveryQueues(moto_server.client())
    queues.create()
    with running(WorkerProcess({**worker_env(moto_server.url, queues), **PRODUCTION})) as worker:
        queues.client.delete_queue(QueueUrl=queues.urls["dlq"])
        queues.send("{not json")
        [line] = worker.wait_for("dead_letter_failed")
        lead = event("lead.created", LEAD_DATA)
        queues.send(lead)
        [mail] = queues.collect("mail", expected=1)
        assert worker.stop() == 0
    assert line["level"] == "error" and line["transient"] is False and line["held_for"] == 43_200
    assert line["dead_letter_queue"] == queues.names["dlq"]
    assert json.loads(mail["Body"])["guid"] == lead["guid"]
    assert queues.counts("events") == (0, 1)  # kept, invisible, not deleted


def test_a_dead_letter_queue_too_small_is_reported_and_keeps_what_it_cannot_take(
    moto_server: MotoServer,
) -> None:
    """A DLQ taking smaller messages than the events queue: an ERROR at start-up; a letter too big for it
    keeps its message on the events queue, held, with an ERROR line."""
    queues = DeliveryQueues(moto_server.client())
    queues.create()
    queues.client.set_queue_attributes(QueueUrl=queues.urls["dlq"], Attributes={"MaximumMessageSize": "1024"})
    with running(WorkerProcess({**worker_env(moto_server.url, queues), **PRODUCTION})) as worker:
        [startup] = worker.find("dead_letter_queue_too_small")
        queues.send("{" + "x" * 5000)
        [line] = worker.wait_for("dead_letter_failed")
        assert worker.stop() == 0
    assert startup["level"] == "error" and startup["dead_letter_max_bytes"] == 1024
    assert line["error"] == "too_big"
    assert queues.counts("events") == (0, 1)


def threads_of(worker: WorkerProcess) -> int:
    assert worker.process is not None
    with open(f"/proc/{worker.process.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


@pytest.fixture
def half_sent() -> Iterator[list[socket.socket]]:
    """Sockets the test opens, closed after it."""
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def test_the_metrics_port_cannot_be_exhausted(
    moto_server: MotoServer, queues: DeliveryQueues, half_sent: list[socket.socket]
) -> None:
    """300 connections that never finish a request add no thread to the worker; events are still
    choreographed, and a probe is answered once the idle connections are closed (5 s)."""
    port = free_port()
    env = {**worker_env(moto_server.url, queues), **PRODUCTION, "CHOREOGRAPHER_METRICS_PORT": str(port)}
    with running(WorkerProcess(env)) as worker:
        assert http_get(f"http://127.0.0.1:{port}/health/live")[0] == 200
        before = threads_of(worker)
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
            half_sent.append(sock)
        queues.send(event("lead.created", LEAD_DATA))
        assert len(queues.collect("mail", expected=1)) == 1
        assert threads_of(worker) <= before + 1
        status, body = http_get(f"http://127.0.0.1:{port}/health/live", timeout=30)
        assert status == 200, body
        assert worker.stop() == 0
