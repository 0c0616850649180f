"""The real worker process against moto's server over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import (
    LEAD_DATA,
    MAIL_DATA,
    MotoServer,
    Queues,
    WorkerProcess,
    attributes,
    embedded_client,
    event,
    free_port,
    running,
)

pytestmark = pytest.mark.e2e


def worker_env(server: MotoServer, queues: Queues) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_SQS": server.url, **queues.env()}


def test_reference_choreography(moto_server: MotoServer, queues: Queues) -> None:
    """Internal and non-internal leads, mail.sent, an unknown event and a malformed one."""
    internal = event("lead.created", LEAD_DATA)
    external = event("lead.created", {**LEAD_DATA, "internal": False})
    mail = event("mail.sent", MAIL_DATA)
    unknown = event("order.shipped", {"order": 1})
    with running(WorkerProcess(worker_env(moto_server, queues))) as worker:
        for message in (internal, external, mail, unknown):
            queues.send(message)
        queues.send("{broken")
        worker.wait_for("event_dispatched", count=4)
        worker.wait_for("event_dead_lettered")
        [mail_out] = queues.drain("mail", expected=1)
        [notification] = queues.drain("notification", expected=1)
        [letter] = queues.drain("dlq", expected=1)
        rc = worker.stop()
    assert rc == 0
    payload = json.loads(mail_out["Body"])
    assert payload["guid"] == internal["guid"]
    assert payload["data"]["FULLNAME"] == "Ada Lovelace"
    assert attributes(mail_out)["event_id"] == internal["id"]
    assert json.loads(notification["Body"])["id"] == mail["guid"]
    assert letter["Body"] == "{broken"
    assert attributes(letter)["error_type"] == "invalid_json"
    assert queues.depth("events") == 0
    sent = worker.find("action_sent")
    assert {line["event_name"] for line in sent} == {"lead.created", "mail.sent"}
    assert all(line["request_id"] and line["message_id"] and line["queue"] for line in sent)
    assert [
        line["event_class"]
        for line in worker.find("event_dispatched", lambda e: e["event_name"] == "order.shipped")
    ] == ["InternalEvent"]
    # Run from this checkout, the worker loads the site file at its root.
    [configured] = worker.find("worker_configured")
    assert configured["site"] == str(Path(__file__).resolve().parents[2] / "configure.zcml")


def test_missing_queues_fail_fast(moto_server: MotoServer) -> None:
    """Against a configured endpoint, missing queues stop start-up with an error naming them."""
    env = {
        "AWS_ENDPOINT_URL_SQS": moto_server.url,
        "CHOREOGRAPHER_EVENTS_QUEUE": "nope-events",
        "CHOREOGRAPHER_MAIL_QUEUE": "nope-mail",
    }
    worker = WorkerProcess(env).start(ready=None)
    assert worker.process is not None
    assert worker.process.wait(30) == 2
    worker.wait_for("startup_failed", timeout=5)
    output = "\n".join(worker.raw)
    assert "'nope-events'" in output and "'nope-mail'" in output and "CHOREOGRAPHER_MAIL_QUEUE" in output


def test_bad_settings_fail_fast() -> None:
    """A bad setting exits non-zero at once, naming the variable."""
    worker = WorkerProcess({"CHOREOGRAPHER_CONCURRENCY": "lots"}).start(ready=None)
    assert worker.process is not None
    assert worker.process.wait(30) == 2
    assert any("CHOREOGRAPHER_CONCURRENCY" in line for line in worker.raw)


def test_embedded_endpoint_serves_and_choreographs() -> None:
    """With no AWS configuration the worker serves SQS itself, creates its queues and works."""
    port = free_port()
    worker = WorkerProcess({"CHOREOGRAPHER_EMBEDDED_PORT": str(port)})
    with running(worker):
        [started] = worker.find("embedded_sqs_started")
        assert started["endpoint"] == f"http://127.0.0.1:{port}"
        client = embedded_client(started["endpoint"])
        queues = Queues(client, prefix="unused")
        queues.urls = {
            key: client.get_queue_url(QueueName=name)["QueueUrl"]
            for key, name in {"events": "events", "mail": "mail", "dlq": "events-dlq"}.items()
        }
        message = event("lead.created", LEAD_DATA)
        queues.send(message)
        [out] = queues.drain("mail", expected=1)
    assert json.loads(out["Body"])["guid"] == message["guid"]
    assert worker.process is not None and worker.process.returncode == 0


def test_choreographer_send_and_worker_command(
    moto_server: MotoServer, queues: Queues, tmp_path: Path
) -> None:
    """`choreographer send` publishes an event that `choreographer worker` choreographs."""
    script = shutil.which("choreographer", path=str(Path(sys.executable).parent))
    assert script, "the console script is installed"
    env = WorkerProcess(worker_env(moto_server, queues)).env
    sent = subprocess.run(
        [script, "send", "lead.created", "--data", json.dumps(LEAD_DATA), "--guid", "g-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    published = json.loads(sent.stdout)
    assert published["guid"] == "g-1" and published["message_id"]
    with running(WorkerProcess(worker_env(moto_server, queues), args=[script, "worker"])):
        [out] = queues.drain("mail", expected=1)
    payload = json.loads(out["Body"])
    assert payload["guid"] == "g-1"
    assert payload["request_id"] == published["request_id"]


def test_send_without_a_worker_says_what_to_do() -> None:
    """`choreographer send` with nothing listening fails with a clear message and exit 1."""
    env = WorkerProcess({"CHOREOGRAPHER_EMBEDDED_PORT": str(free_port())}).env
    result = subprocess.run(
        [sys.executable, "-m", "briefy.choreographer.cli", "send", "lead.created", "--data", "{}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot reach SQS" in result.stderr and "make run" in result.stderr


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_the_embedded_publish_hint_works_as_printed(tmp_path: Path) -> None:
    """The start-up line's publish command, run as printed with no AWS credentials around,
    puts event.json on the events queue; the line says the queues live in memory."""
    worker = WorkerProcess({"CHOREOGRAPHER_EMBEDDED_PORT": str(free_port())})
    with running(worker):
        [started] = worker.find("embedded_sqs_started")
        assert "memory" in started["memory"] and "drops every message" in started["memory"]
        message = event("lead.created", LEAD_DATA)
        (tmp_path / "event.json").write_text(json.dumps(message))
        bare = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        published = subprocess.run(
            started["publish"],
            shell=True,
            cwd=tmp_path,
            env={**bare, "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert published.returncode == 0, published.stderr
        client = embedded_client(started["endpoint"])
        queues = Queues(client, prefix="unused")
        queues.urls = {"mail": client.get_queue_url(QueueName="mail")["QueueUrl"]}
        [out] = queues.drain("mail", expected=1)
    assert json.loads(out["Body"])["guid"] == message["guid"]
