"""The documentation holds: every test it names as proof exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def documents() -> list[Path]:
    return [ROOT / "README.rst", *sorted((ROOT / "docs").rglob("*.rst"))]


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def cited(text: str) -> list[tuple[str, str]]:
    """(file, test) pairs cited as ``tests/x.py::test_y`` and the ``::test_z`` that follow one."""
    found = []
    current = ""
    for match in re.finditer(r"``(tests/[\w/]+\.py)?(?:::(test_\w+))?``", text):
        path, test = match.groups()
        if path:
            current = path
        if test and current:
            found.append((current, test))
    return found


def test_every_cited_test_exists() -> None:
    """Each test the docs cite as proof is defined in the file they name."""
    missing = []
    for document in documents():
        for path, test in cited(document.read_text(encoding="utf-8")):
            file = ROOT / path
            if not file.is_file() or test not in defined_tests(file):
                missing.append(f"{document.name}: {path}::{test}")
    assert missing == []


def test_every_cited_test_file_exists() -> None:
    """Each test file the docs name is there."""
    names = {
        m for d in documents() for m in re.findall(r"``(tests/[\w/]+\.py)", d.read_text(encoding="utf-8"))
    }
    assert names and [name for name in sorted(names) if not (ROOT / name).is_file()] == []
