"""The site: the choreography a deployment runs, loaded from its ZCML and its extensions.

``load_site`` reads the site's ``configure.zcml`` (``CHOREOGRAPHER_ZCML``; else, run
from a checkout of the repository, the one at its root; else the one packaged with
the choreographer) and the ``configure.zcml`` of every installed
extension into the component registry, checks the wiring, and returns the ``Site``
the rest is built from. Nothing here reaches SQS.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import structlog
from zope.component import getGlobalSiteManager
from zope.configuration import xmlconfig
from zope.configuration.exceptions import ConfigurationError

from briefy.choreographer.config import Settings
from briefy.choreographer.errors import StartupError
from briefy.choreographer.events.schema import DataSchemaError, DataSchemas
from briefy.choreographer.interfaces import IAction
from briefy.common.interfaces import IQueue
from briefy.common.queue.event import EVENTS_QUEUE

log = structlog.get_logger(__name__)

#: The entry point group of extension packages: ``name = package``, whose
#: ``configure.zcml`` is loaded after the site configuration.
EXTENSIONS = "briefy.choreographer.extensions"

_loaded: dict[str, tuple[tuple[EntryPoint, ...], DataSchemas]] = {}


@dataclass(frozen=True)
class Site:
    """A loaded choreography: the settings, the component registry holding it, and where
    it came from."""

    settings: Settings
    #: The registry the site's ZCML filled (``zope.interface.registry.Components``).
    registry: Any
    #: The site ``configure.zcml`` that was loaded.
    path: str
    #: The extensions loaded after it.
    extensions: tuple[EntryPoint, ...] = ()
    #: The compiled data schemas of its events (``briefy.choreographer.events.schema``).
    data_schemas: DataSchemas = field(default_factory=DataSchemas)


#: The root of the checkout this package runs from, if it does (``src/briefy/choreographer``).
CHECKOUT = Path(__file__).resolve().parents[3]


def from_checkout(checkout: Path = CHECKOUT) -> bool:
    """Whether the package runs from a checkout of its repository (an editable install):
    ``Makefile`` and ``setup.py`` next to the ``src`` folder it is imported from."""
    root_files = all((checkout / name).is_file() for name in ("Makefile", "setup.py"))
    return root_files and (checkout / "src" / "briefy" / "choreographer").is_dir()


def site_zcml(settings: Settings, checkout: Path = CHECKOUT) -> str:
    """The path of the site ``configure.zcml`` to load: the setting, else the checkout's
    (``configure.zcml`` at the root of a checkout the package runs from), else the packaged one."""
    if settings.zcml:
        return settings.zcml
    if (checkout / "configure.zcml").is_file() and (checkout / "src" / "briefy" / "choreographer").is_dir():
        return str(checkout / "configure.zcml")
    return str(resources.files("briefy.choreographer") / "site.zcml")


def load_site(settings: Settings) -> Site:
    """Load the site ZCML and the installed extensions (once per process); check the wiring.

    The site file and every extension are read in one configuration context, so a
    package both included by the site file and installed as an extension is
    loaded once, and conflicting registrations are reported with their files.
    """
    path = site_zcml(settings)
    registry = getGlobalSiteManager()
    if path in _loaded:
        return Site(settings, registry, path, *_loaded[path])
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
    if chosen:
        log.info("extensions_loaded", extensions={ep.name: ep.module for ep in chosen})
    check_wiring(registry)
    schemas = compile_data_schemas(registry, chosen)
    _loaded[path] = (tuple(chosen), schemas)
    return Site(settings, registry, path, tuple(chosen), schemas)


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


def reset_site() -> None:
    """Forget what ``load_site`` loaded (tests clean the registry themselves)."""
    _loaded.clear()


def compile_data_schemas(registry: Any, chosen: list[EntryPoint]) -> DataSchemas:
    """Compile the events' data schemas; one that is not JSON Schema stops start-up, naming
    its event and the extension that brings it."""
    try:
        return DataSchemas.of(registry)
    except DataSchemaError as error:
        module = str(getattr(error.factory, "__module__", ""))
        owner = next((ep for ep in chosen if f"{module}.".startswith(f"{ep.module}.")), None)
        where = f"extension {owner.name!r} ({EXTENSIONS} entry point {_origin(owner)}): " if owner else ""
        raise StartupError(f"{where}{error}; fix the schema (JSON Schema draft-07)") from error


def check_wiring(registry: Any) -> None:
    """There is an events queue, and every action writes to a registered queue utility."""
    queues = {name for name, _ in registry.getUtilitiesFor(IQueue)}
    if EVENTS_QUEUE not in queues:
        raise StartupError(f"no {EVENTS_QUEUE!r} utility is registered: include briefy.common")
    for registration in registry.registeredAdapters():
        if registration.provided.isOrExtends(IAction):
            queue_name = getattr(registration.factory, "_queue_name", "")
            if queue_name not in queues:
                raise StartupError(
                    f"action {registration.name!r} writes to {queue_name!r}, "
                    "which is not a registered queue utility"
                )
