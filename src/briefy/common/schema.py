"""JSON Schemas declared in code: checked to be JSON Schema, then compiled once.

fastjsonschema compiles a schema to a validator, but it takes some schemas that
are not JSON Schema at all (``{"additionalProperties": "no"}`` compiles, and
validates nothing): a declared schema is first checked against the draft-07
meta-schema (``draft-07-schema.json``, as json-schema.org publishes it), so a
typo is an error at start-up rather than a check that silently never fails.
Validators never fill in ``default`` values: validating leaves the data as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

#: A compiled schema: returns when the value is valid, raises ``JsonSchemaValueException``.
Validator = Callable[[Any], Any]


class InvalidSchema(ValueError):
    """A declared schema is not valid JSON Schema (the message says where)."""


@cache
def _meta_validator() -> Validator:
    """The draft-07 meta-schema, compiled on first use (once per process)."""
    text = resources.files("briefy.common").joinpath("draft-07-schema.json").read_text("utf-8")
    return fastjsonschema.compile(json.loads(text), use_default=False)


def check_schema(schema: Any) -> None:
    """Raise ``InvalidSchema`` unless ``schema`` is a draft-07 JSON Schema that can be compiled.

    References must be local (``#/definitions/...``): a remote one would be fetched
    when compiling, that is at start-up.
    """
    if not isinstance(schema, (Mapping, bool)):
        raise InvalidSchema(f"a schema is a JSON object or a boolean, not a {type(schema).__name__}")
    try:
        _meta_validator()(schema)
    except fastjsonschema.JsonSchemaValueException as error:
        name, text = error.name or "data", error.message or str(error)
        where = name.replace("data", "schema", 1)
        raise InvalidSchema(f"{where}: {text.replace(name, '', 1).strip()}") from None
    remote = [ref for ref in references(schema) if not ref.startswith("#")]
    if remote:
        raise InvalidSchema(f"only local references (#/...) are supported, not {remote[0]!r}")


def compile_schema(schema: Any) -> Validator:
    """The validator of ``schema`` once checked (``InvalidSchema`` if it is not JSON Schema)."""
    check_schema(schema)
    try:
        return fastjsonschema.compile(schema, use_default=False)
    except Exception as error:  # fastjsonschema's own refusals (an unresolvable reference, ...)
        raise InvalidSchema(f"{type(error).__name__}: {error}") from None


def references(schema: Any) -> list[str]:
    """Every ``$ref`` value in ``schema``, at any depth."""
    found: list[str] = []
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            else:
                found += references(value)
    elif isinstance(schema, list):
        for item in schema:
            found += references(item)
    return found
