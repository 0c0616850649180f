"""The image's base: python:3.11-slim where a registry answers, else one made here.

With no registry, debootstrap makes Debian bookworm (minbase) from the mirror the
host's apt already uses, Debian's Python 3.11 is added in a chroot, and the engine
imports the tree as an image: about a minute once, then kept in the engine's storage.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.container.engine import Engine, EngineMissing

OFFICIAL = "docker.io/library/python:3.11-slim"
LOCAL = "localhost/briefy-choreographer-base:bookworm"
SUITE = "bookworm"
PACKAGES = ("python3.11", "python3.11-venv", "python-is-python3", "ca-certificates")
APT_SOURCES = Path("/etc/apt")


@dataclass(frozen=True)
class Base:
    """The base image used, and how it was had: ``pulled``, ``cached`` or ``made`` (in seconds)."""

    image: str
    how: str
    seconds: float = 0.0


def base_image(engine: Engine, cache: Path) -> Base:
    """The official image if it is here or can be pulled, else the local one (made once)."""
    if engine.has_image(OFFICIAL):
        return Base(OFFICIAL, "cached")
    started = time.monotonic()
    if engine("pull", OFFICIAL, check=False, timeout=600).returncode == 0:
        return Base(OFFICIAL, "pulled", time.monotonic() - started)
    with locked(cache / "base.lock"):  # one maker at a time; the others find it made
        if engine.has_image(LOCAL):
            return Base(LOCAL, "cached")
        started = time.monotonic()
        make_base(engine, cache)
        return Base(LOCAL, "made", time.monotonic() - started)


def make_base(engine: Engine, cache: Path) -> None:
    """debootstrap bookworm, add Python in a chroot, import the tree as ``LOCAL``."""
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        raise EngineMissing(f"{OFFICIAL} cannot be pulled and no base can be made (debootstrap, as root)")
    mirror = apt_mirror()
    with tempfile.TemporaryDirectory(dir=cache, prefix="rootfs-") as work:
        root = Path(work) / "root"
        run(["debootstrap", "--variant=minbase", SUITE, str(root), mirror])
        install = (
            "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
            f"{' '.join(PACKAGES)} && apt-get clean && rm -rf /var/lib/apt/lists/*"
        )
        run(["chroot", str(root), "/bin/sh", "-c", install], env={"DEBIAN_FRONTEND": "noninteractive"})
        with subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE) as tar:
            engine("import", "--change", "ENV LANG=C.UTF-8", "-", LOCAL, stdin=tar.stdout, timeout=600)
        if tar.returncode != 0:
            raise EngineMissing(f"tar of the base's tree exited {tar.returncode}")


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        command, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        raise EngineMissing(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-3000:]}")


def apt_mirror(etc: Path = APT_SOURCES) -> str:
    """The Debian mirror the host's apt reads a release's ``main`` from (its first such source)."""
    for uri, suites, components in apt_sources(etc):
        if "main" in components and any("-" not in suite and "/" not in suite for suite in suites):
            return uri
    raise EngineMissing(f"no apt source under {etc} serves a Debian release's main component")


def apt_sources(etc: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """(URI, suites, components) of each ``deb`` source: sources.list lines and deb822 stanzas."""
    files = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for path in files:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 4 and words[0] == "deb":
                    yield words[1], [words[2]], words[3:]
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.MULTILINE))
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
                for uri in fields.get("URIs", "").split():
                    yield uri, fields.get("Suites", "").split(), fields.get("Components", "").split()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
