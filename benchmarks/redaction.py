"""Redaction on hostile text: time per megabyte, and how it grows with the input.

Log lines carry text producers choose; redaction must take time proportional to
the line. For each shape of input (the one that froze the first version, ``"a" *
n + "@"``, and others built to make a backtracking pattern or a parser work hard)
this times ``Redactor.text`` and a whole production log line at 64 KiB, 256 KiB
and 1 MiB, and checks two budgets: at most ``BUDGET`` seconds per MiB, and a
growth from 64 KiB to 1 MiB (16 times the input) of at most ``MAX_GROWTH`` times
the time (quadratic work would grow 256 times). For comparison it times the
first version's pattern on the first shape at 8 KiB.

    python benchmarks/redaction.py [--check] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable

import structlog

from briefy.choreographer.config import Settings
from briefy.choreographer.logging import configure_logging
from briefy.choreographer.redaction import Redactor

KIB = 1024
SIZES = (64 * KIB, 256 * KIB, 1024 * KIB)
#: Seconds per MiB of input, at most (one line of a megabyte is far beyond any real one).
BUDGET = 2.0
#: Time at 1 MiB over time at 64 KiB, at most: linear work gives about 16.
MAX_GROWTH = 40.0
#: The first version's e-mail pattern (quadratic on ``"a" * n + "@"``).
NAIVE_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def shapes() -> dict[str, Callable[[int], str]]:
    """Inputs of ``n`` characters, each aimed at a part of the redaction."""
    return {
        "word run then @": lambda n: "a" * (n - 1) + "@",
        "a@ repeated": lambda n: "a@" * (n // 2),
        "a. repeated then @": lambda n: "a." * (n // 2 - 1) + "a@",
        "@a. repeated": lambda n: "@a." * (n // 3),
        "opening braces": lambda n: "{" * n,
        "opening brackets": lambda n: "[" * n,
        "key = repeated": lambda n: "email=" * (n // 6),
        "quoted keys": lambda n: '"fullname": "' * (n // 13),
        "escaped quotes": lambda n: 'contact: "' + '\\"' * (n // 2 - 6) + '"',
        "JSON with e-mails": lambda n: json.dumps({"rows": [{"email": "ada@example.org"}] * (n // 30)}),
        "JSON after a prefix": lambda n: "ValueError: " + json.dumps([{"fullname": "Ada"}] * (n // 20)),
        "plain text": lambda n: "x" * n,
    }


def timed(call: Callable[[], object], repeat: int = 3) -> float:
    """The best of ``repeat`` process-time measurements of ``call``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        call()
        best = min(best, time.process_time() - started)
    return best


def run() -> dict[str, object]:
    redactor = Redactor()
    with open(os.devnull, "w") as null:
        configure_logging(Settings(mode="production"), null)
        log = structlog.get_logger("bench")
        rows = []
        for name, make in shapes().items():
            texts = {size: make(size) for size in SIZES}
            text_times = {size: timed(lambda t=text: redactor.text(t)) for size, text in texts.items()}
            line_times = {
                size: timed(lambda t=text: log.info("seen", guid=t), 1) for size, text in texts.items()
            }
            rows.append(
                {
                    "shape": name,
                    "text_seconds": {str(k): v for k, v in text_times.items()},
                    "line_seconds": {str(k): v for k, v in line_times.items()},
                    "per_mib": max(text_times[SIZES[-1]], line_times[SIZES[-1]]) * KIB * KIB / SIZES[-1],
                    "growth": growth(text_times),
                }
            )
    structlog.reset_defaults()
    naive = timed(lambda: NAIVE_EMAIL.sub("", "a" * (8 * KIB - 1) + "@"), 1)
    ours = timed(lambda: redactor.text("a" * (8 * KIB - 1) + "@"))
    return {"rows": rows, "naive_8kib_seconds": naive, "ours_8kib_seconds": ours}


def growth(times: dict[int, float]) -> float:
    """Time at the largest size over time at the smallest (with a floor against timer noise)."""
    return max(times[SIZES[-1]], 1e-4) / max(times[SIZES[0]], 1e-4 * SIZES[0] / SIZES[-1])


def passed(row: dict[str, object]) -> bool:
    return float(row["per_mib"]) <= BUDGET and float(row["growth"]) <= MAX_GROWTH  # type: ignore[arg-type]


def render(result: dict[str, object]) -> str:
    lines = [
        "Redaction of hostile text (Redactor.text; a production log line with the text as its guid)",
        f"budgets: at most {BUDGET:g} s per MiB; 1 MiB at most {MAX_GROWTH:g} x the time of 64 KiB",
        "",
        f"  {'shape':<22}{'64 KiB ms':>11}{'256 KiB ms':>12}{'1 MiB ms':>10}{'line 1 MiB ms':>15}"
        f"{'growth':>8}  verdict",
    ]
    for row in result["rows"]:  # type: ignore[attr-defined]
        text, line = row["text_seconds"], row["line_seconds"]
        cells = "".join(
            f"{1000 * text[str(size)]:>{w}.1f}" for size, w in zip(SIZES, (11, 12, 10), strict=True)
        )
        verdict = "PASS" if passed(row) else "FAIL"
        lines.append(
            f"  {row['shape']:<22}{cells}{1000 * line[str(SIZES[-1])]:>15.1f}{row['growth']:>8.1f}  {verdict}"
        )
    lines += [
        "",
        f"first version's e-mail pattern on 'a' * 8 KiB + '@': {1000 * result['naive_8kib_seconds']:.0f} ms "
        f"(ours: {1000 * result['ours_8kib_seconds']:.2f} ms); quadratic, it takes 16 times longer at 32 KiB",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a budget is missed")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    args = parser.parse_args(argv)
    result = run()
    print(json.dumps(result, indent=2) if args.json else render(result))
    ok = all(passed(row) for row in result["rows"])  # type: ignore[attr-defined]
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
