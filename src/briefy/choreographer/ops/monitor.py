"""The worker's HTTP endpoint: Prometheus metrics and health checks on one port.

``GET /metrics``        Prometheus text format (OpenMetrics when asked for)
``GET /health/live``    200 while the loop turns, 503 once it is stuck
``GET /health/ready``   200 while the events queue answers, 503 otherwise
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson
import structlog
import waitress
from botocore.config import Config
from prometheus_client import make_wsgi_app

from briefy.choreographer.clients import make_client
from briefy.choreographer.errors import StartupError
from briefy.choreographer.ops.health import Check, Health
from briefy.choreographer.ops.metrics import Metrics

if TYPE_CHECKING:
    from briefy.choreographer.bootstrap import Application
    from briefy.choreographer.worker import Worker

log = structlog.get_logger(__name__)

#: The readiness probe's client: short timeouts, no retries (the probe is retried by its caller).
PROBE_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1})
#: Connections open at once; more wait in the listen backlog. An open connection costs
#: a socket and at most ``MAX_HEADER`` bytes, never a thread.
CONNECTION_LIMIT = 256
#: Seconds a connection may sit idle (a request half sent included) before it is closed.
IDLE_TIMEOUT = 5
#: Threads answering complete requests (each answer takes a millisecond or so).
THREADS = 2
#: Largest request head accepted, in bytes (a probe's is a few hundred).
MAX_HEADER = 8192

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class MonitorServer:
    """``/metrics``, ``/health/live`` and ``/health/ready`` on one port, served by waitress.

    waitress reads each request whole in its event loop before a thread answers it,
    so slow or half-sent requests hold no thread; it serves at most
    ``CONNECTION_LIMIT`` connections and closes one idle for ``IDLE_TIMEOUT``
    seconds. Open to anyone who can reach the port: keep it on loopback or a
    private network (see docs/operations.rst, "Metrics and health").
    """

    def __init__(
        self,
        metrics: Metrics,
        health: Health,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        connection_limit: int = CONNECTION_LIMIT,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self.port = port
        self.connection_limit = connection_limit
        self.idle_timeout = idle_timeout
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL it serves (with the port it actually bound)."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> MonitorServer:
        """Bind and serve in a daemon thread; ``StartupError`` if the address is unusable."""
        listen = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        logging.getLogger("waitress").setLevel(logging.ERROR)
        try:
            self._server = waitress.create_server(
                self,
                listen=listen,
                threads=THREADS,
                connection_limit=self.connection_limit,
                channel_timeout=self.idle_timeout,
                cleanup_interval=1,
                max_request_header_size=MAX_HEADER,
                max_request_body_size=MAX_HEADER,
                asyncore_use_poll=True,
                ident="choreographer",
            )
        except (OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or error
            raise StartupError(
                f"cannot serve metrics and health on {self.host}:{self.port}: {reason} "
                "(set CHOREOGRAPHER_METRICS_PORT and CHOREOGRAPHER_METRICS_HOST, 0 turns it off)"
            ) from error
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close the socket and every connection, end the threads."""
        server, self._server = self._server, None
        if server is None:
            return
        while server._map:  # the listener, the event loop's trigger and the connections
            for channel in list(server._map.values()):
                channel.handle_close()
        server.task_dispatcher.shutdown()
        if self._thread is not None:
            self._thread.join(5)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application."""
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _answer(start_response, "405 Method Not Allowed", {"status": "method_not_allowed"})
        if path == "/metrics":
            result: Iterable[bytes] = self._metrics_app(environ, start_response)
            return result
        if path == "/health/live":
            return _check(start_response, self.health.live())
        if path == "/health/ready":
            return _check(start_response, self.health.ready())
        return _answer(start_response, "404 Not Found", {"status": "not_found", "paths": list(PATHS)})


PATHS = ("/metrics", "/health/live", "/health/ready")


def _check(start_response: StartResponse, check: Check) -> list[bytes]:
    return _answer(start_response, "200 OK" if check.ok else "503 Service Unavailable", check.detail)


def _answer(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = orjson.dumps(body)
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def start_monitor(app: Application, worker: Worker) -> MonitorServer | None:
    """Serve the worker's metrics and health on ``CHOREOGRAPHER_METRICS_PORT`` (0: off).

    Also counts the SQS client's failed calls and reads the worker's in-flight
    count into its metrics.
    """
    settings = app.settings
    if not settings.metrics_port:
        return None
    metrics = worker.metrics
    metrics.watch_worker(worker)
    metrics.watch_client(app.client)
    probe = make_client(settings, app.endpoint if app.embedded else None, overrides=PROBE_CONFIG)
    health = Health(worker, probe, str(app.events.url), settings.wait_time)
    server = MonitorServer(metrics, health, settings.metrics_host, settings.metrics_port).start()
    log.info("monitor_started", host=server.host, port=server.port, paths=list(PATHS))
    return server
