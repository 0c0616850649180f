"""Installing PyPI's ``amazon-sqs-extended-client`` in a folder of the tests' own.

Importing the extended client replaces ``boto3.session.Session`` for the whole process,
so it is never installed where the tests and the worker run: ``pip install --target``
puts it (without its one dependency, boto3, which the test environment has) in
``CHOREOGRAPHER_PIP_CACHE``, else ``briefy-choreographer-extended-client`` under the
temporary directory, one subfolder per pinned version; only the processes that run
``tests/e2e/extended_client.py`` get it on their path. ``tests.cached_install`` installs
it once per machine.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.cached_install import installed_once, run_or_raise

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

    def pip_install(folder: Path) -> None:
        command = [*PIP_INSTALL, "--target", str(folder), REQUIREMENT]
        run_or_raise(command, ClientUnavailable, f"pip install {REQUIREMENT} into {folder}", timeout=300)

    folder = cache / REQUIREMENT.replace("==", "-")
    return ExtendedClient(folder, installed_once(folder, pip_install))
