"""The container engine the image tests drive: docker where an engine answers, else podman.

podman runs with a configuration of the tests' own, pointed at by
``CONTAINERS_CONF`` and ``CONTAINERS_STORAGE_CONF``, so that nothing system-wide
changes: storage in the tests' cache folder; runc as the runtime where it is
installed (crun rejects a kernel with a hybrid cgroup layout: "cgroups in hybrid
mode not supported"); ulimits no higher than this process's own (podman's
defaults ask for more than a sandbox may allow: "setrlimit RLIMIT_NOFILE:
Operation not permitted"); netavark for networks where it is installed (compose's
service names resolve through its aardvark-dns).
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

#: What CI installs (Debian's packages) when it has no engine: podman, the runtime
#: and network stack it runs with here (netavark writes its firewall rules with
#: iptables, which podman only suggests: without it a compose network fails to start
#: with "netavark: No such file or directory"), and debootstrap for a base image.
PODMAN_PACKAGES = ("podman", "runc", "netavark", "aardvark-dns", "iptables", "debootstrap")
#: Where Debian's podman keeps its helpers (netavark, aardvark-dns).
HELPERS = Path("/usr/lib/podman")


class EngineMissing(Exception):
    """The image cannot be tested here; the message says why."""


class EngineError(Exception):
    """An engine command failed; the message has its output."""


class Engine:
    """One engine's command line, run with the environment it needs."""

    name = ""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(
        self, *args: str, timeout: float = 120.0, check: bool = True, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.name, *args], env=self.env, capture_output=True, text=True, timeout=timeout, **kwargs
        )
        if check and result.returncode != 0:
            raise EngineError(
                f"{self.name} {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def build_options(self) -> list[str]:
        """What a build needs here besides the Dockerfile's own arguments."""
        return []

    def has_image(self, image: str) -> bool:
        return self("image", "inspect", image, check=False).returncode == 0

    def inspect(self, target: str, template: str) -> str:
        return self("inspect", "--format", template, target).stdout.strip()

    def image_healthcheck(self, image: str) -> dict[str, Any] | None:
        """The HEALTHCHECK an image carries (its command, ``Test``, and timings), if any."""
        found: dict[str, Any] | None = json.loads(self.inspect(image, "{{json .Config.Healthcheck}}"))
        return found

    def forget_old_layers(self) -> None:
        """Drop build leftovers unused for a week, where the storage is the tests' own."""

    def remove(self, container: str) -> None:
        """Remove a container of the tests', killing it first if it runs."""
        self("rm", "--force", container, check=False)

    def healthcheck(self, container: str) -> bool:
        """Run the container's HEALTHCHECK command once, as the engine would: whether it passed."""
        test = json.loads(self.inspect(container, "{{json .Config.Healthcheck.Test}}"))
        command = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
        return self("exec", container, *command, check=False, timeout=60).returncode == 0

    def compose(self) -> list[str] | None:
        """The compose command for this engine, or None where there is none."""
        return None


class Docker(Engine):
    """A Docker engine that answers ``docker info``."""

    name = "docker"

    def compose(self) -> list[str] | None:
        found = self("compose", "version", check=False).returncode == 0
        return ["docker", "compose"] if found else None


class Podman(Engine):
    """podman with the tests' own configuration and storage under ``home``."""

    name = "podman"

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        (home / "containers.conf").write_text(containers_conf(home))
        (home / "storage.conf").write_text(storage_conf(home))
        super().__init__(
            {
                **os.environ,
                "CONTAINERS_CONF": str(home / "containers.conf"),
                "CONTAINERS_STORAGE_CONF": str(home / "storage.conf"),
            }
        )

    def build_options(self) -> list[str]:
        # The docker format keeps the HEALTHCHECK (podman drops it from OCI images). pip
        # reaches its index as the host's pip does: on the host's network, trusting the
        # host's CA bundle, from the index the host's pip is configured with (if not
        # PyPI). Both files are mounted for the build only: the image keeps its own.
        options = ["--format", "docker", "--network", "host"]
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if bundle.is_file():
            options += ["--volume", f"{bundle}:{bundle}:ro"]
        index = host_index()
        if index:
            (self.home / "pip.conf").write_text(f"[global]\nindex-url = {index}\n")
            options += ["--volume", f"{self.home / 'pip.conf'}:/etc/pip.conf:ro"]
        return options

    def image_healthcheck(self, image: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = json.loads(self.inspect(image, "{{json .HealthCheck}}"))
        return found

    def forget_old_layers(self) -> None:
        # Untagged images (older builds, and the layers builds reuse) made more than a week ago.
        self("image", "prune", "--force", "--filter", "until=168h", timeout=600)

    def remove(self, container: str) -> None:
        self("rm", "--force", "--time", "0", container, check=False)  # podman's rm stops first, gently

    def healthcheck(self, container: str) -> bool:
        result = self("healthcheck", "run", container, check=False, timeout=60)
        if result.returncode not in (0, 1):
            raise EngineError(f"podman healthcheck run exited {result.returncode}: {result.stderr}")
        return result.returncode == 0

    def compose(self) -> list[str] | None:
        # podman-compose is a test dependency: run it with this interpreter, wherever PATH points.
        found = importlib.util.find_spec("podman_compose") is not None
        return [sys.executable, "-m", "podman_compose"] if found else None

    def resolves_service_names(self) -> bool:
        """Whether containers on a compose network find each other by name (netavark's DNS)."""
        return self.inspect_info("{{.Host.NetworkBackend}}") == "netavark" and (
            (HELPERS / "aardvark-dns").exists()
        )

    def inspect_info(self, template: str) -> str:
        return self("info", "--format", template).stdout.strip()


def host_index() -> str:
    """The index the host's pip is configured with (``PIP_INDEX_URL``, its config files), or ``""``."""
    index = os.environ.get("PIP_INDEX_URL", "")
    if not index:
        found = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True
        )
        index = found.stdout.strip() if found.returncode == 0 else ""
    return index


def containers_conf(home: Path) -> str:
    """podman's configuration for the tests: everything it writes under ``home``."""
    ulimits = [f'"{name}={limit}:{limit}"' for name, limit in host_limits().items()]
    engine = [
        f'tmp_dir = "{home / "tmp"}"',
        'events_logger = "file"',
        f'events_logfile_path = "{home / "events.log"}"',
    ]
    if shutil.which("runc"):
        engine.append('runtime = "runc"')
    if not Path("/run/systemd/system").exists():  # no systemd to manage cgroups
        engine.append('cgroup_manager = "cgroupfs"')
    network = [f'network_config_dir = "{home / "networks"}"']
    if (HELPERS / "netavark").exists():
        network.append('network_backend = "netavark"')
    return "\n".join(
        [
            "# Written by the image tests (tests/container/engine.py).",
            "[containers]",
            f"default_ulimits = [{', '.join(ulimits)}]",
            "[engine]",
            *engine,
            "[network]",
            *network,
            "",
        ]
    )


def storage_conf(home: Path) -> str:
    return "\n".join(
        [
            "[storage]",
            'driver = "overlay"',
            f'graphroot = "{home / "storage"}"',
            f'runroot = "{home / "run"}"',
            "",
        ]
    )


def host_limits() -> dict[str, int]:
    """Limits on open files and processes no higher than this process's, nor than the kernel's.

    A sandbox may refuse more processes than the kernel has process ids (kernel.pid_max),
    whatever this process's own limit says.
    """
    kernel = {"nofile": Path("/proc/sys/fs/nr_open"), "nproc": Path("/proc/sys/kernel/pid_max")}
    limits = {
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
    }
    for name, path in kernel.items():
        if path.is_file():
            ceiling = int(path.read_text())
            limits[name] = ceiling if limits[name] == resource.RLIM_INFINITY else min(limits[name], ceiling)
    return {name: limit for name, limit in limits.items() if limit != resource.RLIM_INFINITY}


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def find_engine(home: Path, install: bool) -> Engine:
    """docker where its engine answers, else podman (installed first when ``install``)."""
    if docker_answers():
        return Docker(dict(os.environ))
    if install:
        install_packages(PODMAN_PACKAGES)
    if shutil.which("podman"):
        return Podman(home)
    raise EngineMissing(
        "no Docker engine answers `docker info` and podman is not installed "
        "(on CI, CI=true, the tests install podman themselves)"
    )


def install_packages(packages: tuple[str, ...]) -> None:
    """Install the Debian packages that are missing, with apt-get (CI runs as root)."""
    missing = [name for name in packages if not installed(name)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise EngineMissing(f"{', '.join(missing)} missing and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise EngineMissing(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() == "install ok installed"
