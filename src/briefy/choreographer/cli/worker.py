"""``choreographer worker`` (and ``python -m briefy.choreographer.worker``): run the daemon."""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import structlog

from briefy.choreographer.bootstrap import Application, bootstrap
from briefy.choreographer.config import Settings, SettingsError
from briefy.choreographer.errors import StartupError
from briefy.choreographer.logging import configure_logging
from briefy.choreographer.ops.monitor import start_monitor
from briefy.choreographer.ops.supervisor import Supervisor, watch_parent, worker_name
from briefy.choreographer.worker import Worker

log = structlog.get_logger("briefy.choreographer.worker")


def add_options(parser: argparse.ArgumentParser) -> None:
    """The worker's options (the rest of its settings come from the environment)."""
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="run N worker processes under this one, which forwards SIGTERM/SIGINT to them (default 1)",
    )


def register(subparsers: Any) -> None:
    """Add ``worker``."""
    parser = subparsers.add_parser(
        "worker",
        help="run the worker (the daemon)",
        description="Run the worker until SIGTERM or SIGINT. In development with no SQS "
        "endpoint configured it serves one itself on 127.0.0.1:9324.",
    )
    add_options(parser)
    parser.set_defaults(
        run=lambda args: run_worker(["--processes", str(args.processes)], prog="choreographer worker")
    )


def run_worker(argv: Sequence[str] | None = None, prog: str = "python -m briefy.choreographer.worker") -> int:
    """Bootstrap, run until a signal, and return the exit code (0 after a graceful stop)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the choreographer worker; settings come from the environment.",
    )
    add_options(parser)
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"choreographer worker: error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings, worker=worker_name(args.processes))
    settings = with_state_key(settings)
    if args.processes > 1:
        return supervise(settings, args.processes)
    # Until the worker can stop gracefully, a signal stops the start-up (waiting for SQS
    # may take CHOREOGRAPHER_STARTUP_TIMEOUT): as PID 1 in a container, a process without
    # a handler would not hear SIGTERM at all.
    install_startup_handlers()
    try:
        app = bootstrap(settings)
        worker = Worker(app)
    except StartupError as error:
        return startup_failed(error)
    except StartupInterrupted as signal_name:
        log.info("worker_stopped", during="start-up", signal=str(signal_name))
        return 0
    try:
        monitor = start_monitor(app, worker)  # metrics and health (CHOREOGRAPHER_METRICS_PORT)
    except StartupError as error:
        app.close()
        return startup_failed(error)
    install_signal_handlers(worker)
    announce(app)
    watch_parent(worker.stop)
    # Everything loaded so far (boto3's models, the registry) lives as long as the process:
    # keep it out of the garbage collector's full passes, which would walk it again and again.
    gc.freeze()
    try:
        worker.run()
    finally:
        if monitor is not None:
            monitor.stop()
        app.close()
    return 0


def with_state_key(settings: Settings) -> Settings:
    """In development with no ``CHOREOGRAPHER_STATE_KEY``, a key of the process's own (its
    workers share it), so retry envelopes work while it runs; production never makes one."""
    if settings.state_keys or settings.production:
        return settings
    return replace(settings, state_keys=(secrets.token_urlsafe(32).encode(),))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m briefy.choreographer.worker``: run the worker; return the exit code."""
    return run_worker(argv)


def startup_failed(error: StartupError) -> int:
    """Log and print why the worker cannot start; return the exit code (2)."""
    log.error("startup_failed", reason=str(error))
    print(f"choreographer worker: error: {error}", file=sys.stderr)
    return 2


def announce_embedded(app: Application) -> None:
    """In embedded mode, say where SQS is served, that it is in memory, and how to publish to it."""
    if not app.embedded:
        return
    log.info(
        "embedded_sqs_started",
        endpoint=app.endpoint,
        region=app.region,
        queues=sorted(queue.queue_name for queue in (*app.queues.values(), app.dead_letters)),
        memory="the queues live in this process's memory: stopping the worker drops every message",
        # The endpoint takes any credentials; the AWS CLI insists on having some.
        publish=(
            "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
            f"aws --endpoint-url {app.endpoint} --region {app.region} "
            f"sqs send-message --queue-url {app.events.url} --message-body file://event.json"
        ),
    )


def supervise(settings: Settings, processes: int) -> int:
    """Run ``processes`` workers under this process; in embedded mode serve SQS for them all."""
    env = dict(os.environ)
    app = None
    if settings.embedded:
        try:
            app = bootstrap(settings)
        except StartupError as error:
            return startup_failed(error)
        announce_embedded(app)
        # The children reach this process's endpoint as a configured one (moto takes any keys).
        env.update(
            AWS_ENDPOINT_URL_SQS=app.endpoint,
            AWS_DEFAULT_REGION=app.region,
            AWS_ACCESS_KEY_ID="embedded",
            AWS_SECRET_ACCESS_KEY="embedded",
        )
    if settings.state_keys:  # the workers seal and open each other's retry state
        env["CHOREOGRAPHER_STATE_KEY"] = ",".join(key.decode() for key in settings.state_keys)
    try:
        # One metrics port per worker: the first on the configured port, the next on the ports above.
        return Supervisor(processes, env, metrics_port=settings.metrics_port).run()
    finally:
        if app is not None:
            app.close()


def announce(app: Application) -> None:
    """Say where the worker reads from; in embedded mode, how to publish to it."""
    settings = app.settings
    announce_embedded(app)
    log.info(
        "worker_configured",
        mode=settings.mode,
        site=app.site.path,
        endpoint=app.endpoint,
        events_queue=app.events.url,
        dead_letter_queue=app.dead_letters.url,
        fifo=app.events.fifo,
        concurrency=settings.concurrency,
    )


class StartupInterrupted(Exception):
    """SIGTERM or SIGINT during start-up: nothing was received yet, so the worker just ends."""


def install_startup_handlers() -> None:
    """SIGTERM/SIGINT before the worker runs: interrupt the start-up (a blocking call included)."""

    def handle(signum: int, _: Any) -> None:
        raise StartupInterrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


#: Seconds after the stop signal in which another one is the same stop, not a second one. A
#: signal to a whole process group reaches the worker and its parent, which forwards it (make
#: does, and so does ``--processes``' supervisor under systemd's default KillMode): the two
#: arrive milliseconds apart, where a person's second Ctrl-C comes later.
SAME_STOP = 0.25


def install_signal_handlers(worker: Any) -> None:
    """First SIGTERM/SIGINT: graceful stop. Second: exit at once (128 + the signal number).

    A signal within ``SAME_STOP`` seconds of the first is taken for the same stop,
    and said so on stderr. The handler does no logging: it runs between two
    bytecodes of the main thread, which may be holding the lock of the log line it
    is writing.
    """
    stopped_at: float | None = None  # when the signal that stopped the worker came

    def handle(signum: int, _: Any) -> None:
        nonlocal stopped_at
        name = signal.Signals(signum).name
        now = time.monotonic()
        if worker.stopping:
            if stopped_at is not None and now - stopped_at < SAME_STOP:
                os.write(2, f"choreographer worker: {name} again at once: the same stop\n".encode())
                return
            os.write(2, f"choreographer worker: second {name}: exiting at once\n".encode())
            os._exit(128 + signum)
        stopped_at = now
        worker.stop(reason=name)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
