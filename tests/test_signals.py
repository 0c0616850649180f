"""A second SIGTERM exits at once, whichever thread the kernel hands the signal to.

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

SCRIPT = """
import signal, threading, time
from briefy.choreographer.cli.worker import install_signal_handlers
from tests.test_queue_worker import FakeQueue, Recording

queue = FakeQueue()
queue.put(1)
worker = Recording(queue, seconds=60)  # the batch takes a minute
worker.shutdown_timeout = 60
install_signal_handlers(worker)
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


def test_a_second_signal_to_another_thread_exits_at_once() -> None:
    """Both SIGTERMs handed to a thread other than the main one: the worker stops, then exits
    at once with 143 on the second, though its batch and its shutdown timeout last a minute."""
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, timeout=20, check=False
    )
    assert run.returncode == 128 + signal.SIGTERM, run.stderr.decode()[-2000:]
    assert b"second SIGTERM: exiting at once" in run.stderr
    assert b"second" in run.stdout and b"run returned" not in run.stdout
