"""The ``choreographer`` command: the worker and the tools around it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from briefy.choreographer.cli import commands


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``choreographer`` with every subcommand."""
    top = argparse.ArgumentParser(
        prog="choreographer",
        description="Event choreographer: reads events from SQS, runs the registered "
        "actions and writes their payloads to SQS queues.",
        epilog="Settings come from the environment (CHOREOGRAPHER_*, AWS_*): see the README.",
    )
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``choreographer``; return the exit code."""
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
