"""``choreographer events``: the registered choreography."""

from __future__ import annotations

from typing import Any

import orjson

from briefy.choreographer.admin.introspect import choreography, event_factories
from briefy.choreographer.cli.common import OK, guarded, load, settings_for_tool


def register(subparsers: Any) -> None:
    """Add ``events``."""
    parser = subparsers.add_parser(
        "events",
        help="list the registered choreography",
        description="Every registered event name, its actions (lowest weight first) and their queues.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(run=guarded(run))


def rows(registry: Any) -> list[dict[str, Any]]:
    """One row per registered event name with its actions."""
    actions: dict[str, list[dict[str, Any]]] = {}
    for info in choreography(registry):
        actions.setdefault(info.event_name, []).append(
            {
                "action": info.name,
                "weight": info.weight,
                "queue": info.queue,
                "handler": info.handler,
                "when": info.condition,
            }
        )
    return [
        {
            "event_name": name,
            "event": f"{factory.__module__}.{factory.__qualname__}",
            "actions": actions.get(name, []),
        }
        for name, factory in event_factories(registry)
    ]


def run(args: Any) -> int:
    """Print the choreography."""
    table = rows(load(settings_for_tool()).registry)
    if args.json:
        print(orjson.dumps(table, option=orjson.OPT_INDENT_2).decode())
        return OK
    for row in table:
        print(f"{row['event_name']}  ({row['event']})")
        if not row["actions"]:
            print("    (no actions: logged only)")
        for action in row["actions"]:
            route = f"{action['action']:<32} -> {action['queue']:<22}"
            print(f"    {action['weight']:>5}  {route} when: {action['when']}")
    print("any other event name  (briefy.choreographer.events.InternalEvent)\n    (no actions: logged only)")
    return OK
