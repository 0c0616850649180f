"""The tests' own installs of their tools: once per machine, again after one that failed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.cached_install import MARKER, installed_once, run_or_raise


class Failed(RuntimeError):
    pass


def test_an_install_runs_once_and_again_after_a_failure(tmp_path: Path) -> None:
    """A failed install leaves no marker, so the next run installs again; a finished one is not
    repeated (0 seconds)."""
    folder, calls = tmp_path / "tool-1.0", []

    def failing(where: Path) -> None:
        calls.append(where)
        raise Failed("no index")

    with pytest.raises(Failed):
        installed_once(folder, failing)
    assert not (folder / MARKER).exists()
    assert installed_once(folder, calls.append) >= 0 and (folder / MARKER).is_file()
    assert installed_once(folder, failing) == 0.0
    assert calls == [folder, folder]


def test_a_failing_command_raises_the_given_error_with_its_exit_and_output() -> None:
    """What the command wrote and its exit code are in the error; a command that works gives its output."""
    assert run_or_raise([sys.executable, "-c", "print('fine')"], Failed, "printing", timeout=30) == "fine\n"
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('broken'); sys.exit(3)"]
    with pytest.raises(Failed, match=r"^the step failed \(exit 3\): broken$"):
        run_or_raise(failing, Failed, "the step", timeout=30)
