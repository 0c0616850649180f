"""``choreographer graph``: draw the live choreography as Mermaid or Graphviz DOT.

The picture reads left to right: the events queue, the event names, the
handlers each event reaches, their actions (weight and ``available`` condition)
and the output queues they write to; a dashed edge shows where dead letters go,
and a note hangs on each event whose data must meet a ``data_schema``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from briefy.choreographer.admin.introspect import ANY_OTHER_EVENT, queues, routes
from briefy.choreographer.admin.provision import Layout
from briefy.choreographer.cli.common import OK, guarded, load, settings_for_tool
from briefy.choreographer.events.schema import data_schema
from briefy.choreographer.site import Site
from briefy.common.queue.event import EVENTS_QUEUE


def register(subparsers: Any) -> None:
    """Add ``graph``."""
    parser = subparsers.add_parser(
        "graph",
        help="draw the choreography (Mermaid or Graphviz DOT)",
        description="Draw, from the live registry, the events queue -> event names -> handlers "
        "-> actions (with their weights and when they are available) -> output queues. "
        "Mermaid renders on GitHub; pipe DOT to Graphviz: choreographer graph --format dot "
        "| dot -Tsvg > choreography.svg",
    )
    parser.add_argument(
        "--format",
        choices=("mermaid", "dot"),
        default="mermaid",
        help="mermaid (default) or dot",
    )
    parser.set_defaults(run=guarded(run))


@dataclass
class Node:
    """A box of the picture: a kind (events, queue, ...) and the lines of its label."""

    id: str
    kind: str
    lines: list[str]


@dataclass
class Graph:
    """Nodes and edges, in the order they were found (so the output is stable)."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    ids: dict[tuple[str, str], str] = field(default_factory=dict)

    def node(self, kind: str, key: str, slug: str, *lines: str) -> str:
        """The id of the node ``(kind, key)``, added with ``lines`` the first time.

        Ids are readable (``action_lead_created_mail``); a second key with the same
        slug gets a number.
        """
        if (kind, key) in self.ids:
            return self.ids[(kind, key)]
        base = f"{kind}_{re.sub(r'[^A-Za-z0-9]+', '_', slug).strip('_')}"
        node_id, n = base, 1
        while node_id in self.nodes:
            n += 1
            node_id = f"{base}_{n}"
        self.ids[(kind, key)] = node_id
        self.nodes[node_id] = Node(node_id, kind, list(lines))
        return node_id

    def edge(self, source: str, target: str, label: str = "") -> None:
        if (source, target, label) not in self.edges:
            self.edges.append((source, target, label))


def build(site: Site) -> Graph:
    """The picture of the site's choreography, queues named as its settings name them."""
    graph = Graph()
    settings, registry = site.settings, site.registry
    sqs = {info.utility: info.queue_name for info in queues(registry, settings)}

    def queue(utility: str) -> str:
        return graph.node("queue", utility, utility, utility, f"SQS: {sqs.get(utility, '?')}")

    source = queue(EVENTS_QUEUE)
    dlq = Layout.of(registry, settings).dead_letters(settings, None)
    dead = graph.node("queue", "", "dead_letters", "dead letters", f"SQS: {dlq}")
    graph.edge(source, dead, "bad input")
    for event in routes(registry, include_fallback=True):
        name = "any other name" if event.event_name == ANY_OTHER_EVENT else event.event_name
        event_id = graph.node("event", event.event_name, name, name, event.factory.__qualname__)
        graph.edge(source, event_id)
        schema = data_schema(event.factory)
        if schema is not None:
            note = graph.node("note", event.event_name, event.event_name, *schema_note(schema))
            graph.edge(event_id, note, "data")
        for handler in event.handlers:
            label = handler.short_name + (f" ({handler.dto})" if handler.dto else "")
            # A handler that runs no action is drawn once, whatever the event: nothing
            # downstream depends on which event reached it.
            key = f"{event.event_name} {handler.name}" if handler.actions else handler.name
            slug = f"{event.event_name} {handler.short_name}" if handler.actions else handler.short_name
            handler_id = graph.node("handler", key, slug, label)
            graph.edge(event_id, handler_id)
            for action in handler.actions:
                action_id = graph.node(
                    "action",
                    f"{event.event_name} {action.name}",
                    action.name,
                    action.name,
                    f"weight {action.weight}",
                    f"when: {action.condition}",
                )
                graph.edge(handler_id, action_id)
                graph.edge(action_id, queue(action.queue))
    return graph


def schema_note(schema: Mapping[str, Any]) -> list[str]:
    """The lines of the note on an event that declares a data schema."""
    required = schema.get("required") or []
    lines = ["data_schema"]
    if required:
        lines.append(f"required: {', '.join(map(str, required))}")
    return [*lines, "else dead-lettered: invalid_data"]


# -- Mermaid -----------------------------------------------------------------
_MERMAID_SHAPES = {
    "queue": '[("{}")]',
    "event": '{{{{"{}"}}}}',
    "handler": '["{}"]',
    "action": '(["{}"])',
    "note": '>"{}"]',
}
_MERMAID_STYLES = {
    "queue": "fill:#fff4d6,stroke:#b8860b",
    "event": "fill:#e3f0ff,stroke:#3b6fb6",
    "handler": "fill:#f2f2f2,stroke:#777",
    "action": "fill:#e6f6e6,stroke:#3c8d3c",
    "note": "fill:#fdf6e3,stroke:#b58900",
}


def _mermaid_text(text: str) -> str:
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def mermaid(graph: Graph) -> str:
    """The graph as a Mermaid flowchart."""
    lines = ["flowchart LR"]
    for node in graph.nodes.values():
        label = "<br/>".join(_mermaid_text(line) for line in node.lines)
        lines.append(f"    {node.id}{_MERMAID_SHAPES[node.kind].format(label)}:::{node.kind}")
    for source, target, label in graph.edges:
        arrow = f"-. {_mermaid_text(label)} .->" if label else "-->"
        lines.append(f"    {source} {arrow} {target}")
    used = {node.kind for node in graph.nodes.values()} | {"queue", "event", "handler", "action"}
    lines += [f"    classDef {kind} {style}" for kind, style in _MERMAID_STYLES.items() if kind in used]
    return "\n".join(lines)


# -- Graphviz DOT ------------------------------------------------------------
_DOT_SHAPES = {
    "queue": 'shape=cylinder, style=filled, fillcolor="#fff4d6"',
    "event": 'shape=hexagon, style=filled, fillcolor="#e3f0ff"',
    "handler": 'shape=box, style=filled, fillcolor="#f2f2f2"',
    "action": 'shape=box, style="rounded,filled", fillcolor="#e6f6e6"',
    "note": 'shape=note, style=filled, fillcolor="#fdf6e3"',
}


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def dot(graph: Graph) -> str:
    """The graph in Graphviz's DOT language."""
    lines = ["digraph choreography {", "    rankdir=LR;", '    node [fontname="Helvetica", fontsize=11];']
    for node in graph.nodes.values():
        label = "\\n".join(_dot_text(line) for line in node.lines)
        lines.append(f'    {node.id} [label="{label}", {_DOT_SHAPES[node.kind]}];')
    for source, target, label in graph.edges:
        extra = f' [style=dashed, label="{_dot_text(label)}"]' if label else ""
        lines.append(f"    {source} -> {target}{extra};")
    lines.append("}")
    return "\n".join(lines)


def run(args: Any) -> int:
    """Print the graph."""
    graph = build(load(settings_for_tool()))
    print(dot(graph) if args.format == "dot" else mermaid(graph))
    return OK
