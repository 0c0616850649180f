"""What the subcommands share: settings, logging to stderr, clear errors."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import Any, NoReturn

from briefy.choreographer.config import Settings, SettingsError
from briefy.choreographer.errors import StartupError
from briefy.choreographer.logging import configure_logging
from briefy.choreographer.site import Site, load_site

#: Exit codes: success, a failure while running (or a finding), bad usage or configuration.
OK, FAILED, USAGE = 0, 1, 2
#: Stopped by Ctrl-C.
INTERRUPTED = 130


class CommandError(Exception):
    """A command cannot do what was asked; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = FAILED) -> NoReturn:
    """Stop the command with ``message`` on stderr and exit ``code``."""
    raise CommandError(message, code)


def positive(text: str) -> int:
    """An option's value that must be a whole number above 0 (argparse's ``type``)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, not {text!r}")
    return int(text)


def settings_for_tool() -> Settings:
    """Settings from the environment, logging configured to stderr (stdout is the output).

    Tools log warnings and errors only, unless ``CHOREOGRAPHER_LOG_LEVEL`` asks for more:
    their report is the output, and the handlers' own log lines would only clutter it.
    """
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        fail(str(error), USAGE)
    quiet = settings if os.environ.get("CHOREOGRAPHER_LOG_LEVEL") else replace(settings, log_level="WARNING")
    configure_logging(quiet, sys.stderr)
    return settings


def load(settings: Settings) -> Site:
    """Load the choreography without reaching SQS."""
    try:
        return load_site(settings)
    except StartupError as error:
        fail(str(error), USAGE)


def guarded(run: Any) -> Any:
    """Wrap a command's ``run`` so ``CommandError`` prints and becomes the exit code."""

    def wrapper(args: Any) -> int:
        try:
            code: int = run(args)
        except CommandError as error:
            print(f"choreographer {args.command}: error: {error}", file=sys.stderr)
            return error.code
        except KeyboardInterrupt:
            print(f"choreographer {args.command}: interrupted", file=sys.stderr)
            return INTERRUPTED
        return code

    return wrapper
