"""The image built from the Dockerfile and run against moto's server, as an operator runs it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from briefy.choreographer.cli.worker import SAME_STOP
from tests.container.conftest import FIGURES, Image
from tests.container.containers import Container
from tests.container.engine import Engine
from tests.e2e.delivery_support import proxy, until
from tests.e2e.test_metrics_process import scrape, value
from tests.faultproxy import FaultProxy
from tests.support import LEAD_DATA, MotoServer, Queues, event, free_port

pytestmark = [pytest.mark.container, pytest.mark.timeout(1200)]
__all__ = ["proxy"]  # fixtures

#: Docker's and podman's default grace before SIGKILL is 10 s: an idle worker must be out well within.
STOP_WITHIN = 5.0
EMAIL = str(LEAD_DATA["email"])


def settings(endpoint: str, queues: Queues, metrics_port: int) -> dict[str, str]:
    """What an operator gives the image (everything else is the image's own default)."""
    return {
        "AWS_ENDPOINT_URL_SQS": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # On the host's network: keep the metrics port on loopback.
        "CHOREOGRAPHER_METRICS_HOST": "127.0.0.1",
        "CHOREOGRAPHER_METRICS_PORT": str(metrics_port),
        **queues.env(),
    }


def start(engine: Engine, image: Image, endpoint: str, queues: Queues) -> tuple[Container, int]:
    """A container of the image on fresh queues, its loop turning; and its metrics port."""
    port = free_port()
    container = Container(engine, image.id, settings(endpoint, queues, port)).start()
    container.wait_for("worker_started")
    return container, port


@pytest.fixture(scope="module")
def running(engine: Engine, image: Image, moto_server: MotoServer) -> Iterator[tuple[Container, Queues, int]]:
    """One worker container for the checks that leave it running (its queues, its metrics port)."""
    queues = Queues(moto_server.client()).create()
    container, port = start(engine, image, moto_server.url, queues)
    yield container, queues, port
    container.remove()


def test_an_event_comes_out_as_a_mail(running: tuple[Container, Queues, int]) -> None:
    """A lead.created for an internal lead sent to the events queue comes out of the mail queue."""
    _, queues, _ = running
    lead = event("lead.created", LEAD_DATA)
    queues.send(lead)
    [mail] = queues.drain("mail", expected=1)
    body = json.loads(mail["Body"])
    assert (body["event_name"], body["guid"], body["email"]) == ("lead.created", lead["guid"], EMAIL)


def test_the_worker_runs_as_an_unprivileged_user(running: tuple[Container, Queues, int]) -> None:
    """The container's main process is the worker, with uid and gid 10001 (not root)."""
    container, _, _ = running
    status = container.exec("cat", "/proc/1/status")
    assert re.search(r"^Uid:\s+10001\s+10001\s+10001\s+10001$", status, re.MULTILINE), status
    command = container.exec("cat", "/proc/1/cmdline").split("\0")
    assert command[-3:] == ["-m", "briefy.choreographer.worker", ""]


def test_the_logs_are_json_without_personal_data(running: tuple[Container, Queues, int]) -> None:
    """Every line is JSON; an e-mail a producer puts in a logged field (here the guid) is redacted,
    a reason does not quote the producer's text, and the address is nowhere in the logs."""
    container, queues, _ = running
    sent = queues.send(event("lead.created", LEAD_DATA, created_at=EMAIL))
    line = container.wait_for("event_dead_lettered", where=lambda line: line.get("message_id") == sent)
    assert line["reason"] == "field 'created_at' is not an ISO 8601 date-time"
    queues.send(event("lead.created", LEAD_DATA, guid=f"guid={EMAIL}"))
    [mail] = queues.drain("mail", expected=1)
    sent_line = container.wait_for("action_sent", where=lambda line: line.get("guid", "").startswith("guid="))
    assert sent_line["guid"] == "guid=[redacted]"
    assert EMAIL in mail["Body"]  # the address went through the worker
    output = container.output()
    assert EMAIL not in output
    assert container.logs()  # every stdout line parses as JSON (logs() raises otherwise)


def test_metrics_are_served(running: tuple[Container, Queues, int]) -> None:
    """The metrics port answers /metrics with the worker's counters, which count a processed event."""
    _, queues, port = running
    url = f"http://127.0.0.1:{port}"
    labels = {"event_name": "lead.created", "outcome": "done"}
    before = value(scrape(url), "choreographer_events_processed_total", **labels)
    queues.send(event("lead.created", LEAD_DATA))
    queues.drain("mail", expected=1)
    until(lambda: value(scrape(url), "choreographer_events_processed_total", **labels) == before + 1)
    # The event counts as processed when its outcome is decided; it leaves the in-flight gauge
    # once its batch is deleted, a round trip later: waited for, not raced.
    until(lambda: value(scrape(url), "choreographer_messages_in_flight") == 0)


def test_the_healthcheck_fails_while_the_loop_is_stopped(
    engine: Engine, image: Image, running: tuple[Container, Queues, int]
) -> None:
    """The image keeps its HEALTHCHECK; it passes, fails while the worker is frozen, passes again."""
    container, _, _ = running
    configured = engine.image_healthcheck(image.id)
    assert configured is not None and configured["Test"][:3] == ["CMD", "python", "-c"]
    assert engine.healthcheck(container.id)
    container.signal("STOP")
    try:
        assert not engine.healthcheck(container.id)
    finally:
        container.signal("CONT")
    assert engine.healthcheck(container.id)


def test_sigterm_stops_an_idle_worker_within_docker_grace(
    engine: Engine, image: Image, moto_server: MotoServer
) -> None:
    """`stop` (SIGTERM) on an idle worker, its long polls just begun, exits 0 within 5 s."""
    queues = Queues(moto_server.client()).create()
    container, _ = start(engine, image, moto_server.url, queues)
    try:
        time.sleep(1.0)  # every pipeline is in its first long poll
        seconds = container.stop(grace=30)
        FIGURES["stop of an idle worker (SIGTERM to exit)"] = f"{seconds:.1f} s"
        assert container.exit_code() == 0
        assert [line["event"] for line in container.logs()][-2:] == ["worker_stopping", "worker_stopped"]
        assert seconds <= STOP_WITHIN, f"the stop took {seconds:.1f} s"
    finally:
        container.remove()


def test_a_second_sigterm_exits_at_once(
    engine: Engine, image: Image, moto_server: MotoServer, proxy: FaultProxy
) -> None:
    """A second SIGTERM while a batch is finishing exits at once with 128 + 15."""
    queues = Queues(moto_server.client()).create()
    proxy.delay("SendMessageBatch", seconds=100)  # the batch's output is held: the stop must wait
    container, _ = start(engine, image, proxy.url, queues)
    try:
        queues.send(event("lead.created", LEAD_DATA))
        proxy.wait_held()
        container.signal("TERM")
        first = time.monotonic()
        container.wait_for("worker_stopping")
        # Later than SAME_STOP after the first: a signal of its own, not the same stop forwarded
        # (podman's logs and kill can come back within it).
        time.sleep(max(0.0, first + SAME_STOP + 0.1 - time.monotonic()))
        started = time.monotonic()
        container.signal("TERM")
        assert container.wait(timeout=30) == 128 + 15
        seconds = time.monotonic() - started
        FIGURES["exit on a second SIGTERM"] = f"{seconds:.1f} s"
        assert seconds < 3.0
        assert "second SIGTERM: exiting at once" in container.output()
    finally:
        container.remove()


def test_sigterm_stops_a_worker_still_waiting_for_sqs(engine: Engine, image: Image) -> None:
    """A worker whose SQS endpoint does not answer yet still stops on SIGTERM (as PID 1 it would
    not hear it without a handler of its own), exit 0, within the grace."""
    queues = Queues(client=None)
    container = Container(engine, image.id, settings(f"http://127.0.0.1:{free_port()}", queues, 0)).start()
    try:
        container.wait_for("sqs_unreachable")
        seconds = container.stop(grace=int(STOP_WITHIN))
        assert container.exit_code() == 0, f"exit {container.exit_code()} after {seconds:.1f} s"
    finally:
        container.remove()
