"""``choreographer dlq show|redrive``: why events were dead-lettered, and moving them back."""

from __future__ import annotations

import argparse
import re
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from tqdm import tqdm

from briefy.choreographer.admin.deadletters import (
    DeadLetter,
    Filter,
    Redrive,
    RedriveReport,
    peek,
)
from briefy.choreographer.cli.common import (
    FAILED,
    INTERRUPTED,
    OK,
    guarded,
    load,
    positive,
    settings_for_tool,
)
from briefy.choreographer.cli.sqs import client_for, events_and_dead_letters, talking_to
from briefy.choreographer.cli.table import table
from briefy.choreographer.errors import ERROR_TYPES
from briefy.common.queue import approximate_count

BODY_PREVIEW = 160


def register(subparsers: Any) -> None:
    """Add ``dlq`` with ``show`` and ``redrive``."""
    parser = subparsers.add_parser(
        "dlq",
        help="show dead letters with their reasons, or move them back",
        description="The dead-letter queue of the events queue (the one the worker uses: "
        "CHOREOGRAPHER_DEAD_LETTER_QUEUE, else the events queue's redrive target, else events-dlq).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show",
        help="list dead letters with their reasons, grouped; consumes nothing",
        description="List dead letters grouped by error type and event name, each with its "
        "reason, when and where it failed, the actions already done and its body. Nothing is "
        "consumed: the letters are received for a moment and made visible again at once (each "
        "look adds one to their SQS receive count).",
    )
    _filters(show)
    show.add_argument("--limit", type=positive, default=50, help="show at most N letters (default 50)")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    show.set_defaults(run=guarded(run_show), command="dlq show")
    redrive = actions.add_parser(
        "redrive",
        help="move dead letters back to the events queue",
        description="Move dead letters back to the events queue, in batches of 10: each batch "
        "is sent first and deleted from the dead-letter queue only after the send succeeded, "
        "so nothing is lost if the run stops. Ctrl-C stops after the batch in progress and "
        "reports what moved (exit 130). A redriven event keeps its id and the record of the "
        "actions already done (they are not repeated); its reason attributes are dropped.",
    )
    _filters(redrive)
    redrive.add_argument("--limit", type=positive, default=None, help="move at most N letters")
    redrive.add_argument("--dry-run", action="store_true", help="show what would move; move nothing")
    redrive.add_argument("--json", action="store_true", help="print a JSON report for scripts")
    redrive.set_defaults(run=guarded(run_redrive), command="dlq redrive")


def _filters(parser: Any) -> None:
    parser.add_argument(
        "--event-name",
        action="append",
        default=[],
        metavar="NAME",
        help="only letters of this event name (repeat for several)",
    )
    parser.add_argument(
        "--error-type",
        action="append",
        default=[],
        metavar="TYPE",
        type=error_type,
        help="only letters with this error type, e.g. invalid_json (repeat for several); this version "
        f"writes {', '.join(sorted(ERROR_TYPES))}, and letters another version wrote may have others",
    )


#: What an error type looks like (every type any version writes: lower case words joined by ``_``).
ERROR_TYPE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def error_type(text: str) -> str:
    """An ``--error-type``: any well-formed type, since letters another version of the worker wrote
    may have types this one does not (``note_unknown`` says so); a malformed one is refused with
    the types this version writes."""
    if ERROR_TYPE.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an error type (lower case words joined by _); this version writes: "
            + ", ".join(sorted(ERROR_TYPES))
        )
    return text


def note_unknown(error_types: list[str]) -> None:
    """Say on stderr which of ``error_types`` this version never writes (a typo, or another
    version's type): the filter still takes letters that have it."""
    unknown = [name for name in error_types if name not in ERROR_TYPES]
    if unknown:
        print(
            f"note: this version writes no error type {', '.join(map(repr, unknown))} (letters another "
            f"version wrote may have it); it writes: {', '.join(sorted(ERROR_TYPES))}",
            file=sys.stderr,
        )


def _bind(settings: Any) -> tuple[Any, Any, Any]:
    site = load(settings)
    client = client_for(settings)
    with talking_to(client, settings):
        events, dead_letters = events_and_dead_letters(client, site)
    return client, events, dead_letters


# -- show --------------------------------------------------------------------
def groups(letters: list[DeadLetter]) -> list[tuple[str, str, list[DeadLetter]]]:
    """Letters grouped by (error type, event name), the largest group first."""
    found: dict[tuple[str, str], list[DeadLetter]] = {}
    for letter in letters:
        found.setdefault((letter.error_type, letter.event_name), []).append(letter)
    ordered = sorted(found.items(), key=lambda item: (-len(item[1]), item[0]))
    return [(error_type, event_name, members) for (error_type, event_name), members in ordered]


def _when(timestamp: str) -> str:
    """An ISO 8601 time as ``2026-11-29 00:24:00 UTC`` (as it is if it is not one)."""
    try:
        moment = datetime.fromisoformat(timestamp).astimezone(UTC)
    except ValueError:
        return timestamp or "at an unknown time"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_letter(letter: DeadLetter) -> list[str]:
    """One letter as indented lines."""
    info = letter.as_dict()
    head = f"  {info['message_id']}  failed {_when(info['failed_at'])}"
    if info["receive_count"]:
        head += f"  attempt {info['receive_count']}"
    if info["worker"]:
        head += f"  by {info['worker']}"
    lines = [head]
    if info["error_message"]:
        lines.append(f"      reason   {info['error_message']}")
    if info["event_id"]:
        lines.append(f"      event id {info['event_id']}")
    if info["envelope"]:
        envelope = info["envelope"]
        source = "topic" if envelope["kind"] == "sns" else "source"
        lines.append(f"      envelope {envelope['kind']} ({source} {envelope['origin']})")
    if info["done"]:
        done = ", ".join(info["done"])
        lines.append(f"      done     {done} (a redrive skips these where the state key opens the seal)")
    body = " ".join(letter.message.body.split())
    if len(body) > BODY_PREVIEW:
        body = body[: BODY_PREVIEW - 3] + "..."
    lines.append(f"      body     {body}")
    return lines


def render_show(queue_name: str, total: int, letters: list[DeadLetter], filtered: bool) -> str:
    if not letters:
        what = "no dead letters match the filters" if filtered and total else "no dead letters"
        return f"{queue_name}: {what} (about {total} in the queue)."
    parts = [
        f"{queue_name}: about {total} dead letter(s); showing {len(letters)}"
        + (" that match the filters" if filtered else ""),
        "",
        table(
            ("count", "error type", "event name"),
            [(len(members), t, n or "(none)") for t, n, members in groups(letters)],
            indent="  ",
        ),
    ]
    for error_type, event_name, members in groups(letters):
        parts += ["", f"{error_type} / {event_name or '(no event name)'}: {len(members)}"]
        for letter in members:
            parts += render_letter(letter)
    return "\n".join(parts)


def run_show(args: Any) -> int:
    """List the dead letters."""
    settings = settings_for_tool()
    note_unknown(args.error_type)
    client, _, dead_letters = _bind(settings)
    match = Filter(args.event_name, args.error_type)
    with talking_to(client, settings):
        total = approximate_count(dead_letters.client, dead_letters.url)
        letters = peek(dead_letters, args.limit, match)
    if args.json:
        grouped = [
            {
                "error_type": t,
                "event_name": n,
                "count": len(members),
                "letters": [letter.as_dict() for letter in members],
            }
            for t, n, members in groups(letters)
        ]
        result = {"queue": dead_letters.queue_name, "approximate_count": total, "shown": len(letters)}
        print(orjson.dumps({**result, "groups": grouped}, option=orjson.OPT_INDENT_2).decode())
    else:
        filtered = bool(args.event_name or args.error_type)
        print(render_show(dead_letters.queue_name, total, letters, filtered))
    return OK


# -- redrive -----------------------------------------------------------------
@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """First SIGINT/SIGTERM: ``stop()`` after the batch in progress; a second: stop at once."""
    asked: list[int] = []

    def handle(signum: int, _: Any) -> None:
        if asked:
            raise KeyboardInterrupt
        asked.append(signum)
        print(
            "\nstopping after the batch in progress (press Ctrl-C again to stop at once)",
            file=sys.stderr,
        )
        stop()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def report_dict(report: RedriveReport, source: str, target: str) -> dict[str, Any]:
    """The report for scripts."""
    counts = Counter((letter.event_name, letter.error_type) for letter in report.moved)
    return {
        "dry_run": report.dry_run,
        "from": source,
        "to": target,
        "examined": report.examined,
        "moved": len(report.moved),
        "by": [
            {"event_name": name, "error_type": error_type, "count": count}
            for (name, error_type), count in sorted(counts.items())
        ],
        "not_matching": report.not_matching,
        "arrived_during_run": report.arrived,
        "failed": [{"message_id": letter.message.message_id, "error": why} for letter, why in report.failed],
        "not_deleted": [letter.message.message_id for letter in report.not_deleted],
        "interrupted": report.interrupted,
        "error": report.error or None,
    }


def render_redrive(report: RedriveReport, source: str, target: str) -> str:
    """The report for people."""
    verb = "would move" if report.dry_run else "moved"
    lines = []
    if report.interrupted:
        lines.append(f"interrupted: stopped between batches; the rest is still in {source}.")
    lines.append(f"{verb} {len(report.moved)} dead letter(s) from {source} to {target}.")
    if report.moved:
        counts = Counter((letter.event_name or "(none)", letter.error_type) for letter in report.moved)
        rows = [(count, name, error_type) for (name, error_type), count in sorted(counts.items())]
        lines.append(table(("count", "event name", "error type"), rows, indent="  "))
    if report.arrived:
        lines.append(
            f"{report.arrived} dead-lettered while the redrive ran (one just moved may have failed "
            f"again): left in {source}."
        )
    if report.not_matching:
        lines.append(f"{report.not_matching} did not match the filters: left in {source}.")
    for letter, why in report.failed:
        lines.append(f"NOT moved (still in {source}): {letter.message.message_id}: {why}")
    for letter in report.not_deleted:
        lines.append(
            f"sent but NOT deleted from {source} (it will show there again; a second redrive "
            f"would send it twice): {letter.message.message_id}"
        )
    if report.error:
        lines.append(f"stopped by an SQS error: {report.error}; nothing was lost.")
    if report.dry_run:
        lines.append("dry run: nothing was moved.")
    return "\n".join(lines)


def run_redrive(args: Any) -> int:
    """Move dead letters back to the events queue."""
    settings = settings_for_tool()
    note_unknown(args.error_type)
    client, events, dead_letters = _bind(settings)
    redrive = Redrive(
        dead_letters, events, Filter(args.event_name, args.error_type), args.limit, args.dry_run
    )
    with talking_to(client, settings):
        total = approximate_count(dead_letters.client, dead_letters.url)
    with (
        tqdm(total=total, unit="letter", desc="redrive", file=sys.stderr, disable=None, leave=False) as bar,
        stop_on_signals(redrive.stop),
    ):

        def progress(examined: int, report: RedriveReport) -> None:
            bar.update(examined)
            bar.set_postfix(moved=len(report.moved), refresh=False)

        report = redrive.run(progress)
    source, target = dead_letters.queue_name, events.queue_name
    if args.json:
        print(orjson.dumps(report_dict(report, source, target), option=orjson.OPT_INDENT_2).decode())
    else:
        print(render_redrive(report, source, target))
    if not report.ok:
        return FAILED
    return INTERRUPTED if report.interrupted else OK
