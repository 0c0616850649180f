"""The documentation holds: every test it names as proof exists, and the site hangs together."""

from __future__ import annotations

import ast
import importlib
import os
import re
from pathlib import Path

from zope.interface.interface import InterfaceClass

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: Files of the people who work on the project, not of the project: never cited.
PRIVATE = ("SPEC.md", "STYLE.md", "../shared", "shared/")


def pages() -> list[Path]:
    """The pages of the Sphinx site."""
    return sorted(DOCS.rglob("*.rst"))


def documents() -> list[Path]:
    return [ROOT / "README.rst", *pages()]


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def cited(text: str) -> list[tuple[str, str]]:
    """(file, test) pairs cited as ``tests/x.py::test_y`` and the ``::test_z`` that follow one.

    A ``tests/x.py::test_y`` in a literal block (a command to run) counts too.
    """
    found = []
    current = ""
    for match in re.finditer(r"``(tests/[\w/]+\.py)?(?:::(test_\w+))?``", text):
        path, test = match.groups()
        if path:
            current = path
        if test and current:
            found.append((current, test))
    found += re.findall(r"(?<![`\w/])(tests/[\w/]+\.py)::(test_\w+)", text)
    return found


def toctree(index: str) -> list[str]:
    """The entries of the toctree directives of ``index``."""
    entries = []
    for block in re.findall(r"^\.\. toctree::\n((?:(?:   .*)?\n)+)", index, re.MULTILINE):
        entries += [
            line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith(":")
        ]
    return entries


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


def project_files() -> list[Path]:
    """The project's own text files: sources, tests, docs, build and container files."""
    skip = {".git", ".venv", ".tox", "build", "dist", "node_modules", "__pycache__", ".cache"}
    suffixes = {".py", ".rst", ".md", ".toml", ".ini", ".cfg", ".txt", ".in", ".yml", ".yaml", ".zcml"}
    found = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [s for s in subfolders if s not in skip and not s.endswith((".egg-info", "_cache"))]
        found += [
            Path(folder, name)
            for name in names
            if Path(name).suffix in suffixes or name in ("Makefile", "Dockerfile")
        ]
    return sorted(path for path in found if path != Path(__file__).resolve())


def test_the_docs_cite_no_private_file() -> None:
    """The README and the docs (pages, conf.py, extensions) never point at files outside the repository."""
    files = [*documents(), *sorted(DOCS.rglob("*.py"))]
    found = [f"{f.relative_to(ROOT)}: {word}" for f in files for word in PRIVATE if word in f.read_text()]
    assert found == []


def test_no_file_of_the_project_mentions_the_private_contract() -> None:
    """No source, test or docstring (autodoc shows them) names SPEC.md or STYLE.md: docs/ has the contract."""
    files = project_files()
    assert ROOT / "README.rst" in files
    assert ROOT / "src" / "briefy" / "choreographer" / "worker" / "__init__.py" in files
    found = [
        f"{f.relative_to(ROOT)}: {word}"
        for f in files
        for word in ("SPEC.md", "STYLE.md")
        if word in f.read_text(encoding="utf-8", errors="replace")
    ]
    assert found == []


def test_every_page_is_in_the_toctree() -> None:
    """Each page of docs/ is an entry of index.rst's toctree, and each entry is a page."""
    entries = toctree((DOCS / "index.rst").read_text(encoding="utf-8"))
    names = {str(page.relative_to(DOCS).with_suffix("")) for page in pages()} - {"index"}
    assert sorted(names - set(entries)) == []
    assert [entry for entry in entries if entry not in names] == []


def test_the_readme_links_every_page() -> None:
    """The README's map of the docs links each page by a relative path that exists (so it works on GitHub)."""
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    links = set(re.findall(r"<(docs/[\w/]+\.rst)>`_", readme))
    assert [link for link in sorted(links) if not (ROOT / link).is_file()] == []
    pages_linked = {str(page.relative_to(ROOT)) for page in pages()} - {"docs/index.rst"}
    assert sorted(pages_linked - links) == []


def test_the_readme_is_short() -> None:
    """The README reads in five minutes: the rest lives in docs/."""
    assert len((ROOT / "README.rst").read_text(encoding="utf-8").splitlines()) <= 200


def test_the_quick_start_is_two_commands() -> None:
    """The README's Quick start is ``make run`` and ``make test``."""
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    quick = readme.split("Quick start\n-----------\n", 1)[1].split("\n\n", 2)[1]
    assert [line.split()[:2] for line in quick.splitlines()] == [["make", "run"], ["make", "test"]]


def test_every_interface_is_in_the_api_page() -> None:
    """Each interface of the contracts modules is documented in docs/api.rst."""
    api = (DOCS / "api.rst").read_text(encoding="utf-8")
    modules = [
        "briefy.common.interfaces",
        "briefy.choreographer.interfaces",
        "briefy.choreographer.events.lead",
        "briefy.choreographer.events.mail",
    ]
    missing = [
        f"{name}.{attribute}"
        for name in modules
        for attribute, value in vars(importlib.import_module(name)).items()
        if isinstance(value, InterfaceClass)
        and value.__module__ == name
        and f".. autointerface:: {name}.{attribute}\n" not in api
    ]
    assert missing == []


#: Folders whose modules the layout names by folder only: the reference choreography
#: (a module per event or service) and the command line (a module per command).
NAMED_BY_FOLDER = ("events", "subscribers", "data", "actions", "queues", "cli")


def layout() -> dict[str, str]:
    """The README's layout, by top-level entry (``src/briefy/common/``...): the text of each."""
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    block = readme.split(".. layout-start\n", 1)[1].split(".. layout-end\n", 1)[0]
    entries: dict[str, str] = {}
    current = ""
    for line in block.splitlines():
        if re.match(r"    \S", line):
            current = line.split()[0]
            entries[current] = ""
        elif current:
            entries[current] += line + "\n"
    return entries


def test_the_layout_names_every_module() -> None:
    """The README's "Where things are" names every folder and module of the package, and
    nothing that is not there: a newcomer finds any module from it."""
    entries = layout()
    top = {"configure.zcml", "src/briefy/common/", "src/briefy/choreographer/", "benchmarks/", "tests/"}
    assert top <= set(entries)
    assert all((ROOT / entry).exists() for entry in entries)
    missing = []
    for package in ("common", "choreographer"):
        root = ROOT / "src" / "briefy" / package
        text = entries[f"src/briefy/{package}/"]
        named = set(re.findall(r"^ {8}(\S.*?)(?: {2,}|$)", text, re.MULTILINE))
        left = {name.strip() for column in named for name in re.split(r"[ ,]+", column) if name.strip()}
        # Every name in the left column is there.
        missing += [f"{package}/{name} (named, not there)" for name in left if not (root / name).exists()]
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root)
            if path.name in ("__init__.py", "__main__.py") or "__pycache__" in relative.parts:
                continue
            if len(relative.parts) == 1:
                found = path.name in left
            else:
                folder = relative.parts[0]
                found = f"{folder}/" in left and (
                    folder in NAMED_BY_FOLDER or re.search(rf"\b{path.stem}\b", text) is not None
                )
            if not found:
                missing.append(f"{package}/{relative}")
    assert missing == []
