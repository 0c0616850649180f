"""An SQS-compatible endpoint served in-process (moto's server), for development."""

from __future__ import annotations

import socket
from typing import Any


class EmbeddedUnavailable(RuntimeError):
    """The embedded endpoint cannot be started (port taken, moto not installed)."""


class EmbeddedSQS:
    """moto's server on ``host:port``, in a daemon thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9324) -> None:
        self.host = host
        self.port = port
        self._server: Any = None

    @property
    def url(self) -> str:
        """The endpoint URL."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start serving; raise ``EmbeddedUnavailable`` with the reason if it cannot."""
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as error:
            raise EmbeddedUnavailable(
                "the embedded SQS endpoint needs moto's server: "
                "pip install 'briefy.choreographer[embedded]' (or set AWS_ENDPOINT_URL_SQS)"
            ) from error
        # moto binds in a thread and would hang on a taken port: check first.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as error:
                raise EmbeddedUnavailable(
                    f"cannot serve the embedded SQS endpoint on {self.host}:{self.port}: "
                    f"{error.strerror}; set CHOREOGRAPHER_EMBEDDED_PORT, or point "
                    "AWS_ENDPOINT_URL_SQS at a running SQS endpoint"
                ) from error
            if self.port == 0:
                self.port = probe.getsockname()[1]
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.stop()
            self._server = None
