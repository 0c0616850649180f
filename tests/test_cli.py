"""The ``choreographer`` command itself: its version, its help, the hints it gives."""

from __future__ import annotations

from pathlib import Path

from briefy.choreographer.cli.sqs import not_running
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
