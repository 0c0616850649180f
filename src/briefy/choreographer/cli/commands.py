"""The subcommands of ``choreographer``, one module each."""

from __future__ import annotations

from typing import Any

from briefy.choreographer.cli import bench, dryrun, events, send, worker

MODULES = [worker, send, dryrun, events, bench]


def register(subparsers: Any) -> None:
    """Add every subcommand to ``subparsers``."""
    for module in MODULES:
        module.register(subparsers)
