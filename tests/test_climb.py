"""The climb alone, on a clock of the test's: a level stays while it drains faster than the
one below; one that does not is left, held, and tried again; a backlog's end starts anew."""

from __future__ import annotations

from briefy.common.climb import HOLD, WINDOW, Climb, Step


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(climb: Climb, clock: Clock, seconds_per_batch: dict[int, float], batches: int) -> list[Step]:
    """Settle ``batches`` batches of 10, each taking the time its level's drain rate gives."""
    steps = []
    for _ in range(batches):
        clock.now += seconds_per_batch[climb.level]
        step = climb.settled(10)
        if step is not None:
            steps.append(step)
    return steps


def levels(steps: list[Step]) -> list[tuple[int, int]]:
    return [(step.previous, step.level) for step in steps]


def test_a_backlog_climbs_while_each_level_drains_faster() -> None:
    """Network-bound (each loop more drains about as much again): up to the most loops."""
    clock = Clock()
    climb = Climb(4, clock=clock)
    climb.begin()
    steps = drain(climb, clock, {0: 0.06, 1: 0.03, 2: 0.015, 3: 0.01, 4: 0.0075}, 200)
    assert levels(steps) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert climb.level == 4
    assert round(steps[1].rate) == round(10 / 0.03) and round(steps[1].below or 0) == round(10 / 0.06)


def test_a_level_that_drains_no_faster_is_left_for_the_one_below_and_tried_again_later() -> None:
    """A busy server: receiving ahead drains 5% faster at most, less than GAIN: back to one
    batch at a time, held for HOLD batches, then tried again (and left again)."""
    clock = Clock()
    climb = Climb(4, clock=clock)
    climb.begin()
    first = drain(climb, clock, {0: 0.6, 1: 0.58}, 2 * WINDOW + 3)
    assert levels(first) == [(0, 1), (1, 0)]
    assert climb.level == 0
    assert drain(climb, clock, {0: 0.6, 1: 0.58}, HOLD) == []  # held
    again = drain(climb, clock, {0: 0.6, 1: 0.58}, 2 * WINDOW + 3)
    assert levels(again) == [(0, 1), (1, 0)]


def test_a_level_that_gains_enough_stays_and_the_next_is_measured_over_a_longer_window() -> None:
    """20% faster stays; at level 2 the window is twice as many batches."""
    clock = Clock()
    climb = Climb(3, clock=clock)
    climb.begin()
    steps = drain(climb, clock, {0: 0.06, 1: 0.05, 2: 0.049}, 1 + WINDOW + 2 + WINDOW)
    assert levels(steps) == [(0, 1), (1, 2)]
    assert drain(climb, clock, {2: 0.049}, 3 + 2 * WINDOW - 1) == []
    assert levels(drain(climb, clock, {2: 0.049, 1: 0.05}, 1)) == [(2, 1)]


def test_the_end_of_a_backlog_starts_the_next_at_the_bottom() -> None:
    """end() brings the level back to 0; batches settled outside a backlog change nothing."""
    clock = Clock()
    climb = Climb(2, clock=clock)
    climb.begin()
    drain(climb, clock, {0: 0.06, 1: 0.03, 2: 0.015}, 100)
    assert climb.level == 2
    climb.end()
    assert (climb.active, climb.level) == (False, 0)
    assert drain(climb, clock, {0: 0.06}, 50) == []
    climb.begin()
    assert levels(drain(climb, clock, {0: 0.06, 1: 0.03, 2: 0.015}, 100)) == [(0, 1), (1, 2)]


def test_a_backlog_that_ends_while_held_leaves_no_hold_to_the_next() -> None:
    """The next backlog measures at once: its first step comes after one window, whatever
    hold the last one ended in."""
    clock = Clock()
    climb = Climb(1, clock=clock)
    climb.begin()
    drain(climb, clock, {0: 0.06, 1: 0.03}, 20)  # at the top, held there
    climb.end()
    climb.begin()
    assert drain(climb, clock, {0: 0.06, 1: 0.03}, WINDOW) == []
    assert levels(drain(climb, clock, {0: 0.06, 1: 0.03}, 1)) == [(0, 1)]


def test_with_no_room_for_a_second_loop_the_climb_stays_at_the_bottom_or_one() -> None:
    """Climb(0) never leaves level 0; Climb(1) goes no higher than one loop receiving on."""
    clock = Clock()
    nothing = Climb(0, clock=clock)
    nothing.begin()
    assert drain(nothing, clock, {0: 0.06}, 100) == [] and nothing.level == 0
    one = Climb(1, clock=clock)
    one.begin()
    assert levels(drain(one, clock, {0: 0.06, 1: 0.01}, 100)) == [(0, 1)]
    assert one.level == 1
