"""A fault-injecting HTTP reverse proxy in front of an SQS endpoint (moto's server).

The real worker process talks to SQS through it (``AWS_ENDPOINT_URL_SQS=proxy.url``)
while a test schedules faults for chosen SQS operations, named as the request
names them (the ``X-Amz-Target`` header of the JSON protocol, or the ``Action``
parameter of the query protocol)::

    proxy = FaultProxy(moto_server.url).start()
    proxy.fail("SendMessageBatch", how="503", times=2, match="-mail")
    proxy.delay("SendMessageBatch", seconds=3)
    proxy.down()   # every call fails until proxy.up()

Faults (``how``):

- ``"500"``, ``"503"``: an ``InternalError`` / ``ServiceUnavailable`` answer;
- ``"throttle"``: a 400 ``ThrottlingException`` answer;
- ``"reject"``: a 400 ``InvalidParameterValue`` answer (a permanent error);
- ``"drop"``: the connection is closed without an answer; the call never reached SQS;
- ``"drop_after"``: the call is made, then the connection is closed: SQS acted but
  the caller cannot know it (what a network fault after sending looks like);
- ``"delay"``: the call is forwarded after ``seconds``;
- ``"hold"``: the call is made at once, its answer is held back ``seconds``;
- ``"hold_deliveries"``: like ``hold``, for answers that deliver messages only (an
  empty receive passes at once).

``proxy.check_text = True`` makes it refuse, as SQS does (moto does not), a
SendMessage or SendMessageBatch whose body or string attribute values hold
characters SQS does not accept (outside XML 1.0's): a 400 ``InvalidParameterValue``.

Bounded and local: it listens on 127.0.0.1 only, forwards only to a loopback
upstream, reads at most ``MAX_BODY`` bytes per request, never holds a request
more than ``MAX_DELAY`` seconds, and ``stop()`` lets every held request go.
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 4 * 1024 * 1024
MAX_DELAY = 120.0
UPSTREAM_TIMEOUT = 60.0
FAULTS = ("500", "503", "throttle", "reject", "drop", "drop_after", "delay", "hold", "hold_deliveries")
_ERRORS = {
    "500": (500, "InternalError", "Receiver"),
    "503": (503, "ServiceUnavailable", "Receiver"),
    "throttle": (400, "ThrottlingException", "Sender"),
    "reject": (400, "InvalidParameterValue", "Sender"),
}
#: Characters SQS refuses in message bodies and attribute values.
REFUSED = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


@dataclass
class Rule:
    """A scheduled fault: the next ``times`` matching calls (all, if None) after ``skip``."""

    operation: str
    how: str
    times: int | None = 1
    skip: int = 0
    match: str | None = None
    seconds: float = 0.0

    def applies(self, operation: str, body: bytes) -> bool:
        return (
            self.operation in ("*", operation)
            and (self.times is None or self.times > 0)
            and (self.match is None or self.match.encode() in body)
        )


def operation_of(headers: Any, body: bytes) -> str:
    """The SQS operation a request calls (``SendMessageBatch``), or ``""``."""
    target = headers.get("X-Amz-Target", "")
    if target:
        return str(target).rsplit(".", 1)[-1]
    params = parse_qs(body.decode("utf-8", "replace"))
    return params.get("Action", [""])[0]


class FaultProxy:
    """A reverse proxy on a free loopback port that fails chosen SQS calls on schedule."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the fault proxy forwards to loopback endpoints only, not {upstream}")
        self.upstream = (parts.hostname, parts.port or 80)
        self.rules: list[Rule] = []
        self.calls: dict[str, int] = {}
        self.injected: dict[str, int] = {}
        self.held = 0
        self.check_text = False
        self.refused_text = 0
        self._lock = threading.Condition()
        self._released = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- the schedule ----------------------------------------------------------
    def fail(
        self,
        operation: str,
        how: str = "503",
        times: int | None = 1,
        match: str | None = None,
        skip: int = 0,
        seconds: float = 0.0,
    ) -> Rule:
        """Fault the next ``times`` calls of ``operation`` (``"*"``: any) whose body has ``match``."""
        if how not in FAULTS:
            raise ValueError(f"unknown fault {how!r}; one of {', '.join(FAULTS)}")
        rule = Rule(operation, how, times, skip, match, min(seconds, MAX_DELAY))
        with self._lock:
            self.rules.append(rule)
        return rule

    def delay(
        self, operation: str, seconds: float, times: int | None = None, match: str | None = None
    ) -> Rule:
        """Forward calls of ``operation`` only after ``seconds``."""
        return self.fail(operation, "delay", times, match, seconds=seconds)

    def down(self, how: str = "drop") -> Rule:
        """Fail every call until ``up()``: SQS looks unreachable."""
        return self.fail("*", how, times=None)

    def up(self) -> None:
        """Forget every scheduled fault (held requests keep their delay)."""
        with self._lock:
            self.rules.clear()

    def remove(self, rule: Rule) -> None:
        """Forget one scheduled fault."""
        with self._lock:
            if rule in self.rules:
                self.rules.remove(rule)

    def wait_for(self, operation: str, count: int = 1, timeout: float = 30.0, injected: bool = False) -> None:
        """Wait until ``operation`` was called (or faulted, with ``injected``) ``count`` times."""
        counter = self.injected if injected else self.calls
        deadline = time.monotonic() + timeout
        with self._lock:
            while counter.get(operation, 0) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{operation} x{count} not seen; calls={self.calls}")
                self._lock.wait(min(left, 0.5))

    def wait_held(self, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until ``count`` requests are being held back by a delay."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.held < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{count} held requests not seen; calls={self.calls}")
                self._lock.wait(min(left, 0.5))

    # -- life ------------------------------------------------------------------
    def start(self) -> FaultProxy:
        threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True).start()
        return self

    def release(self) -> None:
        """Let every held request go now (and later holds pass at once)."""
        self._released.set()

    def stop(self) -> None:
        """Let held requests go, stop serving and close the port."""
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------
    def _choose(self, operation: str, body: bytes) -> Rule | None:
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            chosen = None
            for rule in self.rules:
                if not rule.applies(operation, body):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                if rule.times is not None:
                    rule.times -= 1
                chosen = rule
                self.injected[operation] = self.injected.get(operation, 0) + 1
                break
            self._lock.notify_all()
            return chosen

    def _hold(self, seconds: float) -> None:
        with self._lock:
            self.held += 1
            self._lock.notify_all()
        try:
            self._released.wait(seconds)
        finally:
            with self._lock:
                self.held -= 1
                self._lock.notify_all()

    def serve(self, request: _Handler) -> None:
        """Answer one request: fault it as scheduled, or forward it upstream."""
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            request.close_connection = True
            request.send_error(413)
            return
        body = request.rfile.read(length) if length else b""
        operation = operation_of(request.headers, body)
        rule = self._choose(operation, body)
        how = rule.how if rule else ""
        if not how and self.check_text and refused_text(operation, body):
            with self._lock:
                self.refused_text += 1
            how = "reject"
        if how == "drop":
            request.close_connection = True
            return
        if how in _ERRORS:
            self._answer_error(request, how)
            return
        if how == "delay":
            self._hold(rule.seconds if rule else 0.0)
        status, headers, answer = self._forward(request, body)
        if how == "drop_after":
            request.close_connection = True
            return
        if how == "hold" or (how == "hold_deliveries" and b'"ReceiptHandle"' in answer):
            self._hold(rule.seconds if rule else 0.0)
        request.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        request.wfile.write(answer)

    def _forward(self, request: _Handler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=UPSTREAM_TIMEOUT)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(request.command, request.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    @staticmethod
    def _answer_error(request: _Handler, how: str) -> None:
        status, code, fault = _ERRORS[how]
        if request.headers.get("X-Amz-Target"):
            answer = json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": "injected"}).encode()
            content_type = "application/x-amz-json-1.0"
        else:
            answer = (
                f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code>"
                "<Message>injected</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ).encode()
            content_type = "text/xml"
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("x-amzn-query-error", f"{code};{fault}")
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        request.wfile.write(answer)


def refused_text(operation: str, body: bytes) -> bool:
    """Whether a send (JSON protocol) carries text SQS would refuse in a body or attribute."""
    if operation not in ("SendMessage", "SendMessageBatch"):
        return False
    try:
        request = json.loads(body)
    except ValueError:
        return False
    entries = request.get("Entries", [request])
    for entry in entries:
        texts = [entry.get("MessageBody", "")]
        texts += [value.get("StringValue", "") for value in entry.get("MessageAttributes", {}).values()]
        if any(REFUSED.search(text) for text in texts):
            return True
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # a caller gone is no news
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls
    server: Any

    def do_POST(self) -> None:
        try:
            self.server.proxy.serve(self)
        except (ConnectionError, TimeoutError):  # the caller gave up (or was killed) first
            self.close_connection = True

    # S3's REST calls (GetObject, PutObject...) pass through the same way (operation ""): a
    # rule for "*" (``down()``) fails them too.
    def do_GET(self) -> None:
        self.do_POST()

    def do_PUT(self) -> None:
        self.do_POST()

    def log_message(self, *_: Any) -> None:
        """Quiet: the test reads the proxy's counters instead."""
