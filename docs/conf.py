"""Sphinx configuration of the briefy.choreographer documentation (``tox run -e docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The local extension that draws the choreography graph at build time.
sys.path.insert(0, str(HERE / "_ext"))

project = "briefy.choreographer"
author = "Briefy"
copyright = "Briefy"
release = "1.0.0.dev0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "repoze.sphinx.autointerface",
    "sphinxcontrib.mermaid",
    "choreography_graph",
]

exclude_patterns = ["_build"]
html_theme = "alabaster"
# Wide enough for the payloads and the settings table.
html_theme_options = {
    "description": "An SQS event choreographer",
    "fixed_sidebar": True,
    "page_width": "1180px",
}

autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
# Signatures stay short; the types go in each description.
autodoc_typehints = "description"
# The release is read from the package, never from a network: mermaid.js loads in the
# reader's browser (sphinxcontrib-mermaid's default), nothing is fetched at build time.
