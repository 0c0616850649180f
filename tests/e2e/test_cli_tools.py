"""The operators' tools through the ``choreographer`` console script, against moto's server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.faultproxy import FaultProxy
from tests.support import LEAD_DATA, MotoServer, Queues, WorkerProcess, attributes, event, free_port, running

pytestmark = pytest.mark.e2e

SCRIPT = shutil.which("choreographer", path=str(Path(sys.executable).parent))


def tool_env(endpoint: str | None, queues: Queues | None = None, **extra: str) -> dict[str, str]:
    """The environment the worker would get (CHOREOGRAPHER_*/AWS_ENDPOINT* from the test only)."""
    env = WorkerProcess({}).env
    if endpoint:
        env["AWS_ENDPOINT_URL_SQS"] = endpoint
    return {**env, **(queues.env() if queues else {}), **extra}


def choreographer(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the console script; return its exit code and output."""
    assert SCRIPT, "the console script is installed"
    return subprocess.run(
        [SCRIPT, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def urls(queues: Queues) -> Queues:
    """Look up the URLs of queues made by someone else (the tools)."""
    queues.urls = {
        key: queues.client.get_queue_url(QueueName=name)["QueueUrl"] for key, name in queues.names.items()
    }
    return queues


def test_every_command_has_help() -> None:
    """--help works for each tool and exits 0."""
    env = tool_env(None)
    for command in (
        ["graph"],
        ["dry-run"],
        ["queues", "create"],
        ["queues", "status"],
        ["dlq", "show"],
        ["dlq", "redrive"],
        ["send"],
        ["queues", "peek"],
    ):
        result = choreographer(env, *command, "--help")
        assert result.returncode == 0 and "usage: choreographer" in result.stdout, command


def test_queues_create_is_idempotent_and_status_counts(moto_server: MotoServer) -> None:
    """create makes the four queues, a second run finds them; status counts what is waiting."""
    queues = Queues(moto_server.client())
    env = tool_env(moto_server.url, queues)
    first = choreographer(env, "queues", "create")
    assert first.returncode == 0, first.stderr
    rows = {line.split()[0]: line for line in first.stdout.splitlines()[2:]}
    assert set(rows) == set(queues.names.values())
    assert all("  created" in row for row in rows.values())
    second = choreographer(env, "queues", "create", "--json")
    assert second.returncode == 0
    assert [(q["queue_name"], q["status"]) for q in json.loads(second.stdout)] == [
        (queues.names[key], "exists") for key in ("events", "dlq", "mail", "notification")
    ]
    urls(queues).send(event())
    queues.send(event())
    status = choreographer(env, "queues", "status", "--json")
    assert status.returncode == 0
    counts = {
        q["queue_name"]: (q["visible"], q["in_flight"], q["delayed"]) for q in json.loads(status.stdout)
    }
    assert counts[queues.names["events"]] == (2, 0, 0) and counts[queues.names["dlq"]] == (0, 0, 0)
    text = choreographer(env, "queues", "status").stdout
    assert "visible  in flight  delayed" in text and queues.names["notification"] in text


def test_queues_create_fifo(moto_server: MotoServer) -> None:
    """.fifo names make FIFO queues; the events queue dead-letters to the configured DLQ."""
    queues = Queues(moto_server.client(), fifo=True)
    assert choreographer(tool_env(moto_server.url, queues), "queues", "create").returncode == 0
    for key, url in urls(queues).urls.items():
        found = queues.client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert found["FifoQueue"] == "true", key
        if key == "events":
            assert json.loads(found["RedrivePolicy"])["deadLetterTargetArn"].endswith(queues.names["dlq"])


def test_status_names_missing_queues(moto_server: MotoServer, queues: Queues) -> None:
    """A missing queue is shown as missing and the command exits 1."""
    result = choreographer(
        tool_env(moto_server.url, queues, CHOREOGRAPHER_MAIL_QUEUE="nowhere"), "queues", "status"
    )
    assert result.returncode == 1
    assert "nowhere" in result.stdout and "missing" in result.stdout and "queues create" in result.stdout


def test_dlq_tools_name_a_missing_dlq(moto_server: MotoServer, queues: Queues) -> None:
    """A DLQ that does not exist is a configuration error (exit 2) that says what to do."""
    env = tool_env(moto_server.url, queues, CHOREOGRAPHER_DEAD_LETTER_QUEUE="no-such-dlq")
    for action in ("show", "redrive"):
        result = choreographer(env, "dlq", action)
        assert result.returncode == 2
        assert "'no-such-dlq' does not exist" in result.stderr and "queues create" in result.stderr


def test_tools_say_to_start_the_worker_when_nothing_answers() -> None:
    """In development with no endpoint and no worker, each queue tool says how to start one."""
    env = tool_env(None, CHOREOGRAPHER_EMBEDDED_PORT=str(free_port()))
    for command in (["queues", "create"], ["queues", "status"], ["dlq", "show"], ["dlq", "redrive"]):
        result = choreographer(env, *command)
        assert result.returncode == 1, command
        assert (
            "cannot reach SQS" in result.stderr
            and "is the worker running? start it with: make run" in result.stderr
        )


def test_bad_settings_are_usage_errors() -> None:
    """A bad setting exits 2, naming the variable."""
    result = choreographer(tool_env(None, CHOREOGRAPHER_MAX_ATTEMPTS="many"), "queues", "status")
    assert result.returncode == 2 and "CHOREOGRAPHER_MAX_ATTEMPTS" in result.stderr


def test_graph_and_dry_run(tmp_path: Path) -> None:
    """graph prints Mermaid or DOT; dry-run reads stdin and exits 0, 1 for bad input, 2 for no file."""
    env = tool_env(None)
    assert choreographer(env, "graph").stdout.startswith("flowchart LR\n")
    assert choreographer(env, "graph", "--format", "dot").stdout.startswith("digraph choreography {")
    good = choreographer(env, "dry-run", "-", stdin=json.dumps(event("lead.created", LEAD_DATA)))
    assert good.returncode == 0 and "Nothing was sent (dry run)." in good.stdout
    assert good.stderr == ""
    bad = choreographer(env, "dry-run", "-", "--json", stdin="[1, 2]")
    assert bad.returncode == 1 and json.loads(bad.stdout)["error_type"] == "not_an_object"
    missing = choreographer(env, "dry-run", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_real_dead_letters_are_shown_and_redriven(moto_server: MotoServer, queues: Queues) -> None:
    """The worker dead-letters two events; show lists them; redrive of one makes its mail go out
    under the same event id; the other stays."""
    env = tool_env(moto_server.url, queues)
    lead = event("lead.created", LEAD_DATA)
    del lead["id"]  # the worker derives the id from the SQS message id: the redrive must keep it
    with running(WorkerProcess(env)) as worker:
        queues.client.delete_queue(QueueUrl=queues.urls["mail"])  # the mail service's queue is gone
        queues.send(lead)
        queues.send("{broken")
        worker.wait_for("event_dead_lettered", count=2)
        queues.client.create_queue(QueueName=queues.names["mail"])  # ... and back

        shown = choreographer(env, "dlq", "show", "--json")
        assert shown.returncode == 0, shown.stderr
        groups = {
            (g["error_type"], g["event_name"]): g["letters"] for g in json.loads(shown.stdout)["groups"]
        }
        assert set(groups) == {("output_rejected", "lead.created"), ("invalid_json", "")}
        [letter] = groups[("output_rejected", "lead.created")]
        assert "rejected the payload" in letter["error_message"] and letter["event_id"]
        text = choreographer(env, "dlq", "show").stdout
        assert "invalid_json / (no event name): 1" in text and "body is not JSON" in text
        assert queues.depth("dlq") == 2  # nothing consumed

        dry = choreographer(env, "dlq", "redrive", "--event-name", "lead.created", "--dry-run")
        assert dry.returncode == 0 and "would move 1 dead letter(s)" in dry.stdout
        assert queues.depth("dlq") == 2

        moved = choreographer(env, "dlq", "redrive", "--event-name", "lead.created", "--json")
        assert moved.returncode == 0, moved.stderr
        assert json.loads(moved.stdout)["moved"] == 1
        [mail] = queues.drain("mail", expected=1)
        [left] = queues.drain("dlq", expected=1)
    assert attributes(mail)["event_id"] == letter["event_id"]
    assert json.loads(mail["Body"])["guid"] == lead["guid"]
    assert left["Body"] == "{broken"


def fill_dead_letters(queues: Queues, count: int) -> list[str]:
    """Put ``count`` dead letters (as the worker writes them) in the DLQ; return their bodies."""
    bodies = [json.dumps(event("lead.created", LEAD_DATA)) for _ in range(count)]
    for start in range(0, count, 10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": body,
                "MessageAttributes": {
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in {
                        "error_type": "output_rejected",
                        "event_name": "lead.created",
                        "choreographer.event_id": json.loads(body)["id"],
                    }.items()
                },
            }
            for i, body in enumerate(bodies[start : start + 10])
        ]
        queues.client.send_message_batch(QueueUrl=queues.urls["dlq"], Entries=entries)
    return bodies


def test_letters_of_an_error_type_another_version_wrote_are_found(
    moto_server: MotoServer, queues: Queues
) -> None:
    """A letter whose error type this version never writes (another version wrote it) is shown
    by ``--error-type`` with it, after a note on stderr; a known type finds none of it."""
    env = tool_env(moto_server.url, queues)
    fill_dead_letters(queues, 1)
    queues.client.send_message(
        QueueUrl=queues.urls["dlq"],
        MessageBody="{}",
        MessageAttributes={"error_type": {"DataType": "String", "StringValue": "some_future_type"}},
    )
    shown = choreographer(env, "dlq", "show", "--json", "--error-type", "some_future_type")
    assert shown.returncode == 0, shown.stderr
    assert "writes no error type 'some_future_type'" in shown.stderr
    [group] = json.loads(shown.stdout)["groups"]
    assert group["error_type"] == "some_future_type" and len(group["letters"]) == 1
    known = choreographer(env, "dlq", "show", "--json", "--error-type", "output_rejected")
    assert known.returncode == 0 and known.stderr == ""
    assert [g["error_type"] for g in json.loads(known.stdout)["groups"]] == ["output_rejected"]


def every_body(queues: Queues, dlq: int, events: int) -> Counter[str]:
    """How often each body is in the DLQ and the events queue together."""
    found = queues.drain("dlq", expected=dlq) + queues.drain("events", expected=events)
    assert queues.depth("dlq") == queues.depth("events") == 0
    return Counter(message["Body"] for message in found)


def to_events(queues: Queues) -> str:
    """What only a call on the events queue has in its body (its QueueUrl's end)."""
    return f'/{queues.names["events"]}"'


def test_interrupted_redrive_loses_nothing(moto_server: MotoServer, queues: Queues) -> None:
    """SIGINT during the third batch: that batch completes, the run stops (exit 130) and
    reports 30 moved; DLQ and events queue together hold each of the 100 letters exactly once."""
    bodies = fill_dead_letters(queues, 100)
    with FaultProxy(moto_server.url) as proxy:
        # The third send to the events queue is held back while the signal arrives.
        proxy.fail("SendMessageBatch", how="delay", skip=2, match=to_events(queues), seconds=2)
        assert SCRIPT
        process = subprocess.Popen(
            [SCRIPT, "dlq", "redrive", "--json"],
            env=tool_env(proxy.url, queues),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            proxy.wait_held(1, timeout=60)
            os.kill(process.pid, signal.SIGINT)
            out, err = process.communicate(timeout=120)
        finally:
            process.kill()
    assert process.returncode == 130, err
    report = json.loads(out)
    assert (report["moved"], report["interrupted"]) == (30, True)
    assert "stopping after the batch in progress" in err
    assert every_body(queues, dlq=70, events=30) == Counter(bodies)


def test_failed_sends_stop_the_redrive_and_lose_nothing(moto_server: MotoServer, queues: Queues) -> None:
    """The events queue fails from the third batch on: the run stops with exit 1, naming the
    letters not moved; each letter is in exactly one of the two queues."""
    bodies = fill_dead_letters(queues, 50)
    with FaultProxy(moto_server.url) as proxy:
        proxy.fail("SendMessageBatch", how="500", times=None, skip=2, match=to_events(queues))
        result = choreographer(tool_env(proxy.url, queues), "dlq", "redrive")
    assert result.returncode == 1
    assert "moved 20 dead letter(s)" in result.stdout
    assert result.stdout.count("NOT moved (still in") == 10
    assert every_body(queues, dlq=30, events=20) == Counter(bodies)


def test_send_file_and_stdin_send_whole_event_messages(
    moto_server: MotoServer, queues: Queues, tmp_path: Path
) -> None:
    """send --file FILE and --file - put the event message on the events queue byte for byte."""
    env = tool_env(moto_server.url, queues)
    body = json.dumps(event("lead.created", LEAD_DATA), indent=2)
    path = tmp_path / "event.json"
    path.write_text(body)
    from_file = choreographer(env, "send", "--file", str(path))
    from_stdin = choreographer(env, "send", "--file", "-", stdin=body)
    for result in (from_file, from_stdin):
        assert result.returncode == 0, result.stderr
        assert result.stderr == "check: the worker would send 1 message(s) and delete the event\n"
        assert json.loads(result.stdout)["message_id"]
    assert [m["Body"] for m in queues.drain("events", expected=2)] == [body, body]


def test_send_refuses_an_event_the_worker_would_dead_letter(moto_server: MotoServer, queues: Queues) -> None:
    """A lead with an empty email is not sent (exit 1, the reason on stderr); --force sends it."""
    env = tool_env(moto_server.url, queues)
    data = json.dumps({**LEAD_DATA, "email": ""})
    refused = choreographer(env, "send", "lead.created", "--data", data)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "not sent: the worker would dead-letter the event" in refused.stderr
    assert "data.email" in refused.stderr and "--force" in refused.stderr
    assert queues.drain("events") == []
    forced = choreographer(env, "send", "lead.created", "--data", data, "--force")
    assert forced.returncode == 0 and "sending it anyway: --force" in forced.stderr
    [sent] = queues.drain("events", expected=1)
    assert json.loads(sent["Body"])["data"]["email"] == ""


def test_queues_peek_shows_an_output_queue_and_consumes_nothing(
    moto_server: MotoServer, queues: Queues
) -> None:
    """peek prints up to --max messages as JSON lines; they are all still there afterwards."""
    env = tool_env(moto_server.url, queues)
    payloads = [{"n": n} for n in range(12)]
    for payload in payloads:
        queues.client.send_message(QueueUrl=queues.urls["mail"], MessageBody=json.dumps(payload))
    result = choreographer(env, "queues", "peek", "mail.queue", "--max", "11")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 11 and len({line["message_id"] for line in lines}) == 11
    assert all(line["body"] in payloads and line["receive_count"] == 1 for line in lines)
    again = choreographer(env, "queues", "peek", queues.names["mail"], "--max", "50")
    assert len(again.stdout.splitlines()) == 12
    assert sorted(json.loads(m["Body"])["n"] for m in queues.drain("mail", expected=12)) == list(range(12))


def test_queues_peek_names_the_output_queues_when_asked_for_another(
    moto_server: MotoServer, queues: Queues
) -> None:
    """An unknown queue name is bad usage (exit 2), and the output queues are listed."""
    result = choreographer(tool_env(moto_server.url, queues), "queues", "peek", "bogus")
    assert result.returncode == 2
    assert "no output queue is called 'bogus'" in result.stderr
    assert f"mail.queue ({queues.names['mail']})" in result.stderr
