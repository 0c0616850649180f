"""Fixtures of the image tests: the engine, the image built from the Dockerfile, their figures.

On CI (``CI=true``) these tests must run: the engine is set up (podman from Debian's
packages when no Docker engine answers) and anything that stops them fails them.
Elsewhere, with no engine, they are skipped, saying that the image was not tested.
The base image and the engine's storage are kept in a cache folder
(``CHOREOGRAPHER_CONTAINER_CACHE``, by default under the temporary directory),
so that a second run builds from cached layers.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.container.base import OFFICIAL, Base, base_image
from tests.container.engine import Engine, EngineMissing, find_engine

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(
    os.environ.get("CHOREOGRAPHER_CONTAINER_CACHE")
    or Path(tempfile.gettempdir()) / "briefy-choreographer-containers"
)
#: The tag of the last image the tests built (in podman's case, in the tests' own storage).
TAG = "localhost/briefy-choreographer:image-test"
ON_CI = os.environ.get("CI", "").lower() in ("true", "1")
#: What the image tests measured, printed at the end of the run (and in docs/operations.rst).
FIGURES: dict[str, str] = {}


@dataclass(frozen=True)
class Image:
    """The image built for this run (its id), from the base it was built on."""

    id: str
    base: Base


def not_tested(reason: str, what: str = "the image") -> NoReturn:
    """Skip, saying plainly what was not tested and why; on CI, fail instead."""
    message = f"{what} was not tested: {reason}"
    FIGURES[f"{what}: not tested"] = reason
    if ON_CI:
        pytest.fail(f"{message} (CI=true: the image tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def engine() -> Engine:
    """docker where an engine answers, else podman (on CI, installed if need be)."""
    started = time.monotonic()
    try:
        found = find_engine(CACHE / "podman", install=ON_CI)
    except EngineMissing as error:
        not_tested(str(error))
    FIGURES["engine"] = (
        f"{found('--version').stdout.strip()} (found or set up in {time.monotonic() - started:.1f} s)"
    )
    return found


@pytest.fixture(scope="session")
def base(engine: Engine) -> Base:
    """The base image: python:3.11-slim where it can be pulled, else one made here (cached)."""
    try:
        found = base_image(engine, CACHE)
    except EngineMissing as error:
        not_tested(str(error))
    digests = json.loads(engine.inspect(found.image, "{{json .RepoDigests}}") or "null") or []
    took = f", {found.seconds:.0f} s" if found.seconds else ""
    FIGURES["base image"] = f"{found.image} ({found.how}{took})"
    FIGURES["base image size"] = megabytes(engine.inspect(found.image, "{{.Size}}"))
    if found.image == OFFICIAL and digests:  # what to pin: PYTHON_IMAGE=python:3.11-slim@sha256:...
        FIGURES["base image digest"] = ", ".join(digests)
    return found


@pytest.fixture(scope="session")
def image(engine: Engine, base: Base, tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The project's Dockerfile, as it is, built on ``base`` (from cached layers where they are).

    Containers run it by id: another run may tag a build of its own meanwhile.
    """
    engine.forget_old_layers()
    iidfile = tmp_path_factory.mktemp("image") / "id"
    started = time.monotonic()
    engine(
        "build",
        *engine.build_options(),
        "--build-arg",
        f"PYTHON_IMAGE={base.image}",
        "--iidfile",
        str(iidfile),
        "--tag",
        TAG,
        str(ROOT),
        timeout=900,
    )
    FIGURES["build"] = f"{time.monotonic() - started:.1f} s"
    built = Image(iidfile.read_text().strip(), base)
    FIGURES["image size"] = megabytes(engine.inspect(built.id, "{{.Size}}"))
    return built


def megabytes(size: str) -> str:
    return f"{int(size) / 1e6:.0f} MB"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures of the image tests, and the time they added to the run."""
    reports = [
        report
        for reports in terminalreporter.stats.values()
        for report in reports
        if str(getattr(report, "nodeid", "")).startswith("tests/container/")
    ]
    if not reports or not FIGURES:
        return
    terminalreporter.section("the container image")
    for name, figure in FIGURES.items():
        terminalreporter.write_line(f"{name}: {figure}")
    seconds = sum(getattr(report, "duration", 0.0) for report in reports)
    terminalreporter.write_line(f"time of the image tests: {seconds:.0f} s")
