"""CPU time of another process (Linux).

The process's CPU clock (``clock_getcpuclockid``, read with ``clock_gettime``) counts
every thread, those that ended included, to the nanosecond. ``/proc/<pid>/stat``
counts in clock ticks (10 ms here): over a measurement of about 0.8 s of CPU that is
a step of about 1.2% in each reading, as much as the differences the benchmark
measures. It is the fallback where the clock cannot be had.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_LIBC = ctypes.util.find_library("c")
_clock_getcpuclockid = getattr(ctypes.CDLL(_LIBC), "clock_getcpuclockid", None) if _LIBC else None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of every thread of ``pid`` so far; None if it is gone."""
    clock = cpu_clock(pid)
    if clock is not None:
        try:
            return time.clock_gettime(clock)
        except OSError:  # it ended between the two calls
            return None
    return proc_cpu_seconds(pid)


def cpu_clock(pid: int) -> int | None:
    """The id of ``pid``'s CPU clock, or None (no such process, or no such call here)."""
    if _clock_getcpuclockid is None or not hasattr(time, "clock_gettime"):
        return None
    clock = ctypes.c_int()
    if _clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        return None
    return clock.value


def proc_cpu_seconds(pid: int) -> float | None:
    """``cpu_seconds`` from ``/proc/<pid>/stat``, in clock ticks; None without it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    fields = text.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS
