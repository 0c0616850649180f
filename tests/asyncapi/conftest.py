"""The AsyncAPI parser for the tests that run it: installed once per session, its figures reported.

Where npm is not installed the tests that need the parser are skipped, saying so
plainly (on CI, ``CI=true``, they fail instead); where npm is installed they run,
and a failed install fails them.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from tests.asyncapi.parser import CACHE, Parser, ParserUnavailable, install

ON_CI = os.environ.get("CI", "").lower() in ("true", "1")
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="session")
def asyncapi_parser() -> Parser:
    """The official parser, installed (npm ci) into the tests' cache folder on first use."""
    started = time.monotonic()
    try:
        parser = install()
    except ParserUnavailable as error:
        message = f"the AsyncAPI documents were not validated by the official parser: {error}"
        FIGURES["not validated"] = str(error)
        if ON_CI:
            pytest.fail(f"{message} (CI=true: this check must run)", pytrace=False)
        pytest.skip(message)
    FIGURES["parser"] = f"@asyncapi/parser {parser.version} in {parser.folder}"
    FIGURES["install"] = (
        f"{parser.installed_in:.1f} s (npm ci)"
        if parser.installed_in
        else f"cached ({time.monotonic() - started:.1f} s)"
    )
    return parser


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Where the parser came from, and what installing it cost."""
    if FIGURES:
        terminalreporter.section("the AsyncAPI parser")
        for name, figure in FIGURES.items():
            terminalreporter.write_line(f"{name}: {figure}")
        terminalreporter.write_line(
            f"cache: {CACHE} (CHOREOGRAPHER_NODE_CACHE chooses another; remove it to reinstall)"
        )
