"""Dead letters in moto's mock: looking without consuming, redriving without losing any."""

from __future__ import annotations

import itertools
import json
import uuid
from collections import Counter
from typing import Any

import pytest

from briefy.choreographer.admin.deadletters import DeadLetter, Filter, Redrive, RedriveReport, peek
from briefy.choreographer.bootstrap import Application
from briefy.choreographer.cli.dlq import groups
from briefy.choreographer.errors import BadInput
from briefy.choreographer.events import parse_event
from briefy.choreographer.pipeline.deadletter import letter
from briefy.choreographer.pipeline.job import Job
from briefy.choreographer.pipeline.state import SEAL, STATE, RetryState
from briefy.common.queue.message import OutgoingMessage, SQSMessage
from tests.faults import Faults, to_queue
from tests.support import LEAD_DATA, MAIL_DATA, TEST_SEAL, event


def dead_letter(
    body: str, error_type: str = "output_rejected", done: list[str] | None = None, message_id: str = ""
) -> OutgoingMessage:
    """The dead letter the worker writes for ``body`` (parsed when it is an event)."""
    message = SQSMessage(message_id or str(uuid.uuid4()), "receipt", body, {}, {})
    job = Job(message, RetryState(tuple(done or ())))
    try:
        job.event = parse_event(body, message.message_id)
        job.bad = BadInput(error_type, "the reason", job.event.event_name)
    except BadInput as error:
        job.bad = error
    return letter(job, job.bad.error_type, job.bad.message, TEST_SEAL)


def fill(app: Application, *letters: OutgoingMessage) -> None:
    assert app.dead_letters is not None
    assert all(result.ok for result in app.dead_letters.write_messages(list(letters)))


def events_of(name: str, count: int) -> list[str]:
    data = LEAD_DATA if name == "lead.created" else MAIL_DATA
    return [json.dumps(event(name, data)) for _ in range(count)]


def take_all(app: Application, url: str) -> list[dict[str, Any]]:
    """Receive (and hide) every message of a queue."""
    found: list[dict[str, Any]] = []
    while True:
        response = app.client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, MessageAttributeNames=["All"]
        )
        if not response.get("Messages"):
            return found
        found += response["Messages"]


def redrive(app: Application, **options: Any) -> Redrive:
    assert app.dead_letters is not None and app.events is not None
    return Redrive(app.dead_letters, app.events, wait=0, **options)


def test_peek_shows_reasons_and_consumes_nothing(app: Application) -> None:
    """peek returns the letters with their reasons; all are visible again right after."""
    fill(app, dead_letter("{broken"), *(dead_letter(body) for body in events_of("lead.created", 2)))
    assert app.dead_letters is not None
    letters = peek(app.dead_letters, 50, wait=0)
    assert sorted((letter.error_type, letter.event_name) for letter in letters) == [
        ("invalid_json", ""),
        ("output_rejected", "lead.created"),
        ("output_rejected", "lead.created"),
    ]
    assert all(letter.reason("failed_at") and letter.reason("worker") for letter in letters)
    assert len(take_all(app, app.dead_letters.url or "")) == 3


def test_peek_filters_and_limits(app: Application) -> None:
    """Only matching letters are shown, at most ``limit`` of them; the others stay too."""
    fill(app, *(dead_letter(b) for b in events_of("lead.created", 5) + events_of("mail.sent", 3)))
    assert app.dead_letters is not None
    letters = peek(app.dead_letters, 2, Filter(event_names={"mail.sent"}), wait=0)
    assert [letter.event_name for letter in letters] == ["mail.sent", "mail.sent"]
    assert len(take_all(app, app.dead_letters.url or "")) == 8


def test_letters_are_grouped_by_error_type_and_event_name(app: Application) -> None:
    """Groups are (error type, event name), the largest first."""
    fill(app, dead_letter("{x"), *(dead_letter(b, "invalid_payload") for b in events_of("lead.created", 2)))
    assert app.dead_letters is not None
    found = [(t, n, len(m)) for t, n, m in groups(peek(app.dead_letters, 10, wait=0))]
    assert found == [("invalid_payload", "lead.created", 2), ("invalid_json", "", 1)]


def test_redriven_message_keeps_its_sealed_state_and_drops_the_reasons() -> None:
    """Only the sealed retry state (and foreign attributes) survive a redrive, and the seal still opens."""
    [body] = events_of("lead.created", 1)
    letter = dead_letter(body, done=["lead.created.mail"])
    attributes = {**letter.attributes, "traceparent": "00-abc"}
    out = DeadLetter(SQSMessage("m-1", "r", letter.body, {}, attributes)).redriven()
    assert out.body == body
    assert set(out.attributes) == {STATE, SEAL, "traceparent"}
    reading = TEST_SEAL.read(out.attributes, out.body)
    assert reading.ignored == ""
    assert reading.state == RetryState(("lead.created.mail",), 0, json.loads(body)["id"])


def test_redrive_moves_every_letter_back(app: Application) -> None:
    """25 letters go back to the events queue, with their carried attributes; the DLQ is empty."""
    bodies = events_of("lead.created", 25)
    fill(app, *(dead_letter(body, done=["x"]) for body in bodies))
    report = redrive(app).run()
    assert (len(report.moved), report.ok, report.interrupted) == (25, True, False)
    moved = take_all(app, app.events.url or "")  # type: ignore[union-attr]
    assert sorted(m["Body"] for m in moved) == sorted(bodies)
    assert all(set(m["MessageAttributes"]) == {STATE, SEAL} for m in moved)
    assert take_all(app, app.dead_letters.url or "") == []  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        (Filter(event_names={"mail.sent"}), 3),
        (Filter(error_types={"invalid_json"}), 1),
        (Filter(event_names={"lead.created"}, error_types={"invalid_json"}), 0),
    ],
)
def test_redrive_takes_only_matching_letters(app: Application, match: Filter, expected: int) -> None:
    """Filters by event name and error type; the rest stays in the DLQ."""
    fill(
        app,
        dead_letter("{x"),
        *(dead_letter(b) for b in events_of("lead.created", 4) + events_of("mail.sent", 3)),
    )
    report = redrive(app, match=match).run()
    assert len(report.moved) == expected and report.not_matching == 8 - expected
    assert len(take_all(app, app.dead_letters.url or "")) == 8 - expected  # type: ignore[union-attr]


def test_dry_run_moves_nothing(app: Application) -> None:
    """A dry run reports what would move and leaves both queues as they were."""
    fill(app, *(dead_letter(b) for b in events_of("mail.sent", 12)))
    report = redrive(app, dry_run=True).run()
    assert len(report.moved) == 12 and report.dry_run
    assert take_all(app, app.events.url or "") == []  # type: ignore[union-attr]
    assert len(take_all(app, app.dead_letters.url or "")) == 12  # type: ignore[union-attr]


def test_limit_caps_what_moves(app: Application) -> None:
    """--limit N moves N letters and no more."""
    fill(app, *(dead_letter(b) for b in events_of("mail.sent", 15)))
    assert len(redrive(app, limit=4).run().moved) == 4
    assert len(take_all(app, app.events.url or "")) == 4  # type: ignore[union-attr]


def test_letters_dead_lettered_again_during_the_run_stay(app: Application) -> None:
    """When the worker dead-letters a redriven event again, the new letter is not moved again."""
    fill(app, *(dead_letter(b) for b in events_of("mail.sent", 15)))
    run = redrive(app)

    def worker_fails_them_again(_: int, report: RedriveReport) -> None:
        if report.examined > 100:  # going round in circles: stop, and fail below
            run.stop()
        if report.arrived == 0 and run.sent:
            sent = sorted(run.sent)[:3]
            fill(app, *(dead_letter("{again", message_id=message_id) for message_id in sent))

    report = run.run(worker_fails_them_again)
    assert (len(report.moved), report.arrived) == (15, 3)
    assert [m["Body"] for m in take_all(app, app.dead_letters.url or "")] == ["{again"] * 3  # type: ignore[union-attr]


def every_body(app: Application) -> Counter[str]:
    """How often each body is in the DLQ and the events queue together."""
    bodies = take_all(app, app.dead_letters.url or "") + take_all(app, app.events.url or "")  # type: ignore[union-attr]
    return Counter(m["Body"] for m in bodies)


def test_stop_between_batches_loses_nothing(app: Application) -> None:
    """stop() (Ctrl-C) after the first batch: 10 moved, 15 left, every letter exactly once."""
    bodies = events_of("lead.created", 25)
    fill(app, *(dead_letter(b) for b in bodies))
    run = redrive(app)
    report = run.run(lambda *_: run.stop())
    assert (len(report.moved), report.interrupted, report.ok) == (10, True, True)
    assert every_body(app) == Counter(bodies)


def test_failed_send_stops_and_loses_nothing(app: Application) -> None:
    """The second batch's send fails: the run stops; each letter is in exactly one queue."""
    bodies = events_of("lead.created", 25)
    fill(app, *(dead_letter(b) for b in bodies))
    calls = itertools.count()
    events_queue = to_queue(app.events.url.rsplit("/", 1)[-1])  # type: ignore[union-attr]
    Faults(app.client).fail(
        "SendMessageBatch", how="5xx", when=lambda p: events_queue(p) and next(calls) == 1
    )
    report = redrive(app).run()
    assert (len(report.moved), len(report.failed), report.ok) == (10, 10, False)
    assert every_body(app) == Counter(bodies)


def test_failed_delete_duplicates_but_loses_nothing(app: Application) -> None:
    """A delete that fails after the send leaves a copy in the DLQ: reported, sent only once."""
    bodies = events_of("lead.created", 25)
    fill(app, *(dead_letter(b) for b in bodies))
    Faults(app.client).fail("DeleteMessageBatch", how="connection")
    report = redrive(app).run()
    assert (len(report.moved), len(report.not_deleted), report.ok) == (25, 10, False)
    assert len(take_all(app, app.events.url or "")) == 25  # type: ignore[union-attr]
    assert len(take_all(app, app.dead_letters.url or "")) == 10  # type: ignore[union-attr]
