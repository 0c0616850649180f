"""Installing the official AsyncAPI parser in a cache folder of the tests' own, and running it.

The folder is ``CHOREOGRAPHER_NODE_CACHE``, else ``briefy-choreographer-asyncapi`` under the
temporary directory, with one subfolder per lock (a new lock installs afresh); a
file lock keeps two test runs on one machine from installing into it at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = Path(
    os.environ.get("CHOREOGRAPHER_NODE_CACHE")
    or Path(tempfile.gettempdir()) / "briefy-choreographer-asyncapi"
)
ERROR = 0


class ParserUnavailable(RuntimeError):
    """npm (or node) is not installed: the parser cannot be run here."""


@dataclass(frozen=True)
class Diagnostic:
    """One finding of the parser about a document (severity 0 is an error)."""

    severity: int
    code: str
    message: str
    path: str

    def __str__(self) -> str:
        return f"{self.code} at {self.path or '/'}: {self.message}"


@dataclass(frozen=True)
class Parser:
    """The parser installed in ``folder``; ``installed_in`` is the seconds the install took (0: cached)."""

    folder: Path
    installed_in: float
    version: str

    def validate(self, *files: Path) -> dict[str, list[Diagnostic]]:
        """The diagnostics of each document, by file name."""
        script = self.folder / "validate.mjs"
        shutil.copyfile(HERE / "validate.mjs", script)
        result = subprocess.run(
            ["node", str(script), *map(str, files)],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"the AsyncAPI parser failed (exit {result.returncode}): {result.stderr[-2000:]}"
            )
        found: dict[str, list[Diagnostic]] = {}
        for entry in json.loads(result.stdout):
            found[entry["file"]] = [Diagnostic(**item) for item in entry["diagnostics"]]
        return found


def install(cache: Path = CACHE) -> Parser:
    """The parser of ``package-lock.json``, installed with ``npm ci`` unless it already is."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise ParserUnavailable(f"{'npm' if npm is None else 'node'} is not installed")
    lock = (HERE / "package-lock.json").read_bytes()
    folder = cache / hashlib.sha256(lock + (HERE / "package.json").read_bytes()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # another test run may be installing here right now
        took = 0.0
        if not (folder / "installed").is_file():
            started = time.monotonic()
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(HERE / name, folder / name)
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"npm ci of the AsyncAPI parser failed in {folder} (exit {result.returncode}): "
                    f"{(result.stderr or result.stdout)[-2000:]}"
                )
            took = time.monotonic() - started
            (folder / "installed").write_text(f"{took:.1f}\n")
    package: dict[str, Any] = json.loads(
        (folder / "node_modules" / "@asyncapi" / "parser" / "package.json").read_text()
    )
    return Parser(folder, took, str(package["version"]))
