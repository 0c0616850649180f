"""What the receive loop does after a receive: decisions on receive counts alone.

A plain loop handles one batch at a time; a run of full receives suggests a backlog,
which the loop then probes for by receiving the next batch while the last one is
processed. ``BacklogProbe`` decides, receive by receive; the worker
(``briefy.common.worker``) does what it says, and ``Climb`` (``briefy.common.climb``)
sizes the receive loops once a backlog is found. ``Gathering`` decides when a batch the
loop handles itself takes in a second receive.
"""

from __future__ import annotations

#: Full receives in a row after which the receive loop probes for a backlog: it receives
#: the next batch while the last one is processed (a full batch or two may be a burst).
FULL_TO_GROW = 3
#: Full receives in a row before the next probe, after one came back short (``BacklogProbe``).
MAX_PROBE_AFTER = 32
#: Full receives handled without a gather after a gather came back empty (``Gathering``).
GATHER_PAUSE = 8


#: What the receive loop does with a batch (``BacklogProbe.received``): handle it itself, then
#: receive; hand it over and receive the next at once (a probe); or hand it over, receive on,
#: and start further receive loops while there is room (a backlog).
HANDLE, AHEAD, GROW = "handle", "ahead", "grow"


class BacklogProbe:
    """When the primary receive loop looks for a backlog: a decision on receive counts alone.

    One batch at a time until ``probe_after`` full receives in a row suggest a backlog;
    then the next batch is received while the last one is processed (a probe, only with
    ``room``: a free slot to receive into). A probe that comes back full is a backlog
    (``GROW``). One that comes back short was a steady stream kept busy, not a backlog: it
    cost a small batch (and a steady stream's batches, once one is short, stay uneven
    for a while), so the next probe waits for ``MAX_PROBE_AFTER`` full receives in a row.
    Short receives, which a steady stream has now and then, leave that as it is; an
    empty one (the stream has paused) brings it back to ``FULL_TO_GROW``, so the first
    run of full receives after a pause is probed soon.
    """

    def __init__(self, batch_size: int, probing: bool = False) -> None:
        self.batch_size = batch_size
        self.probing = probing
        self.probe_after = FULL_TO_GROW
        self.full_in_a_row = 0

    def received(self, count: int, room: bool) -> str:
        """What to do with a receive of ``count`` messages: ``HANDLE``, ``AHEAD`` or ``GROW``."""
        full = count >= self.batch_size
        if self.probing:
            if full:
                return GROW
            self.probing, self.full_in_a_row = False, 0
            self.probe_after = MAX_PROBE_AFTER
            return HANDLE
        if full:
            self.full_in_a_row += 1
            self.probing = self.full_in_a_row >= self.probe_after and room
            return AHEAD if self.probing else HANDLE
        self.full_in_a_row = 0
        if not count:
            self.probe_after = FULL_TO_GROW
        return HANDLE


class Gathering:
    """When a batch the receive loop handles itself takes in a second receive (a gather).

    A full receive says more messages are likely waiting. Received at once (no wait) and
    handled with it as one batch, they share its calls: each output queue gets one
    SendMessageBatch (of up to 10 entries) for both, where two batches would make one
    each. When the outputs are spread over several queues, that is fewer calls per event
    (on the reference choreography's two queues, half the sends: 0.31 calls per event
    where a batch at a time makes 0.40). The price is the time of one receive before the
    first receive's outputs are sent, and only after a full one: a light stream's
    receives come back short and are handled at once. A gather that comes back empty
    cost a call for nothing (a queue emptied by the full receive, or SQS's short poll
    sampling too few of its servers), so the next ``GATHER_PAUSE`` full receives are
    handled alone.
    """

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.pause = 0

    def wanted(self, count: int) -> bool:
        """Whether to gather after a receive of ``count`` messages."""
        if count < self.batch_size:
            return False
        if self.pause:
            self.pause -= 1
            return False
        return True

    def gathered(self, count: int) -> None:
        """A gather brought ``count`` messages (none: it failed, or found the queue empty)."""
        if not count:
            self.pause = GATHER_PAUSE
