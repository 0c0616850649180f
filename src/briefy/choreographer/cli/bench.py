"""``choreographer bench``: the throughput benchmark (README "Performance")."""

from __future__ import annotations

import sys
from typing import Any

import orjson

from briefy.choreographer.bench.options import Options
from briefy.choreographer.cli.common import FAILED, OK, USAGE, fail, guarded


def register(subparsers: Any) -> None:
    """Add ``bench``."""
    parser = subparsers.add_parser(
        "bench",
        help="measure throughput against moto's server and in process",
        description="Start moto's server on a free loopback port and measure, from one run: the "
        "worker with its default settings, the transport ceiling (a plain batched boto3 loop doing "
        "the same queue work), the seed's original loop, and the in-process pipeline with no I/O; "
        "then judge the targets of issue 4. Exits 1 when an output was wrong or missing (and, "
        "with --check, when a target is missed).",
    )
    defaults = Options()
    for flag, text in (
        ("--events", "events per loop and round"),
        ("--rounds", "rounds of worker and ceiling, alternating"),
        ("--window", "most events awaiting their output at once"),
        ("--warmup", "events through each loop before it is measured"),
        ("--seed-events", "events through the seed's loop"),
        ("--inprocess-events", "events through the in-process pipeline"),
    ):
        default = getattr(defaults, flag[2:].replace("-", "_"))
        parser.add_argument(flag, type=int, default=default, metavar="N", help=f"{text} ({default})")
    parser.add_argument(
        "--concurrency", type=int, default=None, metavar="N", help="CHOREOGRAPHER_CONCURRENCY of both loops"
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.set_defaults(run=guarded(run))


def run(args: Any) -> int:
    """Run the benchmark and print its report."""
    from briefy.choreographer.bench.report import as_json, integrity, render, targets
    from briefy.choreographer.bench.run import run as bench

    counts = (args.events, args.rounds, args.window, args.seed_events, args.inprocess_events)
    if min(counts) < 1 or args.warmup < 1 or (args.concurrency is not None and args.concurrency < 1):
        fail("counts must be at least 1", USAGE)
    if args.window < 10:
        fail("--window must be at least 10 (the feeder sends batches of 10)", USAGE)
    options = Options(
        events=args.events,
        rounds=args.rounds,
        window=args.window,
        warmup=args.warmup,
        seed_events=args.seed_events,
        inprocess_events=args.inprocess_events,
        concurrency=args.concurrency,
    )
    report = bench(options, progress=lambda text: print(f"bench: {text}", file=sys.stderr, flush=True))
    print(orjson.dumps(as_json(report), option=orjson.OPT_INDENT_2).decode() if args.json else render(report))
    if integrity(report):
        return FAILED
    if args.check and not all(target.met for target in targets(report)):
        return FAILED
    return OK
