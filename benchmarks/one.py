"""One measurement in a process of its own: ``python -m benchmarks.one LOOP ...``.

It starts a moto server of its own, measures the loop (``process.measure``) and
writes the result as JSON to ``--output``. The benchmark runs two at once, the worker and the
ceiling side by side, so that both meet the machine as it is at that moment.
SIGTERM unwinds it, stopping its server and the loop under test.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import orjson

from benchmarks.process import COMMANDS, measure, to_json
from benchmarks.server import MotoServer


def main(argv: list[str] | None = None) -> int:
    """Measure one loop and write its ``LoopResult`` as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.one")
    parser.add_argument("loop", choices=COMMANDS)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--window", type=int, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--backlog", action="store_true", help="drain a backlog (else a steady stream)")
    parser.add_argument("--concurrency", type=int, help="CHOREOGRAPHER_CONCURRENCY of the worker")
    parser.add_argument("--output", type=Path, required=True, help="where the result goes (JSON)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    extra = {"CHOREOGRAPHER_CONCURRENCY": str(args.concurrency)} if args.concurrency else {}
    with MotoServer() as server:
        result = measure(
            server,
            args.loop,
            args.events,
            warmup=args.warmup,
            window=args.window,
            timeout=args.timeout,
            extra=extra if args.loop == "worker" else {},
            backlog=args.backlog,
        )
    args.output.write_bytes(orjson.dumps(to_json(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
