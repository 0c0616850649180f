"""The subcommands of ``choreographer``, one module each."""

from __future__ import annotations

from typing import Any

from briefy.choreographer.cli import asyncapi, dlq, dryrun, events, graph, queues, send, worker

MODULES = [worker, send, dryrun, events, graph, asyncapi, queues, dlq]


def register(subparsers: Any) -> None:
    """Add every subcommand to ``subparsers``."""
    for module in MODULES:
        module.register(subparsers)
