"""The worker's HTTP endpoint: Prometheus metrics and health checks on one port.

``GET /metrics``        Prometheus text format (OpenMetrics when asked for)
``GET /health/live``    200 while the loop turns, 503 once it is stuck
``GET /health/ready``   200 while the events queue answers, 503 otherwise
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import orjson
import structlog
from botocore.config import Config
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from briefy.choreographer.bootstrap import StartupError, make_client
from briefy.choreographer.health import Check, Health
from briefy.choreographer.metrics import Metrics

if TYPE_CHECKING:
    from briefy.choreographer.bootstrap import Application
    from briefy.common.worker import QueueWorker

log = structlog.get_logger(__name__)

#: The readiness probe's client: short timeouts, no retries (the probe is retried by its caller).
PROBE_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1})

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _QuietHandler(WSGIRequestHandler):
    """Serves requests without writing an access log line to stderr for each scrape."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class MonitorServer:
    """A small threaded HTTP server for ``/metrics``, ``/health/live`` and ``/health/ready``."""

    def __init__(self, metrics: Metrics, health: Health, host: str = "127.0.0.1", port: int = 0) -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self.port = port
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL it serves (with the port it actually bound)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}" if ":" not in host else f"http://[{host}]:{self.port}"

    def start(self) -> MonitorServer:
        """Bind and serve in a daemon thread; ``StartupError`` if the address is unusable."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Server(ThreadingWSGIServer):
            address_family = family

        try:
            self._server = make_server(self.host, self.port, self, Server, handler_class=_QuietHandler)
        except OSError as error:
            raise StartupError(
                f"cannot serve metrics and health on {self.host}:{self.port}: {error.strerror or error} "
                "(set CHOREOGRAPHER_METRICS_PORT and CHOREOGRAPHER_METRICS_HOST, 0 turns it off)"
            ) from error
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

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


def start_monitor(app: Application, worker: QueueWorker) -> MonitorServer | None:
    """Serve the worker's metrics and health on ``CHOREOGRAPHER_METRICS_PORT`` (0: off).

    Also counts the SQS client's failed calls and reads the worker's in-flight
    count into its metrics.
    """
    settings = app.settings
    if not settings.metrics_port:
        return None
    metrics: Metrics = getattr(worker, "metrics", None) or Metrics()
    metrics.watch_worker(worker)
    metrics.watch_client(app.client)
    assert app.events is not None and app.events.url is not None
    probe = make_client(settings, app.embedded.url if app.embedded else None, overrides=PROBE_CONFIG)
    health = Health(worker, probe, app.events.url, settings.wait_time)
    server = MonitorServer(metrics, health, settings.metrics_host, settings.metrics_port).start()
    log.info("monitor_started", host=server.host, port=server.port, paths=list(PATHS))
    return server
