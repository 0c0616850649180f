"""How the image tests find their engine and configure podman (no engine needed)."""

from __future__ import annotations

import re
import resource
from pathlib import Path

import pytest

from tests.container.engine import EngineMissing, containers_conf, find_engine, storage_conf


def test_with_no_engine_the_reason_names_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither docker nor podman on PATH, and nothing to install, the reason says so."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineMissing, match=r"no Docker engine answers .* podman is not installed"):
        find_engine(tmp_path / "podman", install=False)


def test_podman_asks_for_no_more_than_this_process_has(tmp_path: Path) -> None:
    """The tests' containers.conf sets ulimits at most this process's own soft limits."""
    limits = dict(re.findall(r'"(nofile|nproc)=(\d+):\d+"', containers_conf(tmp_path)))
    assert int(limits["nofile"]) <= resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    assert soft == resource.RLIM_INFINITY or int(limits["nproc"]) <= soft


def test_podman_keeps_everything_under_its_home(tmp_path: Path) -> None:
    """Every path podman is given to write lies under the tests' own folder."""
    paths = re.findall(r'= "(/[^"]*)"', containers_conf(tmp_path) + storage_conf(tmp_path))
    assert paths and all(Path(path).is_relative_to(tmp_path) for path in paths)
