"""The ``choreographer`` command itself: its version, its help, the hints it gives."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from briefy.choreographer.cli import main
from briefy.choreographer.cli.dlq import error_type, note_unknown
from briefy.choreographer.cli.sqs import not_running
from briefy.choreographer.errors import ERROR_TYPES
from briefy.choreographer.site import CHECKOUT, from_checkout


def checkout(root: Path) -> Path:
    """A minimal checkout at ``root``: Makefile, setup.py and the package's source folder."""
    (root / "src" / "briefy" / "choreographer").mkdir(parents=True)
    (root / "Makefile").write_text("run:\n")
    (root / "setup.py").write_text("")
    return root


def test_from_a_checkout_the_hint_is_make_run(tmp_path: Path) -> None:
    """Run from a checkout (Makefile and setup.py by src), the tools advise ``make run``."""
    assert from_checkout(checkout(tmp_path))
    assert not_running(tmp_path) == " (is the worker running? start it with: make run)"


def test_installed_the_hint_is_the_console_script(tmp_path: Path) -> None:
    """Installed with pip (no Makefile above the package), the tools advise ``choreographer worker``."""
    site_packages = tmp_path / "lib" / "python3.11"
    (site_packages / "site-packages" / "briefy" / "choreographer").mkdir(parents=True)
    assert not from_checkout(site_packages)
    assert not_running(site_packages) == " (is the worker running? start it with: choreographer worker)"


def test_the_test_suite_runs_from_a_checkout() -> None:
    """This package is imported from the repository it is tested in (the e2e hints rely on it)."""
    assert from_checkout(CHECKOUT)


def test_version_prints_the_version_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """``choreographer --version`` prints the installed version, exit 0."""
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"choreographer {version('briefy.choreographer')}\n"


def test_no_command_prints_the_help_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """A bare ``choreographer`` prints its help (every command listed) on stdout, exit 0."""
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: choreographer")
    assert all(command in out for command in ("worker", "send", "dry-run", "queues", "dlq"))


def test_a_malformed_error_type_is_refused_with_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """``dlq show|redrive --error-type "Invalid JSON"`` exits 2, listing every error type this
    version writes."""
    for action in ("show", "redrive"):
        with pytest.raises(SystemExit) as exit:
            main(["dlq", action, "--error-type", "Invalid JSON"])
        assert exit.value.code == 2
        err = capsys.readouterr().err
        assert "'Invalid JSON' is not an error type" in err and all(name in err for name in ERROR_TYPES)


def test_an_error_type_this_version_never_writes_is_taken_with_a_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A well-formed type this version does not write (a typo, or another version's type) is
    taken, and stderr says so with the types this version writes; a known one says nothing."""
    assert error_type("some_future_type") == "some_future_type"
    note_unknown(["invalid_json", "some_future_type"])
    err = capsys.readouterr().err
    assert "writes no error type 'some_future_type'" in err and "invalid_json" in err
    note_unknown(sorted(ERROR_TYPES))
    assert capsys.readouterr().err == ""


MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def make(*args: str, cwd: Path = CHECKOUT) -> str:
    """Run make with ``args`` in ``cwd``; its output."""
    assert MAKE
    result = subprocess.run([MAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


@needs_make
def test_make_help_lists_every_documented_target() -> None:
    """``make help`` (and a bare ``make``) lists each ``## target: text`` of the Makefile."""
    documented = re.findall(r"^## ([a-z-]+): (.+)$", (CHECKOUT / "Makefile").read_text(), re.MULTILINE)
    assert {"help", "run", "test"} <= {target for target, _ in documented}
    for out in (make("help"), make()):
        for target, text in documented:
            assert re.search(rf"^  make {target} +{re.escape(text)}$", out, re.MULTILINE), target


@needs_make
def test_make_run_installs_only_what_running_needs(tmp_path: Path) -> None:
    """``make run`` installs the package with its embedded extra only; ``make test`` adds tox and tests."""
    for name in ("Makefile", "setup.py", "pyproject.toml"):
        shutil.copy(CHECKOUT / name, tmp_path)
    run = [line for line in make("-n", "run", cwd=tmp_path).splitlines() if "pip install" in line]
    assert run[-1].endswith('pip install --quiet -e ".[embedded]"')
    assert not any("tox" in line or "test" in line for line in run)
    test = make("-n", "test", cwd=tmp_path)
    assert '-e ".[embedded,test]" "tox>=4"' in test and "tox run" in test
