"""Event data schemas: the JSON Schema an event class may declare for its ``data``.

An event class sets ``data_schema`` (a draft-07 JSON Schema, as a dict); the site
compiles every registered one once at start-up (a schema that is not JSON
Schema stops it), and the worker checks each event's ``data`` against its
class's schema before any handler runs: data that fails it is bad input,
dead-lettered as ``invalid_data`` with the failing field in the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema

from briefy.choreographer.errors import BadInput
from briefy.choreographer.events.message import EventMessage
from briefy.choreographer.interfaces import IInternalEvent
from briefy.common.schema import InvalidSchema, Validator, compile_schema

#: The class attribute holding an event's data schema.
DATA_SCHEMA = "data_schema"


def data_schema(factory: Any) -> Mapping[str, Any] | None:
    """The data schema an event class declares, or None."""
    schema: Mapping[str, Any] | None = getattr(factory, DATA_SCHEMA, None)
    return schema


class DataSchemaError(InvalidSchema):
    """A registered event class declares a data schema that is not JSON Schema."""

    def __init__(self, event_name: str, factory: Any, reason: str) -> None:
        where = f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', factory)!s}"
        super().__init__(
            f"the data_schema of event {event_name!r} ({where}) is not valid JSON Schema: {reason}"
        )
        self.event_name = event_name
        self.factory = factory


@dataclass(frozen=True)
class DataSchemas:
    """The compiled data schemas of a registry's events, by event name."""

    validators: Mapping[str, Validator] = field(default_factory=dict)

    @classmethod
    def of(cls, registry: Any) -> DataSchemas:
        """Compile the data schema of every event class in ``registry``
        (``DataSchemaError`` names the first that is not JSON Schema)."""
        validators: dict[str, Validator] = {}
        for name, factory in sorted(registry.getUtilitiesFor(IInternalEvent), key=lambda item: item[0]):
            schema = data_schema(factory)
            if schema is None:
                continue
            try:
                validators[name] = compile_schema(schema)
            except InvalidSchema as error:
                raise DataSchemaError(name, factory, str(error)) from None
        return cls(validators)

    def __contains__(self, event_name: object) -> bool:
        return event_name in self.validators

    def check(self, message: EventMessage) -> None:
        """Raise ``BadInput`` (``invalid_data``) unless the event's data meets its class's schema."""
        validator = self.validators.get(message.event_name)
        if validator is None:
            return
        try:
            validator(message.data)
        except fastjsonschema.JsonSchemaValueException as error:
            raise BadInput(
                "invalid_data", f"data_schema of {message.event_name}: {reason(error)}", message.event_name
            ) from None


def reason(error: fastjsonschema.JsonSchemaValueException) -> str:
    """What failed, naming the field (``data.amount must be ...``), never quoting the data.

    fastjsonschema's messages quote the schema only, except for unexpected property
    names, which are the producer's text: those are left out.
    """
    if error.rule == "additionalProperties":
        return f"{error.name or 'data'} must not contain properties its schema does not name"
    return str(error.message or error)
