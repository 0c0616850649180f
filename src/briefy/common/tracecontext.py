"""Trace context on SQS messages: W3C ``traceparent``/``tracestate`` and X-Ray's ``AWSTraceHeader``.

- ``traceparent`` (a message attribute): ``00-<32 hex trace id>-<16 hex parent id>-<2 hex
  flags>``; ``tracestate`` (a message attribute) goes with it, as it came.
- ``AWSTraceHeader`` (a message *system* attribute, asked for on receive, which SQS does
  not count among a message's 10 attributes or its size):
  ``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>``, the same 128-bit trace id
  written X-Ray's way (the first 8 digits are its epoch seconds).

A value that does not parse is ignored: it is a producer's text, and a trace that
cannot be continued starts anew; it never makes the message bad input. Everything
here is pure and bounded (values are length-checked before any pattern runs).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
#: The message system attribute of X-Ray's trace header.
AWS_TRACE_HEADER = "AWSTraceHeader"
#: Longest ``tracestate`` carried on (W3C: 32 members; 512 characters is what must be kept).
MAX_TRACESTATE = 512
#: Longest ``AWSTraceHeader`` read (root, parent, sampled, lineage take about 120).
MAX_AWS_TRACE_HEADER = 256

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_XRAY_ROOT = re.compile(r"1-([0-9a-f]{8})-([0-9a-f]{24})")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
#: What a tracestate may hold: printable ASCII (W3C's keys and values are narrower still).
_TRACESTATE = re.compile(r"[\x20-\x7e]*")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def new_trace_id() -> str:
    """A random 128-bit trace id, as 32 lower-case hex digits (never all zeros)."""
    return f"{random.getrandbits(128) or 1:032x}"


def new_span_id() -> str:
    """A random 64-bit span id, as 16 lower-case hex digits (never all zeros)."""
    return f"{random.getrandbits(64) or 1:016x}"


class TraceContext(NamedTuple):
    """A position in a trace: the trace, the span it is in, whether the trace is sampled.

    A named tuple: one is made per event and per output, and a tuple is made fastest.
    """

    trace_id: str
    span_id: str
    sampled: bool = True
    #: The W3C ``tracestate`` that came with it, carried on unchanged.
    tracestate: str = ""

    @classmethod
    def new(cls) -> TraceContext:
        """The start of a new trace (sampled: the services after may record it)."""
        return cls(f"{random.getrandbits(128) or 1:032x}", f"{random.getrandbits(64) or 1:016x}")

    def child(self) -> TraceContext:
        """The same trace, in a span of its own."""
        return TraceContext(
            self.trace_id, f"{random.getrandbits(64) or 1:016x}", self.sampled, self.tracestate
        )

    def traceparent(self) -> str:
        """The W3C ``traceparent`` of this context."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def aws_trace_header(self) -> str:
        """X-Ray's ``AWSTraceHeader`` of this context."""
        trace = self.trace_id
        return f"Root=1-{trace[:8]}-{trace[8:]};Parent={self.span_id};Sampled={1 if self.sampled else 0}"


def from_traceparent(value: str, tracestate: str = "") -> TraceContext | None:
    """The context of a ``traceparent`` value (and its ``tracestate``), or None if malformed."""
    if len(value) < 55 or len(value) > 512:
        return None
    found = _TRACEPARENT.match(value)
    if found is None:
        return None
    version, trace_id, span_id, flags = found.groups()
    # Version 00 is exactly 55 characters; a later version may add fields after a dash.
    if version == "ff" or (len(value) > 55 and (version == "00" or value[55] != "-")):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    if len(tracestate) > MAX_TRACESTATE or not _TRACESTATE.fullmatch(tracestate):
        tracestate = ""  # not ours to repair: dropped, the trace goes on
    return TraceContext(trace_id, span_id, bool(int(flags, 16) & 1), tracestate.strip())


def from_aws_trace_header(value: str) -> TraceContext | None:
    """The context of an ``AWSTraceHeader`` value, or None if it has no readable root."""
    if len(value) > MAX_AWS_TRACE_HEADER:
        return None
    fields = {}
    for part in value.split(";"):
        key, _, text = part.strip().partition("=")
        fields[key] = text
    root = _XRAY_ROOT.fullmatch(fields.get("Root", ""))
    if root is None or root.group(1) + root.group(2) == _ZERO_TRACE:
        return None
    parent = fields.get("Parent", "")
    span_id = parent if _SPAN_ID.fullmatch(parent) and parent != _ZERO_SPAN else new_span_id()
    return TraceContext(root.group(1) + root.group(2), span_id, fields.get("Sampled") != "0")


@dataclass(frozen=True, slots=True)
class Incoming:
    """The trace context a message came with, and what was ignored while reading it."""

    context: TraceContext | None = None
    #: The attributes that held a value that does not parse (ignored: a new trace starts).
    ignored: tuple[str, ...] = ()


#: What a message without trace context comes with (the usual: shared, not made each time).
NO_TRACE = Incoming()


def incoming(attributes: Mapping[str, str], system_attributes: Mapping[str, str]) -> Incoming:
    """The trace context of a message: its ``traceparent`` attribute, else its
    ``AWSTraceHeader`` system attribute."""
    if TRACEPARENT not in attributes and AWS_TRACE_HEADER not in system_attributes:
        return NO_TRACE
    ignored: tuple[str, ...] = ()
    value = attributes.get(TRACEPARENT)
    if value is not None:
        found = from_traceparent(value, attributes.get(TRACESTATE, ""))
        if found is not None:
            return Incoming(found)
        ignored = (TRACEPARENT,)
    header = system_attributes.get(AWS_TRACE_HEADER)
    if header is not None:
        found = from_aws_trace_header(header)
        if found is not None:
            return Incoming(found, ignored)
        ignored += (AWS_TRACE_HEADER,)
    return Incoming(None, ignored)
