"""Installing small packages for tests, the way pip lays them out, without pip.

A package is copied into a target folder (a stand-in for site-packages) next to
a ``*.dist-info`` folder with ``METADATA`` and ``entry_points.txt``, so
``importlib.metadata`` finds its entry points exactly as for a pip-installed
one once the folder is on ``sys.path`` (or ``PYTHONPATH``).
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path

from briefy.choreographer.site import EXTENSIONS

FIXTURES = Path(__file__).parent / "fixtures"
SLACK = FIXTURES / "slack_extension"


def write_dist_info(
    target: Path, name: str, version: str, entry_points: Mapping[str, Mapping[str, str]]
) -> Path:
    """Write ``<name>-<version>.dist-info`` with its metadata and entry points into ``target``."""
    folder = target / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, points in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in points.items()]
        lines.append("")
    (folder / "entry_points.txt").write_text("\n".join(lines))
    return folder


def install_project(source: Path, target: Path) -> Path:
    """Install a ``pyproject.toml`` project with a ``src`` layout into ``target``.

    The name, version and entry points are read from its ``pyproject.toml``, so
    the test exercises what the project declares.
    """
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    for package in (source / "src").iterdir():
        if package.is_dir() and (package / "__init__.py").exists():
            shutil.copytree(package, target / package.name, dirs_exist_ok=True)
    write_dist_info(target, project["name"], project["version"], project.get("entry-points", {}))
    return target


def install_extension(target: Path, dist: str, name: str, package: str, files: Mapping[str, str]) -> Path:
    """Install a made-up extension package ``package`` (``files`` by relative path)."""
    for relative, text in files.items():
        path = target / package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    write_dist_info(target, dist, "0.1", {EXTENSIONS: {name: package}})
    return target
