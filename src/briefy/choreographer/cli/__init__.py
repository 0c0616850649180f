"""The ``choreographer`` command: the worker and the tools around it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version

from briefy.choreographer.cli import commands


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``choreographer`` with every subcommand."""
    top = argparse.ArgumentParser(
        prog="choreographer",
        description="Event choreographer: reads events from SQS, runs the registered "
        "actions and writes their payloads to SQS queues.",
        epilog=(
            "Settings come from the environment (CHOREOGRAPHER_*, AWS_*): see Configuration in "
            "the documentation (docs/contract.rst)."
        ),
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {version('briefy.choreographer')}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    commands.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``choreographer``; return the exit code.

    With no command it prints its help and exits 0, as pip, docker and kubectl do:
    asking the bare command what it can do is no mistake.
    """
    top = parser()
    args = top.parse_args(argv)
    if args.command is None:
        top.print_help()
        return 0
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
