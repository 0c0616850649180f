"""Where the local base image comes from: the Debian mirror the host's apt uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.container.base import apt_mirror
from tests.container.engine import EngineMissing


def sources(tmp_path: Path, files: dict[str, str]) -> Path:
    """An /etc/apt of ``files`` (relative paths and their text)."""
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_mirror_comes_from_a_deb822_source(tmp_path: Path) -> None:
    """A .sources stanza serving a release's main gives its URI; security and disabled ones do not."""
    etc = sources(
        tmp_path,
        {
            "sources.list.d/a-security.sources": "Types: deb\nURIs: http://security.example/debian-security\n"
            "Suites: bookworm-security\nComponents: main\n",
            "sources.list.d/b-off.sources": "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\n"
            "Components: main\nEnabled: no\n",
            "sources.list.d/debian.sources": "Types: deb\n# a comment\nURIs: http://mirror.example/debian\n"
            "Suites: bookworm bookworm-updates\nComponents: main\n",
        },
    )
    assert apt_mirror(etc) == "http://mirror.example/debian"


def test_the_mirror_comes_from_a_sources_list_line(tmp_path: Path) -> None:
    """A one-line ``deb`` source, options and all, gives its URI; ``deb-src`` lines do not."""
    etc = sources(
        tmp_path,
        {
            "sources.list": "deb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n",
        },
    )
    assert apt_mirror(etc) == "http://mirror.example/debian"


def test_no_release_source_says_so(tmp_path: Path) -> None:
    """With no source serving a release's main, making the base stops with the reason."""
    etc = sources(tmp_path, {"sources.list": "deb http://mirror.example/debian bookworm-updates main\n"})
    with pytest.raises(EngineMissing, match="no apt source"):
        apt_mirror(etc)
