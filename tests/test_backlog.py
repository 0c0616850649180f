"""BacklogProbe and Gathering alone: when the receive loop probes for a backlog, and when it
gathers a second receive into a batch, on receive counts only."""

from __future__ import annotations

from briefy.common.backlog import (
    AHEAD,
    FULL_TO_GROW,
    GATHER_PAUSE,
    GROW,
    HANDLE,
    MAX_PROBE_AFTER,
    BacklogProbe,
    Gathering,
)


def test_a_probe_that_comes_back_short_makes_the_next_one_wait_longest() -> None:
    """The backlog probe alone: after a short probe, MAX_PROBE_AFTER full receives in a row
    come before the next probe; short receives between leave that as it is (a steady stream
    has them now and then) and only start the run again; an empty one (a pause) brings it
    back to FULL_TO_GROW."""
    probe = BacklogProbe(10)

    def run_of_full(count: int) -> list[str]:
        return [probe.received(10, room=True) for _ in range(count)]

    assert run_of_full(FULL_TO_GROW) == [HANDLE] * (FULL_TO_GROW - 1) + [AHEAD]
    for _ in range(3):
        assert probe.received(4, room=True) == HANDLE  # the probe came back short
        assert run_of_full(MAX_PROBE_AFTER - 1) == [HANDLE] * (MAX_PROBE_AFTER - 1)
        assert probe.received(3, room=True) == HANDLE  # a short receive of its own: no reset
        assert run_of_full(MAX_PROBE_AFTER) == [HANDLE] * (MAX_PROBE_AFTER - 1) + [AHEAD]
    assert probe.received(2, room=True) == HANDLE
    assert probe.received(0, room=True) == HANDLE  # the stream paused
    assert run_of_full(FULL_TO_GROW) == [HANDLE] * (FULL_TO_GROW - 1) + [AHEAD]


def test_a_probe_that_comes_back_full_is_a_backlog() -> None:
    """A full probe grows the receives, and so does every full receive after it; without room
    (no free slot) there is no probe at all."""
    probe = BacklogProbe(10)
    assert [probe.received(10, room=False) for _ in range(FULL_TO_GROW + 5)] == [HANDLE] * (FULL_TO_GROW + 5)
    assert probe.received(10, room=True) == AHEAD
    assert [probe.received(10, room=True) for _ in range(3)] == [GROW] * 3
    assert BacklogProbe(10, probing=True).received(10, room=False) == GROW  # a further loop


def test_only_a_full_receive_is_gathered_after_and_an_empty_gather_pauses() -> None:
    """A gather follows full receives only; one that comes back empty leaves the next
    GATHER_PAUSE full receives alone (short ones do not count); one that brings anything,
    however few, does not."""
    gathering = Gathering(10)
    assert [gathering.wanted(count) for count in (10, 9, 1, 0)] == [True, False, False, False]
    gathering.gathered(3)
    assert gathering.wanted(10)
    gathering.gathered(0)
    assert gathering.wanted(4) is False  # a short receive: no gather, the pause holds
    assert [gathering.wanted(10) for _ in range(GATHER_PAUSE + 1)] == [False] * GATHER_PAUSE + [True]
