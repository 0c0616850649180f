"""Bootstrap: the one step that loads the site, creates the SQS client and binds the queues.

Entry points call ``bootstrap`` (the worker) or ``load_site`` (tools that need no
SQS); importing any module of the package does none of this. What it returns is
complete: the worker and the tools receive it and look nothing up themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from briefy.choreographer.admin.provision import create_queues
from briefy.choreographer.clients import WORKER_CLIENT, make_client
from briefy.choreographer.config import Settings, queue_setting
from briefy.choreographer.errors import StartupError
from briefy.choreographer.ops.tracing import start_tracing
from briefy.choreographer.pipeline.payloads import LargePayloads
from briefy.choreographer.pipeline.trace import Tracing
from briefy.choreographer.site import Site, load_site
from briefy.common.claimcheck import S3Payloads
from briefy.common.embedded import EmbeddedSQS, EmbeddedUnavailable
from briefy.common.errors import QueueNotFound, error_code, is_transient
from briefy.common.interfaces import IQueue
from briefy.common.queue import Queue
from briefy.common.queue.event import EVENTS_QUEUE, EventQueue

__all__ = ["Application", "StartupError", "bootstrap", "connect", "load_site"]

log = structlog.get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Application:
    """What the worker runs with: the site, the SQS client and every queue, bound."""

    site: Site
    client: Any
    events: EventQueue
    dead_letters: Queue
    #: Every queue utility by name (``events.queue`` and the output queues), bound to SQS.
    queues: Mapping[str, IQueue]
    #: True when the worker serves the SQS endpoint itself (development).
    embedded: bool = False
    #: Trace context of events and outputs: ids only, or OpenTelemetry spans too (``ops.tracing``).
    tracing: Tracing = field(default_factory=Tracing)
    #: Large payloads through S3 (the process's one S3 client), as the settings say.
    payloads: LargePayloads = field(default_factory=lambda: LargePayloads(S3Payloads(None)))
    _resources: ExitStack = field(default_factory=ExitStack, repr=False, compare=False)

    @property
    def settings(self) -> Settings:
        return self.site.settings

    @property
    def registry(self) -> Any:
        """The component registry holding the choreography."""
        return self.site.registry

    @property
    def endpoint(self) -> str:
        """The SQS endpoint the client talks to."""
        return str(self.client.meta.endpoint_url)

    @property
    def region(self) -> str:
        return str(self.client.meta.region_name)

    def close(self) -> None:
        """Stop what bootstrap started (the embedded endpoint, if any)."""
        self._resources.close()


def connect(
    site: Site,
    client: Any,
    *,
    embedded: bool = False,
    resources: ExitStack | None = None,
    tracing: Tracing | None = None,
    s3: Any = None,
) -> Application:
    """Bind every queue utility of the site (and the DLQ) through ``client``; name every
    missing queue in one error. ``tracing`` is made from the settings if not given (and
    shut down with the application), and so is the S3 client of large payloads."""
    settings = site.settings
    missing: list[str] = []
    queues: dict[str, IQueue] = {}
    for name, queue in sorted(site.registry.getUtilitiesFor(IQueue)):
        queue_name = settings.queue_name(name, queue.default_queue_name)
        try:
            _patiently(settings, queue.connect, client, queue_name)
        except QueueNotFound:
            missing.append(f"{queue_name!r} ({name}, set by {queue_setting(name)})")
            continue
        queues[name] = queue
    events = queues.get(EVENTS_QUEUE)
    dead_letters = None
    if isinstance(events, EventQueue):
        try:
            dead_letters = _patiently(
                settings, events.connect_dead_letters, client, settings.dead_letter_queue
            )
        except QueueNotFound as error:
            missing.append(f"{error.args[0]!r} (dead letters, set by CHOREOGRAPHER_DEAD_LETTER_QUEUE)")
    if missing or not isinstance(events, EventQueue) or dead_letters is None:
        raise StartupError(
            f"missing SQS queues at {client.meta.endpoint_url}: {', '.join(missing)}. "
            "Create them (choreographer queues create) or name existing ones."
        )
    resources = resources or ExitStack()
    if tracing is None:
        tracing = start_tracing(settings.otel, events.queue_name, queues)
        resources.callback(tracing.close)
    payloads = LargePayloads(
        S3Payloads(s3 if s3 is not None else make_client(settings, service="s3")),
        settings.large_payload_bucket,
        settings.large_payload_threshold,
    )
    return Application(
        site,
        client,
        events,
        dead_letters,
        queues,
        embedded=embedded,
        tracing=tracing,
        payloads=payloads,
        _resources=resources,
    )


def _patiently(settings: Settings, call: Callable[..., T], *args: Any) -> T:
    """Run ``call``, retrying transient failures (SQS unreachable) up to the start-up timeout."""
    deadline = time.monotonic() + settings.startup_timeout
    delay = 0.5
    while True:
        try:
            return call(*args)
        except QueueNotFound:
            raise
        except Exception as error:
            if not is_transient(error):
                raise StartupError(f"SQS refused the start-up calls: {error_code(error)}: {error}") from error
            if time.monotonic() + delay > deadline:
                raise StartupError(f"SQS is unreachable: {error}") from error
            log.warning("sqs_unreachable", error=error_code(error), retry_in=delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def bootstrap(settings: Settings) -> Application:
    """Load the site, reach SQS and bind the queues.

    In development with no endpoint configured this starts the embedded endpoint
    and creates the queues on it.
    """
    site = load_site(settings)
    resources = ExitStack()
    if not settings.embedded:
        return connect(site, make_client(settings, overrides=WORKER_CLIENT), resources=resources)
    embedded = EmbeddedSQS(settings.embedded_host, settings.embedded_port)
    try:
        embedded.start()
    except EmbeddedUnavailable as error:
        raise StartupError(str(error)) from error
    resources.callback(embedded.stop)
    try:
        client = make_client(settings, embedded.url, overrides=WORKER_CLIENT)
        create_queues(client, site.registry, settings)
        if settings.s3_endpoint_url:  # an S3 of the developer's own (boto3 finds it)
            s3 = make_client(settings, service="s3")
        else:  # the embedded endpoint serves S3 too
            s3 = make_client(settings, embedded.url, service="s3")
            if settings.large_payload_bucket:
                s3.create_bucket(Bucket=settings.large_payload_bucket)
        return connect(site, client, embedded=True, resources=resources, s3=s3)
    except BaseException:
        resources.close()
        raise
