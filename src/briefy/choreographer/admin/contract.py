"""The contract check: what changed between a committed AsyncAPI document and the live one.

Both documents are read the same way (``Contract.of``): the events queue and
each registered event's message, every action's message on its queue, the
dead-letter queue and its message. A change is *breaking* when a party that
relied on the old document can fail:

- producers of events: an event name removed (its events would only be logged),
  the events queue moved or turned FIFO (or back), an event message schema
  that accepts less (a new required field, a narrower type, a new bound or
  pattern, a data_schema where there was none, ...);
- consumers of output queues: an action removed, or sending to another queue,
  an output queue moved or turned FIFO (or back), a payload or header schema
  that allows more than before (a field no longer required, a wider type, a
  bound dropped, a new event name in its ``event_name`` header, ...);
- readers of dead letters: the dead-letter queue moved or turned FIFO (or
  back), its headers allowing more than before.

The reverse changes (an event or an action added, an event schema that accepts
more, an output schema that allows less) are compatible. A schema keyword whose
effect the comparison does not work out (``anyOf``, ``not``, ...) counts as
breaking when it differs. Servers, titles and descriptions are not compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from briefy.choreographer.admin.asyncapi import RECEIVE_EVENTS, SEND_DEAD_LETTERS
from briefy.choreographer.admin.schemadiff import CHANGED, NARROWED, WIDENED, SchemaDiff, pointer
from briefy.common.queue import sqs


class NotAContract(ValueError):
    """The document is not an AsyncAPI document written by ``choreographer asyncapi``."""


@dataclass(frozen=True)
class QueueInfo:
    """An SQS queue as a document names it."""

    address: str
    fifo: bool


@dataclass(frozen=True)
class MessageInfo:
    """A message of the contract: where it goes and its schemas."""

    name: str
    queue: QueueInfo
    payload: Any
    headers: Any


@dataclass(frozen=True)
class Contract:
    """The parts of a document the check compares."""

    document: Mapping[str, Any]
    events_queue: QueueInfo
    dead_letters: MessageInfo
    events: dict[str, MessageInfo] = field(default_factory=dict)
    #: By action name, then by the address of each queue it sends to.
    actions: dict[str, dict[str, MessageInfo]] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Any) -> Contract:
        """Read a document; ``NotAContract`` says what is missing."""
        if not isinstance(document, Mapping) or not str(document.get("asyncapi", "")).startswith("3."):
            raise NotAContract("not an AsyncAPI 3 document")
        operations = document.get("operations")
        if not isinstance(operations, Mapping) or RECEIVE_EVENTS not in operations:
            raise NotAContract(
                f"it has no operation {RECEIVE_EVENTS!r} (not written by choreographer asyncapi)"
            )
        if SEND_DEAD_LETTERS not in operations:
            raise NotAContract(f"it has no operation {SEND_DEAD_LETTERS!r}")
        reader = _Reader(document)
        events = {message.name: message for message in reader.messages(operations[RECEIVE_EVENTS])}
        letters = reader.messages(operations[SEND_DEAD_LETTERS])
        if not letters:
            raise NotAContract(f"operation {SEND_DEAD_LETTERS!r} has no message")
        actions: dict[str, dict[str, MessageInfo]] = {}
        for key, operation in operations.items():
            if key in (RECEIVE_EVENTS, SEND_DEAD_LETTERS) or operation.get("action") != "send":
                continue
            for message in reader.messages(operation):
                actions.setdefault(message.name, {})[message.queue.address] = message
        events_queue = reader.queue(operations[RECEIVE_EVENTS])
        return cls(document, events_queue, letters[0], events, actions)


class _Reader:
    """Follows a document's references to its operations' channels and messages."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def resolve(self, node: Any) -> Any:
        for _ in range(32):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                return node
            node = pointer(self.document, node["$ref"])
        return node

    def queue(self, operation: Mapping[str, Any]) -> QueueInfo:
        channel = self.resolve(operation.get("channel"))
        if not isinstance(channel, Mapping) or "address" not in channel:
            raise NotAContract("an operation's channel has no address")
        address = str(channel["address"])
        binding = (channel.get("bindings") or {}).get("sqs") or {}
        fifo = (binding.get("queue") or {}).get("fifoQueue")
        return QueueInfo(address, bool(fifo) if fifo is not None else sqs.is_fifo(address))

    def messages(self, operation: Mapping[str, Any]) -> list[MessageInfo]:
        queue = self.queue(operation)
        found = []
        for ref in operation.get("messages") or []:
            message = self.resolve(ref)
            if not isinstance(message, Mapping) or not message.get("name"):
                raise NotAContract(f"a message of an operation has no name ({ref})")
            found.append(
                MessageInfo(str(message["name"]), queue, message.get("payload"), message.get("headers"))
            )
        return found


@dataclass(frozen=True)
class Change:
    """One difference, and whether it breaks a party relying on the old document."""

    subject: str
    text: str
    breaking: bool

    def __str__(self) -> str:
        return f"{self.subject}: {self.text}"


def compare(old: Contract, new: Contract) -> list[Change]:
    """What changed from ``old`` (the committed document) to ``new`` (the live one), breaking first."""
    schemas = SchemaDiff(old.document, new.document)
    changes = _queue("events queue", old.events_queue, new.events_queue)
    changes += _queue("dead-letter queue", old.dead_letters.queue, new.dead_letters.queue)
    changes += _schemas(schemas, "dead letters", old.dead_letters, new.dead_letters, output=True)
    for name in sorted(set(old.events) | set(new.events)):
        subject = f"event {name}"
        if name not in new.events:
            changes.append(Change(subject, "removed (its events would only be logged and deleted)", True))
        elif name not in old.events:
            changes.append(Change(subject, "added", False))
        else:
            changes += _schemas(schemas, subject, old.events[name], new.events[name], output=False)
    for name in sorted(set(old.actions) | set(new.actions)):
        changes += _action(schemas, name, old.actions.get(name, {}), new.actions.get(name, {}))
    return sorted(changes, key=lambda change: not change.breaking)


def _queue(subject: str, old: QueueInfo, new: QueueInfo) -> list[Change]:
    changes = []
    if old.address != new.address:
        changes.append(Change(subject, f"moved from {old.address!r} to {new.address!r}", True))
    if old.fifo != new.fifo:
        changes.append(
            Change(subject, "is a FIFO queue now" if new.fifo else "is no longer a FIFO queue", True)
        )
    return changes


def _action(
    schemas: SchemaDiff, name: str, old: dict[str, MessageInfo], new: dict[str, MessageInfo]
) -> list[Change]:
    subject = f"action {name}"
    if not new:
        return [Change(subject, f"removed (nothing is sent to {_names(old)} for it any more)", True)]
    if not old:
        return [Change(subject, f"added (sends to {_names(new)})", False)]
    gone, came = [a for a in old if a not in new], [a for a in new if a not in old]
    changes = []
    if gone:
        text = (
            f"sends to {_names(new)} instead of {_names(old)}"
            if came
            else f"no longer sends to {_names(gone)}"
        )
        changes.append(Change(subject, text, True))
    elif came:
        changes.append(Change(subject, f"also sends to {_names(came)}", False))
    for address in old:
        if address in new:
            changes += _queue(f"{subject}'s queue", old[address].queue, new[address].queue)
            changes += _schemas(schemas, subject, old[address], new[address], output=True)
    return changes


def _names(addresses: Any) -> str:
    return ", ".join(repr(address) for address in addresses)


def _schemas(
    schemas: SchemaDiff, subject: str, old: MessageInfo, new: MessageInfo, *, output: bool
) -> list[Change]:
    """Payload and header changes; for an output, allowing more breaks its consumers, for an
    input (an event) accepting less breaks its producers."""
    breaking = {CHANGED, WIDENED} if output else {CHANGED, NARROWED}
    found = schemas.changes(old.payload, new.payload, "payload" if output else "")
    found += schemas.changes(old.headers, new.headers, "headers")
    return [
        Change(
            subject, f"{change.path or 'the message'}: {change.kind}: {change.what}", change.kind in breaking
        )
        for change in found
    ]
