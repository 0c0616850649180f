"""``python -m benchmarks`` (``make bench``): the throughput benchmark (README "Performance")."""

from __future__ import annotations

import argparse
import sys

import orjson

from benchmarks.options import Options


def parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Start moto's server on a free loopback port and measure, from one run, the "
        "worker against the transport ceiling and the in-process pipeline.",
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
    parser.add_argument("--concurrency", type=int, default=None, metavar="N")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its report."""
    from benchmarks.report import as_json, integrity, render, targets
    from benchmarks.run import run as bench

    args = parser().parse_args(argv)
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
        return 1
    if args.check and not all(target.met for target in targets(report)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
