"""``.. choreography-graph::``: the reference choreography, drawn at build time.

The directive runs ``choreographer graph`` (as ``python -m briefy.choreographer.cli
graph``, with no ``CHOREOGRAPHER_*`` setting, so the defaults name the queues) and
hands its Mermaid text to sphinxcontrib-mermaid: the picture is the command's
output, never a copy that could go stale. A failing command fails the build.
Sphinx is imported in ``setup()`` only, so the tests can call ``graph_text()``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any


def graph_text() -> str:
    """What ``choreographer graph`` prints with the default settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOGRAPHER_")}
    result = subprocess.run(
        [sys.executable, "-m", "briefy.choreographer.cli", "graph"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"choreographer graph exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout.strip()


def setup(app: Any) -> dict[str, Any]:
    """Register ``choreography-graph``: a ``mermaid`` directive whose code is the graph."""
    from sphinxcontrib.mermaid import Mermaid

    class ChoreographyGraph(Mermaid):  # type: ignore[misc]
        """A ``mermaid`` directive whose code is the output of ``choreographer graph``."""

        has_content = False
        optional_arguments = 0
        option_spec = {key: Mermaid.option_spec[key] for key in ("name", "alt", "align", "caption")}

        def get_mm_code(self) -> str:
            return graph_text()

    app.setup_extension("sphinxcontrib.mermaid")
    app.add_directive("choreography-graph", ChoreographyGraph)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
