"""Installed in the worker by ``python -m benchmarks.where`` only (``PYTHONPATH``).

Wraps each part named in ``BENCH_WHERE_PARTS`` (JSON: ``[module, attribute path, label]``)
so that the CPU time of the calling thread inside it, less the parts inside it, adds to
its label's total; on each SIGUSR1 it appends the totals so far to ``BENCH_WHERE_OUT``
(JSON lines). A part that is not there is written there as an error, and nothing is
wrapped.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import signal
import threading
import time
from typing import Any


def _install(parts: list[list[str]], out: str) -> None:
    clock = time.thread_time_ns
    local = threading.local()
    totals: dict[str, list[int]] = {}  # label: [calls, nanoseconds of its own]

    def wrap(label: str, function: Any) -> Any:
        total = totals.setdefault(label, [0, 0])

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack = local.__dict__.setdefault("stack", [])
            stack.append(0)
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                spent = clock() - started
                inner = stack.pop()
                if stack:
                    stack[-1] += spent
                total[0] += 1
                total[1] += spent - inner

        return timed

    found = []
    for module_name, path, label in parts:
        owner: Any = importlib.import_module(module_name)
        *owners, name = path.split(".")
        for step in owners:
            owner = getattr(owner, step, None)
        if owner is None or not hasattr(owner, name):
            with open(out, "a", encoding="utf-8") as file:
                file.write(json.dumps({"error": f"{module_name}.{path} is not there"}) + "\n")
            return
        found.append((owner, name, label))
    for owner, name, label in found:
        setattr(owner, name, wrap(label, getattr(owner, name)))

    def snapshot(*_: Any) -> None:
        line = {"process_ns": time.process_time_ns(), "totals": {k: list(v) for k, v in totals.items()}}
        with open(out, "a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")

    signal.signal(signal.SIGUSR1, snapshot)


if os.environ.get("BENCH_WHERE_OUT") and os.environ.get("BENCH_WHERE_PARTS"):
    _install(json.loads(os.environ["BENCH_WHERE_PARTS"]), os.environ["BENCH_WHERE_OUT"])
