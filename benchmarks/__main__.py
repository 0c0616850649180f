"""``python -m benchmarks`` (``make bench``): the throughput benchmark (docs/performance.rst)."""

from __future__ import annotations

import argparse
import signal
import sys

import orjson

from benchmarks.options import Options


def parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Start moto's server on a free loopback port and measure, from one run, the "
        "worker with its defaults in production mode against the plain boto3 loop a user would "
        "write (the ceiling), under a steady stream and draining a backlog, and the in-process "
        "pipeline. Exits 1 when an output was wrong or missing (and, with --check, when a target "
        "is missed), 2 when it cannot run.",
    )
    defaults = Options()
    for flag, text in (
        ("--events", "events per loop and round of the steady stream"),
        ("--backlog", "events waiting when a loop starts draining the backlog"),
        ("--rounds", "rounds of the worker beside the ceiling (and one of the ceiling beside itself)"),
        ("--window", "most events awaiting their output at once in the steady stream"),
        ("--warmup", "events through each loop before it is measured"),
        ("--inprocess-events", "events through the in-process pipeline"),
    ):
        default = getattr(defaults, flag[2:].replace("-", "_"))
        parser.add_argument(flag, type=int, default=default, metavar="N", help=f"{text} ({default})")
    parser.add_argument(
        "--concurrency", type=int, default=None, metavar="N", help="CHOREOGRAPHER_CONCURRENCY of the worker"
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser


def missing() -> str:
    """What the benchmark needs and is not there ("" when all is)."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return "it needs moto's server: pip install -e '.[test]' in a checkout (make bench does)"
    try:
        import tests.reference  # noqa: F401
    except ImportError:
        return "run it from a checkout of the repository (it uses the tests' reference data)"
    return ""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its report."""
    args = parser().parse_args(argv)
    if problem := missing():
        print(f"benchmarks: cannot run: {problem}", file=sys.stderr)
        return 2
    from benchmarks.report import as_json, integrity, render, targets
    from benchmarks.run import run as bench

    counts = (args.events, args.backlog, args.rounds, args.window, args.warmup, args.inprocess_events)
    if min(counts) < 1 or args.window < 10:
        print("benchmarks: counts must be at least 1, --window at least 10", file=sys.stderr)
        return 2
    options = Options(
        events=args.events,
        backlog=args.backlog,
        rounds=args.rounds,
        window=args.window,
        warmup=args.warmup,
        inprocess_events=args.inprocess_events,
        concurrency=args.concurrency,
    )
    # SIGTERM unwinds like Ctrl-C: moto's server and the loop under test are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = bench(options, progress=lambda text: print(f"bench: {text}", file=sys.stderr, flush=True))
    print(orjson.dumps(as_json(report), option=orjson.OPT_INDENT_2).decode() if args.json else render(report))
    if integrity(report):
        return 1
    if args.check and not all(target.met for target in targets(report)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
