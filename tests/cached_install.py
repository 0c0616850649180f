"""Installing a tool the tests use (the AsyncAPI parser, PyPI's Extended Client) once per
machine, in a cache folder of the tests' own.

A file lock beside the folder keeps two test runs on one machine from installing into it at
once; a marker inside it says the install finished (an interrupted one is done again).
"""

from __future__ import annotations

import fcntl
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

MARKER = ".installed"


def installed_once(folder: Path, install: Callable[[Path], None]) -> float:
    """Run ``install(folder)`` unless an earlier run finished it; the seconds it took (0: it
    was there). ``install`` raises when it fails, and the next run tries again."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # another test run may be installing here right now
        done = folder / MARKER
        if done.is_file():
            return 0.0
        started = time.monotonic()
        install(folder)
        took = time.monotonic() - started
        done.write_text(f"{took:.1f}\n")
        return took


def run_or_raise(
    command: Sequence[str], error: type[Exception], what: str, *, timeout: float, cwd: Path | None = None
) -> str:
    """Run ``command`` and return its output; raise ``error`` saying ``what`` failed, with its exit
    code and the end of what it wrote, when it fails."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise error(f"{what} failed (exit {result.returncode}): {(result.stderr or result.stdout)[-2000:]}")
    return result.stdout
