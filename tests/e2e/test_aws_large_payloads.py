"""Large payloads against moto's server: AWS's own extended client sends a 300 KiB event and reads
the 300 KiB output; S3 out of reach only delays an event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests.aws import client
from tests.e2e.delivery_support import REPO_ROOT, proxy, worker_env
from tests.e2e.extended_install import ClientUnavailable, ExtendedClient, install
from tests.faultproxy import FaultProxy
from tests.support import LEAD_DATA, MotoServer, Queues, WorkerProcess, event, running

pytestmark = pytest.mark.e2e
__all__ = ["proxy"]  # fixtures

#: The extended client's own threshold (and SQS's classic limit): bigger payloads go to S3.
THRESHOLD = 262_144
#: A category of 300 KiB makes a lead event, and its mail, of some 300 KiB.
CATEGORY = "c" * 300 * 1024


ON_CI = os.environ.get("CI", "").lower() in ("true", "1")


@pytest.fixture(scope="session")
def extended() -> ExtendedClient:
    """PyPI's extended client, installed by pip into the tests' own folder on first use."""
    try:
        return install()
    except ClientUnavailable as error:
        message = f"the wire format was not proved with AWS's extended client: {error}"
        if ON_CI:
            pytest.fail(f"{message} (CI=true: this check must run)", pytrace=False)
        pytest.skip(message)


def extended_client(
    extended: ExtendedClient, moto_server: MotoServer, *args: str, body: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run AWS's extended client (``tests/e2e/extended_client.py``) in a process of its own."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")},
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONPATH": os.pathsep.join([str(extended.folder), REPO_ROOT]),
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.e2e.extended_client", *args],
        input=body,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def bucket(moto_server: MotoServer) -> str:
    name = f"payloads-{uuid.uuid4().hex[:12]}"
    client("s3", moto_server.url).create_bucket(Bucket=name)
    return name


def big_worker(moto_server: MotoServer, queues: Queues, name: str, s3: str = "") -> WorkerProcess:
    return WorkerProcess(
        worker_env(
            moto_server.url,
            queues,
            AWS_ENDPOINT_URL_S3=s3 or moto_server.url,
            CHOREOGRAPHER_LARGE_PAYLOAD_BUCKET=name,
            CHOREOGRAPHER_LARGE_PAYLOAD_THRESHOLD=str(THRESHOLD),
        )
    )


def test_the_extended_client_sends_a_big_event_and_reads_the_big_output(
    moto_server: MotoServer, queues: Queues, extended: ExtendedClient
) -> None:
    """300 KiB in through S3 from the extended client, 300 KiB out through S3 to it."""
    name = bucket(moto_server)
    lead = event("lead.created", {**LEAD_DATA, "category": CATEGORY})
    with running(big_worker(moto_server, queues, name)) as process:
        sent = extended_client(
            extended, moto_server, "send", queues.urls["events"], name, body=json.dumps(lead)
        )
        assert sent.returncode == 0, sent.stderr
        assert f"extended client: {extended.folder}" in sent.stderr  # the copy the test installed
        [line] = process.wait_for("action_sent")
        [dispatched] = process.find("event_dispatched")
        got = extended_client(extended, moto_server, "receive", queues.urls["mail"])
    assert got.returncode == 0, got.stderr
    mail = json.loads(got.stdout)
    assert mail["guid"] == lead["guid"] and mail["data"]["CATEGORY"] == CATEGORY
    assert len(got.stdout) > THRESHOLD
    assert line["payload"].startswith(f"s3://{name}/")
    assert dispatched["payload"].startswith(f"s3://{name}/")  # where the event message came from
    assert queues.depth("dlq") == 0 and queues.depth("events") == 0


def test_s3_out_of_reach_delays_the_event_and_loses_nothing(
    moto_server: MotoServer, queues: Queues, proxy: FaultProxy
) -> None:
    """With S3 unreachable the event is retried, not dead-lettered; once S3 is back it is choreographed."""
    name = bucket(moto_server)
    s3: Any = client("s3", moto_server.url)
    s3.put_object(Bucket=name, Key="lead", Body=json.dumps(event("lead.created", LEAD_DATA)).encode())
    body = json.dumps(
        ["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": name, "s3Key": "lead"}]
    )
    proxy.down()
    with running(big_worker(moto_server, queues, name, s3=proxy.url)) as process:
        queues.send(
            body, MessageAttributes={"ExtendedPayloadSize": {"DataType": "Number", "StringValue": "400"}}
        )
        [failed] = process.wait_for("payload_read_failed")
        process.wait_for("event_retry")
        proxy.up()
        process.wait_for("action_sent", timeout=60)
    assert failed["transient"] is True
    assert len(queues.drain("mail", expected=1)) == 1
    assert queues.depth("dlq") == 0 and queues.depth("events") == 0
