"""Schema comparison: which changes accept less (narrowed), more (widened), or both (changed)."""

from __future__ import annotations

from typing import Any

import pytest

from briefy.choreographer.admin.schemadiff import CHANGED, NARROWED, WIDENED, SchemaDiff

STRING = {"type": "string"}


def kinds(old: Any, new: Any) -> list[tuple[str, str]]:
    """(path, kind) of each change from ``old`` to ``new``."""
    return [(change.path, change.kind) for change in SchemaDiff().changes(old, new, "data")]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"type": "string"}, {"type": ["string", "null"]}, [("data", WIDENED)]),
        ({"type": ["string", "null"]}, {"type": "string"}, [("data", NARROWED)]),
        ({"type": "string"}, {"type": "number"}, [("data", CHANGED)]),
        ({"type": "number"}, {"type": "integer"}, [("data", NARROWED)]),
        ({"type": "integer"}, {"type": "number"}, [("data", WIDENED)]),
        ({}, {"type": "object"}, [("data", NARROWED)]),
        ({"type": "object"}, {}, [("data", WIDENED)]),
    ],
)
def test_types(old: Any, new: Any, expected: list[tuple[str, str]]) -> None:
    """A type that takes fewer values narrows; more widens; other values changes."""
    assert kinds(old, new) == expected


def test_a_new_required_field_narrows_and_a_dropped_one_widens() -> None:
    """``required`` gaining a name accepts less; losing one accepts more."""
    assert kinds({"required": ["a"]}, {"required": ["a", "b"]}) == [("data", NARROWED)]
    assert kinds({"required": ["a", "b"]}, {"required": ["b"]}) == [("data", WIDENED)]


def test_properties_are_compared_with_what_other_properties_take() -> None:
    """A new property constraint narrows; dropping one widens; with additionalProperties false the reverse."""
    assert kinds({"properties": {}}, {"properties": {"a": STRING}}) == [("data.a", NARROWED)]
    assert kinds({"properties": {"a": STRING}}, {"properties": {}}) == [("data.a", WIDENED)]
    closed = {"additionalProperties": False}
    assert kinds(closed, {**closed, "properties": {"a": STRING}}) == [("data.a", WIDENED)]
    assert kinds({"properties": {"a": STRING}}, {"properties": {"a": STRING}, **closed}) == [
        ("data.*", NARROWED)
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"minimum": 0}, {"minimum": 1}, NARROWED),
        ({"minimum": 1}, {"minimum": 0}, WIDENED),
        ({"maximum": 10}, {"maximum": 5}, NARROWED),
        ({"maxLength": 5}, {}, WIDENED),
        ({}, {"minLength": 1}, NARROWED),
        ({"minItems": 1}, {"minItems": 2}, NARROWED),
        ({}, {"pattern": "^#"}, NARROWED),
        ({"pattern": "^#"}, {}, WIDENED),
        ({"pattern": "^#"}, {"pattern": "^@"}, CHANGED),
        ({}, {"format": "date-time"}, NARROWED),
        ({}, {"uniqueItems": True}, NARROWED),
        ({"enum": ["a", "b"]}, {"enum": ["a"]}, NARROWED),
        ({"enum": ["a"]}, {"enum": ["a", "b"]}, WIDENED),
        ({"enum": ["a"]}, {"enum": ["b"]}, CHANGED),
        ({"const": "a"}, {"enum": ["a", "b"]}, WIDENED),
        ({}, {"const": "a"}, NARROWED),
        ({"enum": ["a"]}, {}, WIDENED),
    ],
)
def test_bounds_constraints_and_values(old: Any, new: Any, expected: str) -> None:
    """Each bound, constraint and value list narrows or widens in its own direction."""
    assert kinds(old, new) == [("data", expected)]


def test_items_are_compared_as_schemas() -> None:
    """An array's items are walked like any schema, under ``[]``."""
    assert kinds({"items": STRING}, {"items": {"type": "string", "minLength": 1}}) == [("data[]", NARROWED)]


def test_annotations_change_nothing() -> None:
    """Titles, descriptions, examples, defaults and x- keys are not compared."""
    old = {"type": "string", "description": "a", "title": "A", "examples": ["x"], "default": "x", "x-a": 1}
    assert kinds(old, {"type": "string", "description": "b"}) == []


def test_keywords_it_does_not_work_out_count_as_changed() -> None:
    """anyOf, not, patternProperties... that differ are reported as changed (both ways)."""
    assert kinds({"anyOf": [STRING]}, {"anyOf": [STRING, {"type": "null"}]}) == [("data", CHANGED)]


def test_boolean_schemas() -> None:
    """``false`` accepts nothing: turning to it narrows, leaving it widens; ``true`` is ``{}``."""
    assert kinds(True, False) == [("data", NARROWED)]
    assert kinds(False, {}) == [("data", WIDENED)]
    assert kinds(True, {}) == []


def test_references_are_followed_in_each_documents_own_schema() -> None:
    """$ref is resolved in its document: a bound tightened behind a reference is found; recursion ends."""
    old_doc = {"defs": {"money": {"type": "number"}, "tree": {"properties": {"up": {"$ref": "#/defs/tree"}}}}}
    tree = {"description": "a tree", "properties": {"up": {"$ref": "#/defs/tree"}}}
    new_doc = {"defs": {"money": {"type": "number", "minimum": 0}, "tree": tree}}
    diff = SchemaDiff(old_doc, new_doc)
    found = diff.changes({"$ref": "#/defs/money"}, {"$ref": "#/defs/money"}, "data.amount")
    assert [(c.path, c.kind, c.what) for c in found] == [("data.amount", NARROWED, "minimum 0 added")]
    assert diff.changes({"$ref": "#/defs/tree"}, {"$ref": "#/defs/tree"}, "data") == []
