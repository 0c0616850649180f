"""Installing the official AsyncAPI parser in a cache folder of the tests' own, and running it.

The folder is ``CHOREOGRAPHER_NODE_CACHE``, else ``briefy-choreographer-asyncapi`` under the
temporary directory, with one subfolder per lock (a new lock installs afresh);
``tests.cached_install`` installs it once per machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cached_install import installed_once, run_or_raise

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
        command = ["node", str(script), *map(str, files)]
        output = run_or_raise(command, RuntimeError, "the AsyncAPI parser", timeout=120, cwd=self.folder)
        found: dict[str, list[Diagnostic]] = {}
        for entry in json.loads(output):
            found[entry["file"]] = [Diagnostic(**item) for item in entry["diagnostics"]]
        return found


def install(cache: Path = CACHE) -> Parser:
    """The parser of ``package-lock.json``, installed with ``npm ci`` unless it already is."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise ParserUnavailable(f"{'npm' if npm is None else 'node'} is not installed")

    def npm_ci(folder: Path) -> None:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, folder / name)
        command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        what = f"npm ci of the AsyncAPI parser in {folder}"
        run_or_raise(command, RuntimeError, what, timeout=600, cwd=folder)

    lock = (HERE / "package-lock.json").read_bytes()
    folder = cache / hashlib.sha256(lock + (HERE / "package.json").read_bytes()).hexdigest()[:16]
    took = installed_once(folder, npm_ci)
    package: dict[str, Any] = json.loads(
        (folder / "node_modules" / "@asyncapi" / "parser" / "package.json").read_text()
    )
    return Parser(folder, took, str(package["version"]))
