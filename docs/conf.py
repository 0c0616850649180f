"""Sphinx configuration of the briefy.choreographer documentation (``tox run -e docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The local extension that draws the choreography graph at build time.
sys.path.insert(0, str(HERE / "_ext"))

project = "briefy.choreographer"
author = "Briefy"
copyright = "Briefy"  # noqa: A001 (Sphinx reads this name)
release = "1.0.0.dev0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "repoze.sphinx.autointerface",
    "sphinxcontrib.mermaid",
    "choreography_graph",
]

exclude_patterns = ["_build"]
# Pages written on other branches are linked from the toctree once they land.
html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {"description": "An SQS event choreographer", "fixed_sidebar": True}

autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
# The annotations name types that are only imported for type checking.
autodoc_typehints = "description"
nitpicky = False
