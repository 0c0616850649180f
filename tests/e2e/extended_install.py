"""Installing PyPI's ``amazon-sqs-extended-client`` in a folder of the tests' own.

Importing the extended client replaces ``boto3.session.Session`` for the whole process,
so it is never installed where the tests and the worker run: ``pip install --target``
puts it (without its one dependency, boto3, which the test environment has) in
``CHOREOGRAPHER_PIP_CACHE``, else ``briefy-choreographer-extended-client`` under the
temporary directory, one subfolder per pinned version; only the processes that run
``tests/e2e/extended_client.py`` get it on their path. A file lock keeps two test runs
on one machine from installing into it at once.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: The extended client the wire format is proved against (the newest on PyPI when written).
REQUIREMENT = "amazon-sqs-extended-client==1.0.1"
PIP_INSTALL = (sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps")
CACHE = Path(
    os.environ.get("CHOREOGRAPHER_PIP_CACHE")
    or Path(tempfile.gettempdir()) / "briefy-choreographer-extended-client"
)


class ClientUnavailable(RuntimeError):
    """pip could not install the extended client (no package index reachable, ...)."""


@dataclass(frozen=True)
class ExtendedClient:
    """The extended client installed in ``folder``; ``installed_in`` is the seconds the
    install took (0: it was there)."""

    folder: Path
    installed_in: float


def install(cache: Path = CACHE) -> ExtendedClient:
    """The extended client of ``REQUIREMENT``, installed with pip unless it already is."""
    folder = cache / REQUIREMENT.replace("==", "-")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # another test run may be installing here right now
        done = folder / ".installed"
        if done.is_file():
            return ExtendedClient(folder, 0.0)
        started = time.monotonic()
        result = subprocess.run(
            [*PIP_INSTALL, "--target", str(folder), REQUIREMENT],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise ClientUnavailable(
                f"pip install {REQUIREMENT} into {folder} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout)[-2000:]}"
            )
        took = time.monotonic() - started
        done.write_text(f"{took:.1f}\n")
        return ExtendedClient(folder, took)
