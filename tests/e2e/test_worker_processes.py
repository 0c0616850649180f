"""``--processes N``: several worker processes under one parent, on one queue."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from tests.support import (
    LEAD_DATA,
    MotoServer,
    Queues,
    WorkerProcess,
    embedded_client,
    event,
    free_port,
    running,
)

pytestmark = pytest.mark.e2e

COMMAND = [sys.executable, "-m", "briefy.choreographer.worker", "--processes", "2"]


def env(server: MotoServer, queues: Queues) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_SQS": server.url, **queues.env()}


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (it may linger as a zombie of another parent)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_processes_share_the_queue_and_stop_cleanly(moto_server: MotoServer, queues: Queues) -> None:
    """Two workers start, choreograph events from one queue, and on SIGTERM all exit 0."""
    with running(WorkerProcess(env(moto_server, queues), args=COMMAND), ready=None) as worker:
        worker.wait_for("worker_started", count=2)
        messages = [event("lead.created", LEAD_DATA) for _ in range(12)]
        for message in messages:
            queues.send(message)
        outputs = queues.drain("mail", expected=12)
        rc = worker.stop()
    assert rc == 0
    assert {json.loads(m["Body"])["guid"] for m in outputs} == {m["guid"] for m in messages}
    started = {line["pid"] for line in worker.find("worker_process_started")}
    exited = worker.find("worker_process_exited")
    assert len(started) == 2 and {line["pid"] for line in exited} == started
    assert all(line["exit_code"] == 0 for line in exited)
    assert len(worker.find("worker_stopped")) == 2
    # Every line names the process that wrote it: the supervisor, or worker k of 2 and its pid.
    assert worker.process is not None
    children = [line["pid"] for line in worker.find("worker_process_started")]
    names = {f"supervisor pid {worker.process.pid}"} | {
        f"{k}/2 pid {pid}" for k, pid in enumerate(children, 1)
    }
    assert {line.get("worker") for line in worker.logs} == names


def test_a_failing_child_fails_the_parent(moto_server: MotoServer) -> None:
    """Children that cannot start make the parent exit with their exit code."""
    worker = WorkerProcess(
        {"AWS_ENDPOINT_URL_SQS": moto_server.url, "CHOREOGRAPHER_EVENTS_QUEUE": "nope-events"}, args=COMMAND
    )
    worker.start(ready=None)
    assert worker.process is not None
    assert worker.process.wait(60) == 2
    assert worker.find("startup_failed")


def test_a_child_that_dies_stops_the_others(moto_server: MotoServer, queues: Queues) -> None:
    """When one worker process is killed, the parent stops the other and exits non-zero."""
    with running(WorkerProcess(env(moto_server, queues), args=COMMAND), ready=None) as worker:
        worker.wait_for("worker_started", count=2)
        first, second = (line["pid"] for line in worker.find("worker_process_started"))
        os.kill(first, signal.SIGKILL)
        assert worker.process is not None
        assert worker.process.wait(30) == 128 + signal.SIGKILL
    [stopped] = worker.wait_for("worker_stopped")
    assert stopped and worker.find("worker_process_exited", lambda e: e["pid"] == second)[0]["exit_code"] == 0


def test_children_stop_when_the_parent_is_killed(moto_server: MotoServer, queues: Queues) -> None:
    """Children whose parent was killed notice it and stop gracefully."""
    with running(WorkerProcess(env(moto_server, queues), args=COMMAND), ready=None) as worker:
        worker.wait_for("worker_started", count=2)
        pids = [line["pid"] for line in worker.find("worker_process_started")]
        worker.kill()
        deadline = time.monotonic() + 30
        while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        while len(worker.find("worker_stopped")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # the children's last lines may still be on their way
    assert all(gone(pid) for pid in pids)
    assert len(worker.find("supervisor_gone")) == 2
    assert len(worker.find("worker_stopped")) == 2


def test_processes_share_the_embedded_endpoint() -> None:
    """In development with no endpoint, the parent serves SQS and both children use it."""
    port = free_port()
    worker = WorkerProcess({"CHOREOGRAPHER_EMBEDDED_PORT": str(port)}, args=COMMAND)
    with running(worker, ready=None):
        worker.wait_for("worker_started", count=2)
        [started] = worker.find("embedded_sqs_started")
        client = embedded_client(started["endpoint"])
        queues = Queues(client, prefix="unused")
        queues.urls = {key: client.get_queue_url(QueueName=key)["QueueUrl"] for key in ("events", "mail")}
        message = event("lead.created", LEAD_DATA)
        queues.send(message)
        [out] = queues.drain("mail", expected=1)
        rc = worker.stop()
    assert rc == 0
    assert json.loads(out["Body"])["guid"] == message["guid"]


def test_processes_must_be_at_least_one() -> None:
    """--processes 0 is a usage error."""
    worker = WorkerProcess({}, args=[*COMMAND[:-1], "0"]).start(ready=None)
    assert worker.process is not None
    assert worker.process.wait(30) == 2
    assert any("--processes must be at least 1" in line for line in worker.raw)
