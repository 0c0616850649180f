"""SQS outages and broken configuration, against the real worker process."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.e2e.delivery_support import DeliveryQueues, exit_code, pair_queues, proxy, worker_env
from tests.faultproxy import FaultProxy
from tests.support import LEAD_DATA, WorkerProcess, attributes, event, free_port, running

pytestmark = pytest.mark.e2e
__all__ = ["pair_queues", "proxy"]  # fixtures


def test_an_outage_mid_run_is_survived(proxy: FaultProxy, pair_queues: DeliveryQueues) -> None:
    """While SQS is unreachable the worker logs, backs off and runs on; when it returns, it catches up."""
    messages = [event("lead.created", LEAD_DATA) for _ in range(6)]
    with running(WorkerProcess(worker_env(proxy.url, pair_queues))) as worker:
        pair_queues.send(messages[0])
        pair_queues.collect("mail", expected=1)
        proxy.down()
        for message in messages[1:]:
            pair_queues.send(message)
        worker.wait_for("receive_failed", count=4)
        assert worker.process is not None and worker.process.poll() is None
        proxy.up()
        worker.wait_for("receive_recovered")
        outputs = pair_queues.collect("mail", expected=len(messages) - 1)
        pair_queues.wait_empty("events")
    assert {attributes(m)["event_id"] for m in outputs} == {m["id"] for m in messages[1:]}
    failures = worker.find("receive_failed")
    assert all(line["transient"] and line["retry_in"] <= 1.0 for line in failures)
    assert worker.process.returncode == 0


def test_an_unreachable_endpoint_at_start_up_fails_after_the_timeout(pair_queues: DeliveryQueues) -> None:
    """With nothing listening, start-up retries until CHOREOGRAPHER_STARTUP_TIMEOUT, then exits 2."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    env = worker_env(endpoint, pair_queues, CHOREOGRAPHER_STARTUP_TIMEOUT="2")
    worker = WorkerProcess(env).start(ready=None)
    try:
        assert exit_code(worker) == 2
    finally:
        worker.kill()
    assert worker.find("sqs_unreachable")
    assert any("SQS is unreachable" in line for line in worker.raw)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_waiting_for_sqs_stops_the_start_up(pair_queues: DeliveryQueues, signum: int) -> None:
    """A worker still waiting for SQS at start-up hears SIGTERM (as PID 1 of a container it would
    not, with no handler): it stops then and there, exit 0, nothing having been received."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    env = worker_env(endpoint, pair_queues, CHOREOGRAPHER_STARTUP_TIMEOUT="300")
    worker = WorkerProcess(env).start(ready="sqs_unreachable")
    try:
        worker.send_signal(signum)
        assert exit_code(worker) == 0
    finally:
        worker.kill()
    [stopped] = worker.find("worker_stopped")
    assert (stopped["during"], stopped["signal"]) == ("start-up", signal.Signals(signum).name)
    assert not worker.find("startup_failed")


def test_an_endpoint_that_comes_back_during_start_up_lets_the_worker_start(
    proxy: FaultProxy, pair_queues: DeliveryQueues
) -> None:
    """Start-up waits for an unreachable SQS and starts when it returns within the timeout."""
    proxy.down()
    with running(WorkerProcess(worker_env(proxy.url, pair_queues)), ready="sqs_unreachable") as worker:
        proxy.up()
        worker.wait_for("worker_started")
        pair_queues.send(event("lead.created", LEAD_DATA))
        assert len(pair_queues.collect("mail", expected=1)) == 1


BROKEN_SITES = {
    "malformed_xml": "<configure xmlns='http://namespaces.zope.org/zope'><include",
    "missing_package": (
        "<configure xmlns='http://namespaces.zope.org/zope'>"
        "<include package='briefy.choreographer' /><include package='no.such.package' /></configure>"
    ),
    "action_without_its_queue": (
        "<configure xmlns='http://namespaces.zope.org/zope'>"
        "<include package='briefy.choreographer' />"
        "<adapter factory='tests.fixtures.twoactions.FirstAction' name='pair.created.first' /></configure>"
    ),
    "unknown_factory": (
        "<configure xmlns='http://namespaces.zope.org/zope'>"
        "<include package='briefy.choreographer' />"
        "<utility factory='briefy.choreographer.queues.NoSuchQueue' name='x.queue' /></configure>"
    ),
}
EXPECTED = {
    "malformed_xml": "site.zcml",
    "missing_package": "Couldn't import no.such",
    "action_without_its_queue": "'first.queue', which is not a registered queue utility",
    "unknown_factory": "NoSuchQueue",
}


@pytest.mark.parametrize("name", [*BROKEN_SITES, "missing_file"])
def test_broken_zcml_fails_fast(pair_queues: DeliveryQueues, tmp_path: Path, name: str) -> None:
    """A site ZCML that cannot load, or wires an action to no queue, stops start-up: exit 2, clear reason."""
    site = tmp_path / "site.zcml"
    if name in BROKEN_SITES:
        site.write_text(BROKEN_SITES[name])
    env = worker_env("http://127.0.0.1:9", pair_queues, CHOREOGRAPHER_ZCML=str(site))
    worker = WorkerProcess(env).start(ready=None)
    try:
        assert exit_code(worker) == 2
    finally:
        worker.kill()
    output = "\n".join(worker.raw)
    assert EXPECTED.get(name, str(site)) in output
    assert "choreographer worker: error:" in output
    assert worker.find("startup_failed")
