"""Large payloads through S3 (moto's mock): event messages read from S3, outputs stored there, and
the outcome of every S3 failure."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from structlog.testing import capture_logs

from briefy.choreographer.bootstrap import Application, bootstrap, connect
from briefy.choreographer.clients import make_client
from briefy.choreographer.config import Settings, SettingsError
from briefy.choreographer.pipeline.payloads import LargePayloads
from briefy.choreographer.site import load_site
from briefy.choreographer.worker import Worker
from briefy.common.claimcheck import (
    LEGACY_POINTER_CLASS,
    LEGACY_SIZE_ATTRIBUTE,
    POINTER_CLASS,
    SIZE_ATTRIBUTE,
    Pointer,
    S3Payloads,
    pointer_of,
)
from tests.support import LEAD_DATA, event, free_port

BUCKET = "briefy-payloads"
#: An output above this many bytes goes through S3 in these tests.
THRESHOLD = 262_144


class S3Faults:
    """Makes chosen S3 operations of one client fail (botocore's own event hooks, no patching)."""

    def __init__(self, client: Any) -> None:
        self.failing: dict[str, tuple[int, Exception]] = {}
        client.meta.events.register("before-parameter-build.s3", self._hook)

    def fail(self, operation: str, error: Exception, times: int = 1) -> None:
        self.failing[operation] = (times, error)

    def _hook(self, model: Any, **_: Any) -> None:
        times, error = self.failing.get(model.name, (0, None))
        if times and error is not None:
            self.failing[model.name] = (times - 1, error)
            raise error


def denied(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        operation,
    )


@pytest.fixture
def s3(sqs: Any) -> Any:
    """moto's S3 (in the same mock as SQS), with the payload bucket."""
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def big(app: Application, s3: Any) -> Application:
    """The application storing outputs above THRESHOLD bytes in the bucket."""
    return replace(app, payloads=LargePayloads(S3Payloads(s3), BUCKET, THRESHOLD))


def put_event(s3: Any, message: Any, key: str = "events/1") -> Pointer:
    """Store an event message in the bucket, as the extended client does; its pointer."""
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(message).encode())
    return Pointer(BUCKET, key)


def send_pointer(app: Application, body: str, size: str = "300000", attribute: str = SIZE_ATTRIBUTE) -> None:
    attributes = {attribute: {"DataType": "Number", "StringValue": size}}
    app.client.send_message(QueueUrl=app.events.url, MessageBody=body, MessageAttributes=attributes)


def receive(app: Application, url: str | None, wait: int = 0) -> list[dict[str, Any]]:
    response = app.client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=wait
    )
    return list(response.get("Messages", []))


# -- the wire format -------------------------------------------------------------------
def test_a_pointer_is_a_pointer_body_with_a_size_attribute() -> None:
    """Both pointer classes and both size attributes; without an attribute a pointer body is a body."""
    body = Pointer("b", "k").body()
    assert json.loads(body) == [POINTER_CLASS, {"s3BucketName": "b", "s3Key": "k"}]
    assert pointer_of(body, {SIZE_ATTRIBUTE: "5"}) == Pointer("b", "k")
    legacy = json.dumps([LEGACY_POINTER_CLASS, {"s3BucketName": "b", "s3Key": "k"}])
    assert pointer_of(legacy, {LEGACY_SIZE_ATTRIBUTE: "5"}) == Pointer("b", "k")
    assert pointer_of(body, {}) is None
    for other in ("{}", "[1, 2]", json.dumps(["other.Class", {"s3BucketName": "b", "s3Key": "k"}])):
        assert pointer_of(other, {SIZE_ATTRIBUTE: "5"}) is None
    assert (
        pointer_of(json.dumps([POINTER_CLASS, {"s3BucketName": "", "s3Key": "k"}]), {SIZE_ATTRIBUTE: "1"})
        is None
    )


# -- in -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pointer_class", "attribute"),
    [(POINTER_CLASS, SIZE_ATTRIBUTE), (LEGACY_POINTER_CLASS, LEGACY_SIZE_ATTRIBUTE)],
)
def test_an_event_that_points_at_s3_is_read_from_s3(
    big: Application, s3: Any, pointer_class: str, attribute: str
) -> None:
    """The event message is the S3 object; the worker leaves the object where it is."""
    lead = event("lead.created", {**LEAD_DATA, "notes": "n" * 300_000})
    pointer = put_event(s3, lead)
    body = json.dumps([pointer_class, {"s3BucketName": pointer.bucket, "s3Key": pointer.key}])
    send_pointer(big, body, attribute=attribute)
    worker = Worker(big)
    with capture_logs() as logs:
        worker.run_once()
    [mail] = receive(big, big.queues["mail.queue"].url)
    assert json.loads(mail["Body"])["guid"] == lead["guid"]
    assert s3.get_object(Bucket=BUCKET, Key=pointer.key)["ContentLength"] > 300_000
    assert worker.metrics.large_payloads.labels("read")._value.get() == 1
    assert [line["event"] for line in logs if line["event"] == "event_dead_lettered"] == []


def test_a_missing_object_is_dead_lettered_as_it_came(big: Application) -> None:
    """No such object: payload_missing, the pointer and its size attribute dead-lettered as they came."""
    body = Pointer(BUCKET, "gone").body()
    send_pointer(big, body, size="300000")
    Worker(big).run_once()
    [letter] = receive(big, big.dead_letters.url)
    assert letter["Body"] == body
    attributes = letter["MessageAttributes"]
    assert attributes["error_type"]["StringValue"] == "payload_missing"
    assert attributes[SIZE_ATTRIBUTE] == {"StringValue": "300000", "DataType": "Number"}
    assert receive(big, big.events.url) == []


def test_a_missing_bucket_is_a_missing_object_too(big: Application) -> None:
    """A pointer into a bucket that does not exist: payload_missing."""
    send_pointer(big, Pointer("no-such-bucket", "k").body())
    Worker(big).run_once()
    [letter] = receive(big, big.dead_letters.url)
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == "payload_missing"


def test_s3_unreachable_leaves_the_event_for_a_retry(big: Application, s3: Any) -> None:
    """S3 cannot be reached: nothing runs, nothing is dead-lettered; the next attempt reads it."""
    faults = S3Faults(s3)
    faults.fail("GetObject", EndpointConnectionError(endpoint_url="http://s3.invalid"))
    send_pointer(big, put_event(s3, event("lead.created", LEAD_DATA)).body())
    worker = Worker(big)
    worker.policy = replace(worker.policy, base=0.0)  # the retry is due at once
    worker.settler.policy = worker.policy
    with capture_logs() as logs:
        worker.run_once()
    assert [line["event"] for line in logs if line["event"] in ("payload_read_failed", "event_retry")] == [
        "payload_read_failed",
        "event_retry",
    ]
    assert receive(big, big.dead_letters.url) == [] and receive(big, big.queues["mail.queue"].url) == []
    worker.run_once()
    assert len(receive(big, big.queues["mail.queue"].url)) == 1
    assert receive(big, big.dead_letters.url) == []


def test_s3_down_for_every_attempt_ends_in_attempts_exhausted(big: Application, s3: Any) -> None:
    """A payload that cannot be read on the last attempt is dead-lettered with the last S3 error."""
    S3Faults(s3).fail("GetObject", EndpointConnectionError(endpoint_url="http://s3.invalid"), times=5)
    send_pointer(big, put_event(s3, event("lead.created", LEAD_DATA)).body())
    worker = Worker(big)
    worker.policy = replace(worker.policy, max_attempts=1)
    worker.settler.policy = worker.policy
    worker.run_once()
    [letter] = receive(big, big.dead_letters.url)
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == "attempts_exhausted"
    assert "S3 EndpointConnectionError" in letter["MessageAttributes"]["error_message"]["StringValue"]


def test_an_object_s3_refuses_for_good_is_unreadable(big: Application, s3: Any) -> None:
    """Access denied is no passing trouble: payload_unreadable, the pointer kept."""
    S3Faults(s3).fail("GetObject", denied("GetObject"))
    body = put_event(s3, event("lead.created", LEAD_DATA)).body()
    send_pointer(big, body)
    Worker(big).run_once()
    [letter] = receive(big, big.dead_letters.url)
    assert letter["Body"] == body
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == "payload_unreadable"
    assert "AccessDenied" in letter["MessageAttributes"]["error_message"]["StringValue"]


def test_an_object_bigger_than_the_worker_reads_is_unreadable(big: Application, s3: Any) -> None:
    """An object over the read limit is not read into memory: payload_unreadable, the pointer kept."""
    small = replace(big, payloads=replace_store(big.payloads, S3Payloads(s3, limit=1024)))
    body = put_event(s3, event("lead.created", {**LEAD_DATA, "notes": "n" * 2048})).body()
    send_pointer(small, body)
    Worker(small).run_once()
    [letter] = receive(small, small.dead_letters.url)
    assert letter["Body"] == body
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == "payload_unreadable"
    assert "more than the worker reads" in letter["MessageAttributes"]["error_message"]["StringValue"]
    assert receive(small, small.queues["mail.queue"].url) == []


def replace_store(payloads: LargePayloads, store: S3Payloads) -> LargePayloads:
    return LargePayloads(store, payloads.bucket, payloads.threshold)


def test_an_s3_object_that_is_no_event_is_bad_input(big: Application, s3: Any) -> None:
    """The object's content is checked as any event message: a lead without a guid is missing_field."""
    lead = event("lead.created", LEAD_DATA)
    del lead["guid"]
    send_pointer(big, put_event(s3, lead).body())
    Worker(big).run_once()
    [letter] = receive(big, big.dead_letters.url)
    assert letter["MessageAttributes"]["error_type"]["StringValue"] == "missing_field"
    assert json.loads(letter["Body"])[0] == POINTER_CLASS


# -- out ------------------------------------------------------------------------------
def test_an_output_above_the_threshold_is_stored_in_s3(big: Application, s3: Any) -> None:
    """A 300 KiB mail goes to S3; the queue gets the pointer with ExtendedPayloadSize (a Number)."""
    category = "c" * 300 * 1024
    big.client.send_message(
        QueueUrl=big.events.url,
        MessageBody=json.dumps(event("lead.created", {**LEAD_DATA, "category": category})),
    )
    worker = Worker(big)
    with capture_logs() as logs:
        worker.run_once()
    [mail] = receive(big, big.queues["mail.queue"].url)
    size = mail["MessageAttributes"][SIZE_ATTRIBUTE]
    assert size["DataType"] == "Number"
    flat = {name: value["StringValue"] for name, value in mail["MessageAttributes"].items()}
    pointer = pointer_of(mail["Body"], flat)
    assert pointer is not None and pointer.bucket == BUCKET
    assert pointer.key.startswith(flat["output_id"] + "/")
    stored = s3.get_object(Bucket=BUCKET, Key=pointer.key)["Body"].read()
    assert len(stored) == int(size["StringValue"])
    assert json.loads(stored)["data"]["CATEGORY"] == category
    [line] = [line for line in logs if line["event"] == "action_sent"]
    assert line["payload"] == str(pointer)
    assert worker.metrics.large_payloads.labels("stored")._value.get() == 1


def test_an_output_within_the_threshold_goes_as_it_is(big: Application, s3: Any) -> None:
    """A usual mail is sent whole; nothing is stored."""
    big.client.send_message(QueueUrl=big.events.url, MessageBody=json.dumps(event("lead.created", LEAD_DATA)))
    Worker(big).run_once()
    [mail] = receive(big, big.queues["mail.queue"].url)
    assert SIZE_ATTRIBUTE not in mail["MessageAttributes"]
    assert json.loads(mail["Body"])["email"] == LEAD_DATA["email"]
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_the_threshold_defaults_to_the_queue_s_maximum_message_size(app: Application, s3: Any) -> None:
    """With no threshold set, an output goes through S3 only when it is bigger than its queue takes."""
    mail = app.queues["mail.queue"]
    app.client.set_queue_attributes(QueueUrl=mail.url, Attributes={"MaximumMessageSize": "1024"})
    mail.refresh_attributes()
    sized = replace(app, payloads=LargePayloads(S3Payloads(s3), BUCKET))
    sized.client.send_message(
        QueueUrl=app.events.url,
        MessageBody=json.dumps(event("lead.created", {**LEAD_DATA, "category": "c" * 2000})),
    )
    Worker(sized).run_once()
    [message] = receive(app, mail.url)
    assert SIZE_ATTRIBUTE in message["MessageAttributes"]


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (EndpointConnectionError(endpoint_url="http://s3.invalid"), "retried"),
        (denied("PutObject"), "dead_lettered"),
    ],
)
def test_an_output_s3_cannot_store_is_retried_or_rejected(
    big: Application, s3: Any, error: Exception, outcome: str
) -> None:
    """S3 unreachable: the event is retried; S3 refusing for good: output_rejected. Nothing is sent."""
    S3Faults(s3).fail("PutObject", error)
    body = json.dumps(event("lead.created", {**LEAD_DATA, "category": "c" * 300_000}))
    big.client.send_message(QueueUrl=big.events.url, MessageBody=body)
    worker = Worker(big)
    worker.run_once()
    assert receive(big, big.queues["mail.queue"].url) == []
    assert worker.metrics.events_processed.labels("lead.created", outcome)._value.get() == 1
    letters = receive(big, big.dead_letters.url)
    if outcome == "dead_lettered":
        [letter] = letters
        assert letter["MessageAttributes"]["error_type"]["StringValue"] == "output_rejected"
        assert "S3.AccessDenied" in letter["MessageAttributes"]["error_message"]["StringValue"]
    else:
        assert letters == []


# -- the S3 client ------------------------------------------------------------------
def clear_endpoints(monkeypatch: pytest.MonkeyPatch, **environ: str) -> None:
    """boto3's endpoint variables as ``environ`` says, and no others."""
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("environ", "s3_endpoint", "sqs_endpoint"),
    [
        (
            {"AWS_ENDPOINT_URL_S3": "http://s3.test:9000", "AWS_ENDPOINT_URL": "http://all.test:4566"},
            "http://s3.test:9000",
            "http://all.test:4566",
        ),
        ({"AWS_ENDPOINT_URL": "http://all.test:4566"}, "http://all.test:4566", "http://all.test:4566"),
        ({"AWS_ENDPOINT_URL_SQS": "http://sqs.test:9324"}, None, "http://sqs.test:9324"),
    ],
)
def test_the_s3_client_follows_boto3_s_endpoint_variables(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], s3_endpoint: str | None, sqs_endpoint: str
) -> None:
    """AWS_ENDPOINT_URL_S3 first, then AWS_ENDPOINT_URL; the SQS variable leaves S3 at AWS."""
    clear_endpoints(monkeypatch, **environ)
    settings = Settings.from_env(environ)
    s3_url = make_client(settings, service="s3").meta.endpoint_url
    if s3_endpoint is None:
        assert s3_url.endswith(".amazonaws.com")
    else:
        assert s3_url == s3_endpoint
    assert make_client(settings).meta.endpoint_url == sqs_endpoint


def test_connect_makes_the_s3_client_of_large_payloads(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no S3 client given, connect makes one as boto3's variables say."""
    clear_endpoints(monkeypatch, AWS_ENDPOINT_URL_S3="http://s3.test:9000")
    connected = connect(load_site(app.settings), app.client)
    assert connected.payloads.store.client.meta.endpoint_url == "http://s3.test:9000"
    assert connected.payloads.store.client.meta.service_model.service_name == "s3"
    connected.close()


def test_the_embedded_endpoint_serves_s3_and_makes_the_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    """In development the embedded endpoint is S3 too: the bucket is there and takes objects."""
    clear_endpoints(monkeypatch)
    settings = Settings.from_env(
        {"CHOREOGRAPHER_EMBEDDED_PORT": str(free_port()), "CHOREOGRAPHER_LARGE_PAYLOAD_BUCKET": BUCKET}
    )
    app = bootstrap(settings)
    try:
        client = app.payloads.store.client
        assert client.meta.endpoint_url == settings.embedded_url
        app.payloads.store.store(Pointer(BUCKET, "k"), b"payload")
        assert app.payloads.store.read(Pointer(BUCKET, "k")) == b"payload"
    finally:
        app.close()


def test_an_s3_endpoint_of_one_s_own_keeps_development_off_the_embedded_s3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWS_ENDPOINT_URL_S3 in development: SQS is embedded, S3 is the one named (no bucket made)."""
    # Nothing listens there: a bucket made (or any S3 call) at start-up would fail it.
    clear_endpoints(monkeypatch, AWS_ENDPOINT_URL_S3="http://127.0.0.1:9")
    environ = {
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
        "CHOREOGRAPHER_EMBEDDED_PORT": str(free_port()),
        "CHOREOGRAPHER_LARGE_PAYLOAD_BUCKET": BUCKET,
    }
    settings = Settings.from_env(environ)
    assert settings.embedded and settings.s3_endpoint_url == "http://127.0.0.1:9"
    app = bootstrap(settings)
    try:
        assert app.payloads.store.client.meta.endpoint_url == "http://127.0.0.1:9"
        assert app.client.meta.endpoint_url == settings.embedded_url
    finally:
        app.close()


# -- settings ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        (
            "CHOREOGRAPHER_LARGE_PAYLOAD_BUCKET",
            "Not_A_Bucket",
            "CHOREOGRAPHER_LARGE_PAYLOAD_BUCKET must be an S3",
        ),
        ("CHOREOGRAPHER_LARGE_PAYLOAD_BUCKET", "a..b", "bucket name"),
        ("CHOREOGRAPHER_LARGE_PAYLOAD_THRESHOLD", "2000000", "CHOREOGRAPHER_LARGE_PAYLOAD_THRESHOLD must be"),
        ("CHOREOGRAPHER_LARGE_PAYLOAD_THRESHOLD", "big", "must be a number"),
    ],
)
def test_bad_large_payload_settings_name_the_variable(variable: str, value: str, words: str) -> None:
    """A bucket that is no bucket name, a threshold beyond SQS's: an error naming the variable."""
    with pytest.raises(SettingsError, match=words):
        Settings.from_env({variable: value})


def test_large_payload_settings_are_read() -> None:
    """The bucket and the threshold come from their variables; unset, no bucket and the queue's size."""
    settings = Settings.from_env(
        {
            "CHOREOGRAPHER_LARGE_PAYLOAD_BUCKET": "briefy-payloads",
            "CHOREOGRAPHER_LARGE_PAYLOAD_THRESHOLD": "262144",
        }
    )
    assert (settings.large_payload_bucket, settings.large_payload_threshold) == ("briefy-payloads", 262_144)
    assert (Settings.from_env({}).large_payload_bucket, Settings.from_env({}).large_payload_threshold) == (
        None,
        0,
    )
