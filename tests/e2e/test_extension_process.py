"""The example extension installed next to the real worker process, against moto's server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.packages import SLACK, install_extension, install_project
from tests.support import LEAD_DATA, MotoServer, Queues, WorkerProcess, attributes, event, running
from tests.test_data_schemas import TYPO_NAMED, install_typo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def slack_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The slack example installed once, pip-style, into a folder of its own."""
    return install_project(SLACK, tmp_path_factory.mktemp("slack-site"))


def python_path(*folders: Path) -> str:
    """PYTHONPATH with ``folders`` first, keeping whatever the test run has."""
    return os.pathsep.join([*map(str, folders), *filter(None, [os.environ.get("PYTHONPATH")])])


def test_extension_actions_fire_in_the_worker(
    moto_server: MotoServer, queues: Queues, slack_site: Path
) -> None:
    """With the package installed, lead.created also goes to Slack and deal.won is handled."""
    slack_url = queues.client.create_queue(QueueName=f"{queues.prefix}-slack")["QueueUrl"]
    queues.urls["slack"] = slack_url
    env = {
        "AWS_ENDPOINT_URL_SQS": moto_server.url,
        **queues.env(),
        "CHOREOGRAPHER_SLACK_QUEUE": f"{queues.prefix}-slack",
        "PYTHONPATH": python_path(slack_site),
    }
    lead = event("lead.created", LEAD_DATA)
    deal = event("deal.won", {"title": "Acme", "amount": 1200, "currency": "EUR", "owner": "Grace"})
    with running(WorkerProcess(env)) as worker:
        queues.send(lead)
        queues.send(deal)
        found = queues.drain("slack", expected=2)
        [mail] = queues.drain("mail", expected=1)
        assert worker.stop() == 0
    [loaded] = worker.find("extensions_loaded")
    assert loaded["extensions"] == {"slack": "slack_extension"}
    by_event = {attributes(m)["event_name"]: m for m in found}
    lead_slack = json.loads(by_event["lead.created"]["Body"])
    assert lead_slack["text"] == "New internal lead: Ada Lovelace (other)"
    assert (
        lead_slack["request_id"] == lead["request_id"] == attributes(by_event["lead.created"])["request_id"]
    )
    assert attributes(by_event["lead.created"])["action"] == "slack.lead.created"
    assert json.loads(by_event["deal.won"]["Body"])["text"] == "Deal won: Acme (1200 EUR) by Grace"
    assert json.loads(mail["Body"])["request_id"] == lead["request_id"]


def test_broken_extension_stops_startup(moto_server: MotoServer, queues: Queues, tmp_path: Path) -> None:
    """A broken extension stops the worker at start-up (exit 2) with an error naming it."""
    files = {"__init__.py": "", "configure.zcml": "<configure"}
    install_extension(tmp_path, "acme-broken", "broken", "broken_xml_ext", files)
    env = {"AWS_ENDPOINT_URL_SQS": moto_server.url, **queues.env(), "PYTHONPATH": python_path(tmp_path)}
    worker = WorkerProcess(env).start(ready=None)
    assert worker.process is not None
    assert worker.process.wait(30) == 2
    [failed] = worker.wait_for("startup_failed", timeout=5)
    assert "extension 'broken'" in failed["reason"] and "acme-broken" in failed["reason"]


def test_an_extension_with_a_bad_data_schema_stops_startup(
    moto_server: MotoServer, queues: Queues, tmp_path: Path
) -> None:
    """An extension whose event's data_schema is not JSON Schema stops the worker (exit 2), named."""
    install_typo(tmp_path)
    env = {"AWS_ENDPOINT_URL_SQS": moto_server.url, **queues.env(), "PYTHONPATH": python_path(tmp_path)}
    worker = WorkerProcess(env).start(ready=None)
    assert worker.process is not None
    assert worker.process.wait(30) == 2
    [failed] = worker.wait_for("startup_failed", timeout=5)
    assert failed["reason"].startswith(TYPO_NAMED)
