"""How many receive loops drain a backlog: as many as make it drain faster.

Against real SQS a backlog drains faster with more receives at once: each call
waits on the network, not on a busy process. Against a server that is busy
already (moto's on a small machine, a throttled queue, a process that is short of
CPU), more receives only cost the server more per message. The worker does not
guess which it has: it climbs, the way .NET's thread pool sizes itself, on the
rate it measures.

A backlog starts at level 0, one batch at a time, as a plain receive/send/delete
loop would drain it. Once a window of batches is settled there, the rate is known
and the next level is tried: at level ``k`` there are ``k`` receive loops, each
receiving its next batch while the batches before it are processed. A level stays
while it drains at least ``GAIN`` faster than the one below it; one that does not
is left for the one below, which is held for ``HOLD`` batches before the climb
tries again (the load may have changed). The end of the backlog ends the climb:
the next backlog starts again at level 0.

The class only decides; the worker feeds it (under its own lock) and does what it says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: Batches settled at a level (times the level, for levels above 1) before its rate is taken.
WINDOW = 5
#: How much faster than the level below a level must drain to stay (0.15: 15% faster).
GAIN = 0.15
#: Batches settled at a level the climb went back to before it tries the one above again.
HOLD = 100


@dataclass(frozen=True)
class Step:
    """A change of level, and the rates (messages per second) it was decided on."""

    level: int
    previous: int
    rate: float
    below: float | None


class Climb:
    """Hill climbing on the drain rate, from level 0 up to ``most`` receive loops."""

    def __init__(
        self,
        most: int,
        *,
        window: int = WINDOW,
        gain: float = GAIN,
        hold: int = HOLD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.most = max(0, most)
        self.window = window
        self.gain = gain
        self.hold = hold
        self.clock = clock
        self.active = False
        self.level = 0
        self._rates: dict[int, float] = {}
        self._came_up = False  # the level was entered from the one below: compare with it
        self._held = 0  # batches still to settle before measuring again (going back holds)
        self._skip = 0  # batches received before the level began, still to settle
        self._batches = 0
        self._messages = 0
        self._since = 0.0

    def begin(self) -> None:
        """A backlog: climb from level 0, unless climbing already."""
        if not self.active:
            self.active = True
            self._rates.clear()
            self._enter(0, came_up=False)

    def end(self) -> None:
        """The backlog is drained: the next one starts at level 0."""
        self.active = False
        self.level = 0

    def settled(self, messages: int) -> Step | None:
        """A batch of ``messages`` was settled; the change of level it brings, if any."""
        if not self.active:
            return None
        if self._held:
            self._held -= 1
            if not self._held:  # measure this level again, then try the one above
                self._enter(self.level, came_up=False)
            return None
        if self._skip:  # received before this level began: its time is the level below's
            self._skip -= 1
            if not self._skip:
                self._since = self.clock()
            return None
        self._batches += 1
        self._messages += messages
        if self._batches < self.window * max(1, self.level):
            return None
        rate = self._messages / max(self.clock() - self._since, 1e-9)
        return self._decide(rate)

    def _decide(self, rate: float) -> Step | None:
        level, below = self.level, self._rates.get(self.level - 1)
        if self._came_up and below is not None and rate < below * (1 + self.gain):
            # Not worth its receives: back to the level below, held there for a while.
            self._enter(level - 1, came_up=False)
            self._held = self.hold
            return Step(level - 1, level, rate, below)
        self._rates[level] = rate
        if level >= self.most:  # the top: nothing more to try until the next backlog
            self._held = self.hold
            return None
        self._enter(level + 1, came_up=True)
        return Step(level + 1, level, rate, below)

    def _enter(self, level: int, came_up: bool) -> None:
        self.level = level
        self._came_up = came_up
        self._skip = 1 + level  # the batches that may be in flight from before; the clock starts after
        self._batches = self._messages = self._held = 0
