"""Whether a JSON Schema now accepts less (narrowed) or more (widened) than before.

``SchemaDiff`` walks two versions of a schema keyword by keyword: ``type``,
``enum`` and ``const``, ``required``, ``properties`` and
``additionalProperties`` (a property a schema does not name takes its
``additionalProperties``, so adding or dropping a property is compared like any
other change), ``items``, the bounds (``minimum``, ``maxLength``, ...),
``pattern``, ``format``, ``multipleOf`` and ``uniqueItems``. Annotations
(``title``, ``description``, ``examples``, ``default``, ``x-*``, ...) change
nothing. Any other keyword that differs (``anyOf``, ``oneOf``, ``not``,
``patternProperties``, ...) is reported as ``changed``: its effect is not
worked out, so it counts as both. Local ``$ref`` are followed in each
schema's own document.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

NARROWED, WIDENED, CHANGED = "narrowed", "widened", "changed"

#: Keywords that say nothing about which values a schema accepts.
ANNOTATIONS = frozenset(
    {"title", "description", "examples", "default", "$comment", "readOnly", "writeOnly", "deprecated"}
    | {"$schema", "$id", "definitions", "contentMediaType"}
)
#: Bounds that accept less as they grow, and those that accept less as they shrink.
LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
#: Constraints that narrow when added and widen when dropped (a new value: changed).
CONSTRAINTS = ("pattern", "format", "multipleOf", "contentEncoding")
_HANDLED = frozenset(
    {"type", "enum", "const", "required", "properties", "additionalProperties", "items", "uniqueItems"}
    | {"$ref", *LOWER, *UPPER, *CONSTRAINTS}
)
#: Stands for the ``false`` schema (accepts nothing).
_NOTHING: Mapping[str, Any] = {"not": {}}


@dataclass(frozen=True)
class SchemaChange:
    """One difference: where (``data.amount``), which way, and what."""

    path: str
    kind: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.what}"


class SchemaDiff:
    """Compares schemas of two documents (``old`` and ``new``, where their ``$ref`` point)."""

    def __init__(self, old: Any = None, new: Any = None) -> None:
        self.documents = (old, new)

    def changes(self, old: Any, new: Any, path: str) -> list[SchemaChange]:
        """Every difference between ``old`` and ``new``, the root named ``path``."""
        return list(self._diff(old, new, path, frozenset()))

    def _diff(
        self, old: Any, new: Any, path: str, seen: frozenset[tuple[str, str]]
    ) -> Iterator[SchemaChange]:
        refs = (_ref(old) or "", _ref(new) or "")
        if any(refs):
            if refs in seen:  # a recursive schema: each pair of references is walked once
                return
            seen = seen | {refs}
            old, new = self._resolve(old, 0), self._resolve(new, 1)
        if old == new:
            return
        old, new = _schema(old), _schema(new)
        if new == _NOTHING:
            yield SchemaChange(path, NARROWED, "no longer allowed")
        elif old == _NOTHING:
            yield SchemaChange(path, WIDENED, "allowed now")
        if _NOTHING in (old, new):
            return
        yield from _types(old, new, path)
        yield from _values(old, new, path)
        yield from _required(old, new, path)
        yield from _bounds(old, new, path)
        yield from _constraints(old, new, path)
        yield from self._properties(old, new, path, seen)
        yield from self._items(old, new, path, seen)
        for key in sorted((set(old) | set(new)) - _HANDLED - ANNOTATIONS):
            if not key.startswith("x-") and old.get(key) != new.get(key):
                yield SchemaChange(path, CHANGED, f"{key} differs (its effect is not compared)")

    def _resolve(self, schema: Any, side: int) -> Any:
        """Follow local references in the document of ``side`` (0 old, 1 new)."""
        for _ in range(32):
            ref = _ref(schema)
            if not ref:
                return schema
            schema = pointer(self.documents[side], ref)
        return schema

    def _properties(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str, seen: frozenset[tuple[str, str]]
    ) -> Iterator[SchemaChange]:
        keys = ("properties", "additionalProperties")
        if not any(key in schema for key in keys for schema in (old, new)):
            return
        old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
        old_other, new_other = old.get("additionalProperties", True), new.get("additionalProperties", True)
        for name in dict.fromkeys([*old_props, *new_props]):
            yield from self._diff(
                old_props.get(name, old_other), new_props.get(name, new_other), _join(path, name), seen
            )
        yield from self._diff(old_other, new_other, _join(path, "*"), seen)

    def _items(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str, seen: frozenset[tuple[str, str]]
    ) -> Iterator[SchemaChange]:
        if "items" not in old and "items" not in new:
            return
        old_items, new_items = old.get("items", True), new.get("items", True)
        if isinstance(old_items, list) or isinstance(new_items, list):
            if old_items != new_items:
                yield SchemaChange(path, CHANGED, "items differ (its effect is not compared)")
            return
        yield from self._diff(old_items, new_items, f"{path}[]", seen)


def pointer(document: Any, ref: str) -> Any:
    """The part of ``document`` a local reference (``#/a/b``) names; ``{}`` if none."""
    node = document
    for part in ref.lstrip("#").split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return {}
    return node


def _ref(schema: Any) -> str | None:
    if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        return str(schema["$ref"])
    return None


def _schema(schema: Any) -> Mapping[str, Any]:
    """A schema as a mapping: ``true`` (or a missing one) is ``{}``, ``false`` is ``_NOTHING``."""
    if schema is False:
        return _NOTHING
    return schema if isinstance(schema, Mapping) else {}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _types(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> Iterator[SchemaChange]:
    before, after = _type_set(old), _type_set(new)
    if before == after:
        return
    text = f"type was {_words(before) or 'any'}, is {_words(after) or 'any'}"
    narrower = before is None or (after is not None and _covers(before, after))
    wider = after is None or (before is not None and _covers(after, before))
    if narrower and wider:  # the same values ("number" and "integer or number")
        return
    yield SchemaChange(path, NARROWED if narrower else WIDENED if wider else CHANGED, text)


def _type_set(schema: Mapping[str, Any]) -> frozenset[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return frozenset([kind] if isinstance(kind, str) else kind)


def _covers(wide: frozenset[str], narrow: frozenset[str]) -> bool:
    """Whether every value of the types ``narrow`` is of the types ``wide``."""
    return all(kind in wide or (kind == "integer" and "number" in wide) for kind in narrow)


def _words(kinds: frozenset[str] | None) -> str:
    return " or ".join(sorted(kinds)) if kinds else ""


def _values(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> Iterator[SchemaChange]:
    """``enum`` and ``const``: the values a schema is limited to."""
    before, after = _value_set(old), _value_set(new)
    if before == after:
        return
    if before is None:
        yield SchemaChange(path, NARROWED, f"limited to {_listed(after)}")
    elif after is None:
        yield SchemaChange(path, WIDENED, "no longer limited to a list of values")
    else:
        gone, came = before - after, after - before
        if gone and came:
            yield SchemaChange(path, CHANGED, f"no longer takes {_listed(gone)}; takes {_listed(came)}")
        elif gone:
            yield SchemaChange(path, NARROWED, f"no longer takes {_listed(gone)}")
        else:
            yield SchemaChange(path, WIDENED, f"also takes {_listed(came)}")


def _value_set(schema: Mapping[str, Any]) -> frozenset[str] | None:
    found: frozenset[str] | None = None
    if "enum" in schema and isinstance(schema["enum"], list):
        found = frozenset(_canonical(value) for value in schema["enum"])
    if "const" in schema:
        const = frozenset([_canonical(schema["const"])])
        found = const if found is None else found & const
    return found


def _canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _listed(values: frozenset[str] | None) -> str:
    return ", ".join(sorted(values or ()))


def _required(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> Iterator[SchemaChange]:
    before, after = list(old.get("required") or []), list(new.get("required") or [])
    for name in after:
        if name not in before:
            yield SchemaChange(path, NARROWED, f"now requires {name!r}")
    for name in before:
        if name not in after:
            yield SchemaChange(path, WIDENED, f"no longer requires {name!r}")


def _bounds(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> Iterator[SchemaChange]:
    for key in (*LOWER, *UPPER):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is None:
            yield SchemaChange(path, NARROWED, f"{key} {after} added")
        elif after is None:
            yield SchemaChange(path, WIDENED, f"{key} {before} dropped")
        elif not all(isinstance(value, (int, float)) for value in (before, after)):
            yield SchemaChange(path, CHANGED, f"{key} {before!r} became {after!r}")
        else:
            grew = after > before
            kind = NARROWED if grew == (key in LOWER) else WIDENED
            yield SchemaChange(path, kind, f"{key} {before} became {after}")


def _constraints(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> Iterator[SchemaChange]:
    for key in CONSTRAINTS:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is None:
            yield SchemaChange(path, NARROWED, f"{key} {after!r} added")
        elif after is None:
            yield SchemaChange(path, WIDENED, f"{key} {before!r} dropped")
        else:
            yield SchemaChange(path, CHANGED, f"{key} {before!r} became {after!r}")
    if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
        added = bool(new.get("uniqueItems"))
        yield SchemaChange(
            path, NARROWED if added else WIDENED, f"uniqueItems {'added' if added else 'dropped'}"
        )
