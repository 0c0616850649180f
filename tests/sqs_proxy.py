"""An HTTP proxy in front of moto's server that sees each SQS call (end-to-end fault injection).

A test points ``AWS_ENDPOINT_URL_SQS`` at the proxy and gives it ``on_call``:
called with the operation name and its JSON parameters before the call is
forwarded, it may act (send a signal to a process at an exact moment) or answer
instead of moto (an injected failure). Nothing in botocore is touched.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

#: ``on_call(operation, params)`` returns None to forward, or (status, JSON body) to answer.
OnCall = Callable[[str, dict[str, Any]], "tuple[int, dict[str, Any]] | None"]
HOP_HEADERS = {"connection", "transfer-encoding", "content-length", "keep-alive"}


class SQSProxy:
    """Forwards SQS JSON-protocol calls to ``upstream`` on a free loopback port."""

    def __init__(self, upstream: str, on_call: OnCall) -> None:
        self.upstream = urlsplit(upstream)
        self.on_call = on_call
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> SQSProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forward(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream.hostname or "", self.upstream.port, timeout=60)
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def _handler(proxy: SQSProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
            params = json.loads(body) if body else {}
            answer = proxy.on_call(operation, params)
            if answer is not None:
                status, document = answer
                self._reply(
                    status, [("Content-Type", "application/x-amz-json-1.0")], json.dumps(document).encode()
                )
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            self._reply(*proxy.forward(self.path, body, headers))

        def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:  # quiet
            return

    return Handler
