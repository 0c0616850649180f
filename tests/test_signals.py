"""A second SIGTERM exits at once, whichever thread the kernel hands the signal to; one
that comes with the first (a process group's signal, and its parent forwarding it) is the
same stop.

Python runs signal handlers in the main thread only; a signal delivered to another
thread interrupts none of the main thread's waits. So the main thread must never wait
long at once: here both signals go to a thread that only sleeps, while the only batch
takes a minute and the shutdown timeout is a minute too.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: A worker with one batch, taking SECONDS, and the real signal handlers.
WORKER = """
import os, signal, threading, time
from briefy.choreographer.cli.worker import SAME_STOP, install_signal_handlers
from tests.test_queue_worker import FakeQueue, Recording

queue = FakeQueue()
queue.put(1)
worker = Recording(queue, seconds=SECONDS)
worker.shutdown_timeout = 60
install_signal_handlers(worker)
"""

SCRIPT = (
    WORKER.replace("SECONDS", "60")
    + """
sleeper = threading.Thread(target=time.sleep, args=(120,), daemon=True)
sleeper.start()

def signals():
    while worker.heartbeat.in_flight() != 1:  # the batch is being processed
        time.sleep(0.01)
    signal.pthread_kill(sleeper.ident, signal.SIGTERM)  # the graceful stop
    while not worker.stopping:
        time.sleep(0.01)
    time.sleep(1)  # the main thread is waiting for the batch now
    print("second", flush=True)
    signal.pthread_kill(sleeper.ident, signal.SIGTERM)

threading.Thread(target=signals, daemon=True).start()
worker.run()
print("run returned", flush=True)
"""
)


def test_a_second_signal_to_another_thread_exits_at_once() -> None:
    """Both SIGTERMs handed to a thread other than the main one: the worker stops, then exits
    at once with 143 on the second, though its batch and its shutdown timeout last a minute."""
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, timeout=20, check=False
    )
    assert run.returncode == 128 + signal.SIGTERM, run.stderr.decode()[-2000:]
    assert b"second SIGTERM: exiting at once" in run.stderr
    assert b"second" in run.stdout and b"run returned" not in run.stdout


TWICE = (
    WORKER.replace("SECONDS", "1")
    + """

def signals():
    while worker.heartbeat.in_flight() != 1:  # the batch is being processed
        time.sleep(0.01)
    first = time.monotonic()
    os.kill(os.getpid(), signal.SIGTERM)  # the kill
    while not worker.stopping:  # handled: the next one is a signal of its own, not merged into it
        time.sleep(0.001)
    os.kill(os.getpid(), signal.SIGTERM)  # the parent forwarding it, milliseconds later
    print("forwarded", time.monotonic() - first < SAME_STOP, flush=True)

threading.Thread(target=signals, daemon=True).start()
worker.run()
print("run returned", len(worker.batches), flush=True)
"""
)


def test_a_signal_that_comes_with_the_first_is_the_same_stop() -> None:
    """A second SIGTERM milliseconds after the first (systemd signalling every process of a unit
    while the parent forwards its own, make passing on a group's signal) does not exit at once:
    the batch in progress is finished and the worker stops gracefully, saying so on stderr."""
    run = subprocess.run(
        [sys.executable, "-c", TWICE], cwd=ROOT, capture_output=True, timeout=20, check=False
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert b"SIGTERM again at once: the same stop" in run.stderr
    assert b"exiting at once" not in run.stderr
    assert b"forwarded True" in run.stdout
    assert b"run returned 1" in run.stdout
