"""Stopping the real worker mid-batch (SIGTERM, SIGINT, twice, SIGKILL), and slow work."""

from __future__ import annotations

import signal
import time

import pytest

from briefy.choreographer.cli.worker import SAME_STOP
from tests.e2e.delivery_support import DeliveryQueues, exit_code, proxy, until, worker_env
from tests.faultproxy import FaultProxy
from tests.support import LEAD_DATA, MotoServer, WorkerProcess, attributes, event, running

pytestmark = pytest.mark.e2e
__all__ = ["proxy"]  # fixtures


def fresh_queues(moto_server: MotoServer, visibility_timeout: int) -> DeliveryQueues:
    queues = DeliveryQueues(moto_server.client())
    queues.create(visibility_timeout=visibility_timeout)
    return queues


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_batch_finishes_the_batch_and_exits_0(
    proxy: FaultProxy, moto_server: MotoServer, signum: int
) -> None:
    """The events being worked on when the signal comes are finished; the rest stay queued, visible."""
    queues = fresh_queues(moto_server, visibility_timeout=30)
    proxy.delay("SendMessageBatch", seconds=2)
    messages = [event("lead.created", LEAD_DATA) for _ in range(25)]
    worker = WorkerProcess(worker_env(proxy.url, queues)).start()
    try:
        for message in messages:
            queues.send(message)
        proxy.wait_held()
        worker.send_signal(signum)
        assert exit_code(worker) == 0
    finally:
        worker.kill()
    dispatched = {line["event_id"] for line in worker.find("event_dispatched")}
    outputs = queues.drain("mail", expected=len(dispatched))
    assert dispatched and {attributes(m)["event_id"] for m in outputs} == dispatched
    assert len(outputs) == len(dispatched)
    assert queues.counts() == (len(messages) - len(dispatched), 0)
    assert worker.find("worker_stopped")


def held_receive(
    proxy: FaultProxy, moto_server: MotoServer, visibility_timeout: int
) -> tuple[DeliveryQueues, WorkerProcess]:
    """A worker whose receive holds 3 events, its answer held back by the proxy."""
    queues = fresh_queues(moto_server, visibility_timeout=visibility_timeout)
    # Held from the worker's first receive on: none may slip through with the events.
    proxy.fail("ReceiveMessage", how="hold_deliveries", times=None, seconds=60)
    worker = WorkerProcess(worker_env(proxy.url, queues, CHOREOGRAPHER_CONCURRENCY="1")).start()
    try:
        queues.send_batch([event("lead.created", LEAD_DATA) for _ in range(3)])  # all at once
        # moto may hand the three to one receive or split them: the held one has at least one.
        until(lambda: queues.counts()[1] > 0 and proxy.held == 1, what="a held receive with events")
    except BaseException:
        worker.kill()
        raise
    return queues, worker


def test_messages_a_receive_returns_after_the_stop_are_released_at_once(
    proxy: FaultProxy, moto_server: MotoServer
) -> None:
    """A receive that returns within the grace after the signal hands its messages back at once."""
    queues, worker = held_receive(proxy, moto_server, visibility_timeout=30)
    in_flight = queues.counts()[1]
    try:
        worker.send_signal(signal.SIGTERM)
        worker.wait_for("worker_stopping")
        proxy.release()  # the answer arrives now, within the stop's grace for receives
        assert exit_code(worker) == 0
    finally:
        worker.kill()
    [released] = worker.find("messages_released")
    assert (released["count"], released["failed"]) == (in_flight, 0)
    assert queues.counts() == (3, 0)
    assert worker.find("event_dispatched") == []


def test_a_receive_in_progress_does_not_hold_the_stop(proxy: FaultProxy, moto_server: MotoServer) -> None:
    """A receive whose answer does not come within the grace is not waited for: the worker exits at once,
    and what SQS handed that receive comes back after its visibility timeout, to be choreographed."""
    queues, worker = held_receive(proxy, moto_server, visibility_timeout=2)
    try:
        worker.send_signal(signal.SIGTERM)
        assert exit_code(worker) == 0
        assert proxy.held == 1  # it exited while its receive was still waiting for the answer
    finally:
        worker.kill()
    proxy.up()
    proxy.release()
    with running(WorkerProcess(worker_env(proxy.url, queues))) as second:
        mails = queues.drain("mail", expected=3, timeout=30)
        assert second.stop() == 0
    assert len(mails) == 3


def test_the_shutdown_timeout_bounds_a_graceful_stop(proxy: FaultProxy, moto_server: MotoServer) -> None:
    """Work still going after CHOREOGRAPHER_SHUTDOWN_TIMEOUT is given up and its event released."""
    queues = fresh_queues(moto_server, visibility_timeout=30)
    proxy.delay("SendMessageBatch", seconds=100)
    env = worker_env(proxy.url, queues, CHOREOGRAPHER_SHUTDOWN_TIMEOUT="1")
    worker = WorkerProcess(env).start()
    try:
        queues.send(event("lead.created", LEAD_DATA))
        proxy.wait_held()
        worker.send_signal(signal.SIGTERM)
        assert exit_code(worker) == 0
        assert proxy.held == 1  # the send it was waiting for is still held
    finally:
        worker.kill()
    [timeout] = worker.find("shutdown_timeout")
    assert timeout["in_flight"] == 1
    assert queues.counts() == (1, 0)


def test_a_second_signal_exits_at_once(proxy: FaultProxy, moto_server: MotoServer) -> None:
    """A second SIGTERM while finishing in-progress work exits at once, with 128 + the signal number;
    the event being worked on is neither settled nor lost: SQS hands it out again after its
    visibility timeout."""
    # 120 s: the heartbeat would extend it only after 60 s, far beyond this test.
    queues = fresh_queues(moto_server, visibility_timeout=120)
    proxy.delay("SendMessageBatch", seconds=100)
    env = worker_env(proxy.url, queues, CHOREOGRAPHER_SHUTDOWN_TIMEOUT="100")
    worker = WorkerProcess(env).start()
    steps = [("started", time.monotonic())]
    try:
        queues.send(event("lead.created", LEAD_DATA))
        proxy.wait_held()
        steps.append(("send held", time.monotonic()))
        worker.send_signal(signal.SIGTERM)
        first = time.monotonic()
        worker.wait_for("worker_stopping")
        steps.append(("worker_stopping logged", time.monotonic()))
        # Later than SAME_STOP after the first: a signal of its own, not the same stop forwarded.
        time.sleep(max(0.0, first + SAME_STOP + 0.1 - time.monotonic()))
        worker.send_signal(signal.SIGTERM)
        assert exit_code(worker) == 128 + signal.SIGTERM
        steps.append(("exited", time.monotonic()))
        assert proxy.held == 1
    finally:
        worker.kill()
    took = ", ".join(f"{name} +{at - steps[0][1]:.2f} s" for name, at in steps)
    assert any("second SIGTERM: exiting at once" in line for line in worker.raw)
    # Not settled: the worker deleted nothing and changed no visibility (a release, or a retry
    # after the send failed, would set it), as the calls it made show.
    settled = {op: n for op, n in proxy.calls.items() if op.startswith(("Delete", "ChangeMessageVisibility"))}
    log = "\n".join(worker.raw)
    assert settled == {}, f"{settled}; {took}; the worker's log:\n{log}"
    assert sum(queues.counts()) == 1, f"{queues.counts()}; {took}; the worker's log:\n{log}"  # still queued


def test_sigkill_mid_batch_then_restart_loses_nothing(proxy: FaultProxy, moto_server: MotoServer) -> None:
    """Killed with SIGKILL mid-batch and started again, the worker gets every event's output out."""
    queues = fresh_queues(moto_server, visibility_timeout=2)
    proxy.delay("SendMessageBatch", seconds=1, times=2)
    messages = [event("lead.created", LEAD_DATA) for _ in range(30)]
    first = WorkerProcess(worker_env(proxy.url, queues)).start()
    try:
        for message in messages:
            queues.send(message)
        proxy.wait_held()
        first.kill()
    finally:
        first.kill()
    assert first.process is not None and first.process.returncode == -signal.SIGKILL
    with running(WorkerProcess(worker_env(proxy.url, queues))):
        outputs = queues.collect("mail", expected=len(messages))
        queues.wait_empty("events")
    assert {attributes(m)["event_id"] for m in outputs} == {m["id"] for m in messages}
    assert queues.drain("dlq") == []


def test_slow_work_does_not_cause_redelivery(proxy: FaultProxy, moto_server: MotoServer) -> None:
    """A send slower than the visibility timeout: the heartbeat keeps the event hidden; one output."""
    queues = fresh_queues(moto_server, visibility_timeout=2)
    proxy.delay("SendMessageBatch", seconds=5, times=1)
    message = event("lead.created", LEAD_DATA)
    env = worker_env(proxy.url, queues, CHOREOGRAPHER_LOG_LEVEL="DEBUG")
    with running(WorkerProcess(env)) as worker:
        queues.send(message)
        outputs = queues.collect("mail", expected=1)
        queues.wait_empty("events")
    assert len(outputs) == 1
    assert len(worker.find("event_dispatched")) == 1
    assert worker.find("redelivered_in_progress") == []  # SQS never handed it out again
    assert worker.find("visibility_extended")
    assert worker.find("delete_failed") == []
