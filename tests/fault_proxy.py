"""A fault-injecting HTTP reverse proxy on loopback, for the retry tests.

It stands between the AWS SDK (``endpoint_url`` = the proxy) and the moto server, forwards every
request, and faults a share of them, drawn from a seeded RNG so a run can be repeated:

- throttling as each protocol speaks it: JSON-protocol services (an ``X-Amz-Target`` header:
  Athena, Glue, CloudTrail, CloudWatch Logs) get HTTP 400 with ``x-amzn-errortype``
  ``ThrottlingException`` or ``TooManyRequestsException``; query-protocol services (STS, IAM)
  get HTTP 400 ``Throttling`` XML; S3 gets HTTP 503 ``SlowDown`` XML, and a bodiless 503 for a
  HEAD request;
- HTTP 500 with an ``InternalError`` body;
- a dropped connection: closed without a response, before the request reaches moto;
- a reset mid-body: the request reaches moto (which acts on it), the response's headers and half
  its body go out, then the connection is reset - the answer to a call that did happen is lost.

Independently of the fault rate, some requests are delayed (latency that is not a failure).
Every decision is counted (``stats``). The proxy is bounded: at most ``max_connections``
connections are served at once, each socket has a timeout, and ``close()`` (the fixture's
teardown) stops the server and every connection.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("throttle", "server_error", "drop", "reset")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "proxy-connection",
    "upgrade",
    "expect",
}


class FaultProxy:
    """A proxy in front of ``upstream`` (``http://127.0.0.1:PORT``) faulting ``rate`` of the
    requests. ``fail_after``: from that many requests on, every request is faulted (an outage
    that starts in the middle of a run)."""

    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        rate: float = 0.0,
        latency_rate: float = 0.1,
        max_latency: float = 0.05,
        max_connections: int = 32,
        timeout: float = 30.0,
    ) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.rng = random.Random(seed)
        self.rate = rate
        self.fail_after: int | None = None
        self.kinds: tuple[str, ...] = FAULTS
        self.latency_rate = latency_rate
        self.max_latency = max_latency
        self.timeout = timeout
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.slots = threading.BoundedSemaphore(max_connections)
        self.connections: set[socket.socket] = set()
        proxy = self

        class Handler(ProxyHandler):
            owner = proxy

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def process_request(self, request: Any, client_address: Any) -> None:
                proxy.slots.acquire()
                with proxy.lock:
                    proxy.connections.add(request)
                super().process_request(request, client_address)

            def shutdown_request(self, request: Any) -> None:
                with proxy.lock:
                    proxy.connections.discard(request)
                super().shutdown_request(request)
                proxy.slots.release()

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def configure(
        self,
        *,
        rate: float,
        seed: int,
        fail_after: int | None = None,
        kinds: tuple[str, ...] = FAULTS,
    ) -> None:
        """A new fault rate and seed (and outage start, counted from now; and the kinds of
        fault to draw from); counts restart."""
        unknown = set(kinds) - set(FAULTS)
        if unknown or not kinds:
            raise ValueError(f"fault kinds: {sorted(unknown)} not among {FAULTS}")
        with self.lock:
            self.rate = rate
            self.rng = random.Random(seed)
            self.counts = Counter()
            self.fail_after = fail_after
            self.kinds = kinds

    def decide(self) -> tuple[str | None, float]:
        """The fault for the next request (or None) and the latency to add to it."""
        with self.lock:
            self.counts["requests"] += 1
            outage = self.fail_after is not None and self.counts["requests"] > self.fail_after
            fault = None
            if outage or self.rng.random() < self.rate:
                fault = self.rng.choice(self.kinds)
                self.counts[fault] += 1
                self.counts["faulted"] += 1
            delay = 0.0
            if self.rng.random() < self.latency_rate:
                delay = self.rng.uniform(0.0, self.max_latency)
                self.counts["delayed"] += 1
            return fault, delay

    @property
    def stats(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)

    def close(self) -> None:
        self.server.shutdown()
        with self.lock:
            open_now = list(self.connections)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server.server_close()
        self.thread.join(timeout=10)


class ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.owner.timeout)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def handle_any(self) -> None:
        body = self.read_body()
        fault, delay = self.owner.decide()
        if delay:
            time.sleep(delay)
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "throttle":
            self.throttle()
            return
        if fault == "server_error":
            self.server_error()
            return
        status, headers, payload = self.forward(body)
        if fault == "reset" and payload:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.reset()
            return
        if fault == "reset":
            self.reset()
            return
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_any

    def forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection(*self.owner.upstream, timeout=self.owner.timeout)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if "Content-Length" in headers or body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            out = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
            if self.command != "HEAD":
                out = [(k, v) for k, v in out if k.lower() != "content-length"]
                out.append(("Content-Length", str(len(payload))))
            return answer.status, out, payload
        finally:
            upstream.close()

    def throttle(self) -> None:
        target = self.headers.get("X-Amz-Target")
        content_type = self.headers.get("Content-Type", "")
        if target:
            code = "TooManyRequestsException" if "Athena" in target else "ThrottlingException"
            if self.owner.rng.random() < 0.3:
                code = "TooManyRequestsException"
            body = json.dumps({"__type": code, "message": "Rate exceeded"}).encode()
            self.answer(
                400,
                {"Content-Type": "application/x-amz-json-1.1", "x-amzn-errortype": code},
                body,
            )
        elif content_type.startswith("application/x-www-form-urlencoded"):
            body = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                b"<Message>Rate exceeded</Message></Error><RequestId>fault</RequestId>"
                b"</ErrorResponse>"
            )
            self.answer(400, {"Content-Type": "text/xml"}, body)
        else:
            self.answer(503, {"Content-Type": "application/xml"}, error_xml("SlowDown"))

    def server_error(self) -> None:
        if self.headers.get("X-Amz-Target"):
            body = json.dumps({"__type": "InternalServerException", "message": "injected"})
            self.answer(500, {"Content-Type": "application/x-amz-json-1.1"}, body.encode())
        else:
            self.answer(500, {"Content-Type": "application/xml"}, error_xml("InternalError"))

    def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        # A HEAD answer carries no body (S3's 503 to HeadBucket is bodiless).
        self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reset(self) -> None:
        """Closes the connection with a TCP reset (SO_LINGER 0) instead of an orderly close."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


def error_xml(code: str) -> bytes:
    return (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        f"<Message>injected {code}</Message><RequestId>fault</RequestId></Error>"
    ).encode()
