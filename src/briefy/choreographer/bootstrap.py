"""Bootstrap: the one step that loads ZCML, creates the SQS client and binds queues.

Entry points call it; importing any module of the package does none of this.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import NoRegionError
from zope.component import getGlobalSiteManager, getUtilitiesFor, getUtility
from zope.configuration import xmlconfig
from zope.configuration.exceptions import ConfigurationError

from briefy.choreographer.actions import IAction
from briefy.choreographer.admin.provision import create_queues
from briefy.choreographer.config import Settings, queue_setting
from briefy.common.embedded import EmbeddedSQS, EmbeddedUnavailable
from briefy.common.errors import QueueNotFound, error_code, is_transient
from briefy.common.interfaces import IQueue
from briefy.common.queue import Queue
from briefy.common.queue.event import EventQueue

log = structlog.get_logger(__name__)

#: Credentials the embedded endpoint accepts (it accepts any; none are secret).
EMBEDDED_CREDENTIALS = {"aws_access_key_id": "embedded", "aws_secret_access_key": "embedded"}


class StartupError(RuntimeError):
    """The choreographer cannot start: the message says why and what to do."""


@dataclass
class Application:
    """What bootstrap built: settings, the SQS client and the bound queues."""

    settings: Settings
    client: Any = None
    events: EventQueue | None = None
    dead_letters: Queue | None = None
    queues: dict[str, Any] = field(default_factory=dict)
    embedded: EmbeddedSQS | None = None

    @property
    def endpoint(self) -> str:
        """The SQS endpoint the client talks to."""
        return str(self.client.meta.endpoint_url) if self.client is not None else ""

    def close(self) -> None:
        """Stop the embedded endpoint, if there is one."""
        if self.embedded is not None:
            self.embedded.stop()


def site_zcml(settings: Settings) -> str:
    """The path of the site ``configure.zcml`` the worker loads."""
    if settings.zcml:
        return settings.zcml
    return str(resources.files("briefy.choreographer") / "site.zcml")


#: The entry point group of extension packages: ``name = package``, whose
#: ``configure.zcml`` is loaded after the site configuration.
EXTENSIONS = "briefy.choreographer.extensions"

_loaded: set[str] = set()


def load_zcml(settings: Settings) -> None:
    """Load the site ZCML and the installed extensions (once per process); check wiring.

    The site file and every extension are read in one configuration context, so a
    package both included by the site file and installed as an extension is
    loaded once, and conflicting registrations are reported with their files.
    """
    path = site_zcml(settings)
    if path in _loaded:
        return
    try:
        context = xmlconfig.file(path, execute=False)
    except (ConfigurationError, OSError) as error:
        raise StartupError(f"cannot load the choreography configuration {path}: {error}") from error
    chosen = extensions(settings)
    for entry_point in chosen:
        include_extension(context, entry_point)
    try:
        context.execute_actions()
    except ConfigurationError as error:
        raise StartupError(
            f"cannot load the choreography configuration {path}{_culprit(error, chosen)}: {error}"
        ) from error
    _loaded.add(path)
    if chosen:
        log.info("extensions_loaded", extensions={ep.name: ep.module for ep in chosen})
    check_wiring()


def extensions(settings: Settings) -> list[EntryPoint]:
    """The installed extensions to load, by name (``CHOREOGRAPHER_EXTENSIONS`` chooses)."""
    installed: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=EXTENSIONS):
        other = installed.setdefault(entry_point.name, entry_point)
        if other.value != entry_point.value:
            raise StartupError(
                f"two installed packages declare the extension {entry_point.name!r}: "
                f"{_origin(other)} and {_origin(entry_point)}; uninstall one"
            )
    if settings.extensions is None:
        return [installed[name] for name in sorted(installed)]
    unknown = [name for name in settings.extensions if name not in installed]
    if unknown:
        raise StartupError(
            f"CHOREOGRAPHER_EXTENSIONS names {', '.join(map(repr, unknown))}, which "
            f"{'is' if len(unknown) == 1 else 'are'} not installed; installed: "
            f"{', '.join(sorted(installed)) or 'none'}"
        )
    return [installed[name] for name in settings.extensions]


def _origin(entry_point: EntryPoint) -> str:
    """The entry point's value and, when known, the distribution declaring it."""
    origin = repr(entry_point.value)
    if entry_point.dist is not None:
        origin += f" of {entry_point.dist.name} {entry_point.dist.version}"
    return origin


def include_extension(context: Any, entry_point: EntryPoint) -> None:
    """Read an extension's ``configure.zcml`` into ``context`` (not executed yet)."""
    where = f"extension {entry_point.name!r} ({EXTENSIONS} entry point {_origin(entry_point)})"
    try:
        package = importlib.import_module(entry_point.module)
    except Exception as error:
        raise StartupError(f"cannot import {where}: {type(error).__name__}: {error}") from error
    try:
        xmlconfig.file("configure.zcml", package=package, context=context, execute=False)
    except (ConfigurationError, OSError) as error:
        raise StartupError(f"cannot load the configure.zcml of {where}: {error}") from error


def _culprit(error: Exception, chosen: list[EntryPoint]) -> str:
    """Name the extensions whose files an error of the whole configuration mentions."""
    text = str(error)
    named = []
    for entry_point in chosen:
        module = importlib.import_module(entry_point.module)
        folders = [str(folder) for folder in getattr(module, "__path__", [])]
        if any(folder in text for folder in folders):
            named.append(repr(entry_point.name))
    return f" (with extension {', '.join(named)})" if named else ""


def reset_zcml() -> None:
    """Forget what ``load_zcml`` loaded (tests clean the registry themselves)."""
    _loaded.clear()


def check_wiring() -> None:
    """Every action must write to a registered queue utility."""
    registry = getGlobalSiteManager()
    queues = {name for name, _ in getUtilitiesFor(IQueue)}
    if "events.queue" not in queues:
        raise StartupError("no 'events.queue' utility is registered: include briefy.common")
    for registration in registry.registeredAdapters():
        if registration.provided.isOrExtends(IAction):
            queue_name = getattr(registration.factory, "_queue_name", "")
            if queue_name not in queues:
                raise StartupError(
                    f"action {registration.name!r} writes to {queue_name!r}, "
                    "which is not a registered queue utility"
                )


def make_client(settings: Settings, endpoint_url: str | None = None, overrides: Config | None = None) -> Any:
    """The process's one SQS client; boto3 finds endpoint, region and credentials itself.

    Only the embedded endpoint is passed explicitly. ``overrides`` changes the
    client's configuration (the readiness probe wants short timeouts).
    """
    config = Config(
        # botocore retries throttling, 5xx and network errors itself first: 3 tries in
        # all, or AWS_MAX_ATTEMPTS (boto3's own setting); the worker's retries come after.
        retries={"mode": "standard"},
        connect_timeout=5,
        read_timeout=settings.wait_time + 20,
        max_pool_connections=max(10, settings.concurrency * 3),
    )
    if overrides is not None:
        config = config.merge(overrides)
    kwargs: dict[str, Any] = {"config": config}
    region = settings.region or (None if settings.production else "us-east-1")
    if region:
        kwargs["region_name"] = region
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
        kwargs.update(EMBEDDED_CREDENTIALS)
    try:
        return boto3.session.Session().client("sqs", **kwargs)
    except NoRegionError as error:
        raise StartupError("no AWS region: set AWS_DEFAULT_REGION") from error


def cli_client(settings: Settings) -> Any:
    """A client for command-line tools: the embedded endpoint's address in development."""
    return make_client(settings, settings.embedded_url if settings.embedded else None)


def connect_queues(app: Application) -> None:
    """Bind every queue utility (and the DLQ); name every missing queue in one error."""
    settings = app.settings
    missing: list[str] = []
    for name, queue in sorted(getUtilitiesFor(IQueue)):
        queue_name = settings.queue_name(name, queue.default_queue_name)
        try:
            _patiently(settings, queue.connect, app.client, queue_name)
        except QueueNotFound:
            missing.append(f"{queue_name!r} ({name}, set by {queue_setting(name)})")
            continue
        app.queues[name] = queue
    app.events = getUtility(IQueue, name="events.queue")
    if app.events.url is not None:
        dlq_name = settings.dead_letter_queue
        try:
            app.dead_letters = _patiently(
                settings,
                lambda: app.events.connect_dead_letters(app.client, dlq_name),  # type: ignore[union-attr]
            )
        except QueueNotFound as error:
            missing.append(f"{error.args[0]!r} (dead letters, set by CHOREOGRAPHER_DEAD_LETTER_QUEUE)")
    if missing:
        raise StartupError(
            f"missing SQS queues at {app.endpoint}: {', '.join(missing)}. "
            "Create them (choreographer queues create) or name existing ones."
        )


def _patiently(settings: Settings, call: Any, *args: Any) -> Any:
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


def bootstrap(settings: Settings, *, connect: bool = True) -> Application:
    """Load the choreography and, with ``connect``, reach SQS and bind the queues.

    In development with no endpoint configured this starts the embedded endpoint
    and creates the queues on it.
    """
    load_zcml(settings)
    app = Application(settings)
    if not connect:
        return app
    if settings.embedded:
        app.embedded = EmbeddedSQS(settings.embedded_host, settings.embedded_port)
        try:
            app.embedded.start()
        except EmbeddedUnavailable as error:
            raise StartupError(str(error)) from error
        app.client = make_client(settings, app.embedded.url)
        create_queues(app.client, settings)
    else:
        app.client = make_client(settings)
    connect_queues(app)
    return app
