"""A server that a careless or hostile client cannot take down: bodies, heads and slow or
idle connections are capped, and real clients are served while such connections are held.

Timing: waits are for events (an answer, a closed connection, a count the server reports);
a slow client's bytes are paced 20 ms apart, which only keeps it sending while it waits.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from es_pandas import LocalEventStreams
from es_pandas.server._protocol import MAX_HEADER_BYTES, MAX_HEADERS, MAX_URL_BYTES

from .conftest import API_KEY, start_server_process

IDLE = 1.0
REQUEST = 2.0
LIMIT = 1000


@pytest.fixture(scope="module")
def quick() -> Iterator[LocalEventStreams]:
    """Short timeouts and a 1000-byte body limit."""
    with LocalEventStreams(
        topics={"t": 1},
        api_key=API_KEY,
        max_request_bytes=LIMIT,
        max_value_bytes=LIMIT,
        idle_timeout=IDLE,
        request_timeout=REQUEST,
    ) as es:
        yield es


def connect(es: LocalEventStreams, data: bytes = b"") -> socket.socket:
    # The timeout is a safety net: every wait here ends on the server's doing first.
    sock = socket.create_connection(("127.0.0.1", es.port), timeout=30)
    sock.sendall(data)
    return sock


def answer(sock: socket.socket) -> tuple[int, str]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.read().decode()


def closed_unanswered(sock: socket.socket) -> bool:
    return sock.recv(1) == b""


def trickle(sock: socket.socket, data: bytes) -> None:
    """Send ``data`` a byte at a time, 20 ms apart, until the server answers or closes."""
    for byte in data:
        sock.send(bytes([byte]))
        if select.select([sock], [], [], 0.02)[0]:
            return
    raise AssertionError(f"the server let a client send {len(data)} bytes this slowly")


HEAD = "{} {} HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer " + API_KEY + "\r\n"

# Every route that reads a body, what it answers past the limit, and in whose words
BODY_ROUTES = [
    ("POST", "/topics/t/records", "text/plain", 400, "http: request body too large"),
    ("POST", "/v2/topics/t/records", "application/json", 400, "http: request body too large"),
    ("POST", "/identity/token", "application/x-www-form-urlencoded", 400, "1000-byte limit"),
    ("POST", "/_local/topics", "application/json", 413, "1000-byte limit"),
    ("PUT", "/_local/faults", "application/json", 413, "1000-byte limit"),
    ("POST", "/_local/faults/script", "application/json", 413, "1000-byte limit"),
]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize(("method", "path", "content_type", "status", "message"), BODY_ROUTES)
def test_every_route_stops_reading_a_body_at_the_limit(
    quick, framing, method, path, content_type, status, message
) -> None:
    head = HEAD.format(method, path) + f"Content-Type: {content_type}\r\n"
    if framing == "content-length":
        # a length over the limit is refused before any of the body is sent
        data = head + "Content-Length: 1000000\r\n\r\n"
    else:
        # one byte over, and the body never ends: the answer cannot wait for it
        data = head + f"Transfer-Encoding: chunked\r\n\r\n{LIMIT + 1:x}\r\n" + "x" * (LIMIT + 1)
    with connect(quick, data.encode()) as sock:
        got, body = answer(sock)
    assert got == status
    assert message in body


def test_a_body_within_the_limit_is_read(quick) -> None:
    with httpx.Client(base_url=quick.url, headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        assert c.post("/_local/faults/script", json={"actions": ["ok"] * 100}).status_code == 200
        assert c.post("/_local/faults/script", json={"actions": ["ok"] * 200}).status_code == 413


def test_a_long_request_target_is_answered_414(quick) -> None:
    # sent to one byte past the limit, and never ended
    with connect(quick, b"GET /" + b"a" * MAX_URL_BYTES) as sock:
        assert answer(sock) == (414, f"the request target passed the {MAX_URL_BYTES}-byte limit")


def test_a_long_header_is_answered_431_before_it_ends(quick) -> None:
    # httptools holds a header until it ends; this one never does
    data = b"GET /_local/topics HTTP/1.1\r\nX-Long: " + b"v" * MAX_HEADER_BYTES
    with connect(quick, data) as sock:
        assert answer(sock) == (
            431,
            f"the request headers passed the {MAX_HEADER_BYTES}-byte limit",
        )


def test_headers_are_capped_in_number_and_in_all() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False) as es:

        def get(headers: list[tuple[str, str]]) -> tuple[int, str]:
            lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
            with connect(es, f"GET /_local/topics HTTP/1.1\r\n{lines}\r\n".encode()) as sock:
                return answer(sock)

        assert get([(f"X-{i}", "v") for i in range(MAX_HEADERS)])[0] == 200
        status, message = get([(f"X-{i}", "v") for i in range(MAX_HEADERS + 1)])
        assert (status, message) == (431, f"the request has more than {MAX_HEADERS} headers")
        # each under the limit, together over it
        status, message = get([(f"X-{i}", "v" * 2000) for i in range(MAX_HEADER_BYTES // 2000 + 1)])
        assert status == 431 and "byte limit" in message
        # and the server goes on serving
        assert httpx.get(f"{es.url}/_local/topics").json() == {"t": 1}


def test_a_connection_that_never_sends_a_request_is_closed(quick) -> None:
    with connect(quick) as sock:
        assert closed_unanswered(sock)


def test_a_connection_idle_after_an_answer_is_closed(quick) -> None:
    with connect(quick, HEAD.format("GET", "/_local/topics").encode() + b"\r\n") as sock:
        assert answer(sock)[0] == 200
        assert closed_unanswered(sock)


def test_blank_lines_do_not_keep_a_connection_open(quick) -> None:
    # llhttp skips empty lines before a request, so they begin none: the connection
    # is idle all along
    with connect(quick) as sock:
        trickle(sock, b"\r\n" * 10_000)
        assert closed_unanswered(sock)


def test_a_head_sent_slowly_is_answered_408(quick) -> None:
    # a byte every 20 ms keeps any per-read timeout at bay; the deadline counts from
    # the request's first byte
    head = HEAD.format("POST", "/v2/topics/t/records") + "X-Slow: " + "v" * 10_000
    with connect(quick) as sock:
        trickle(sock, head.encode())
        assert answer(sock) == (408, f"the request did not arrive whole within {REQUEST:g} s")


@pytest.fixture
def uvicorn_errors() -> Iterator[list[logging.LogRecord]]:
    """What uvicorn logs as errors (an exception in the app, a 500 sent)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_a_body_sent_slowly_is_answered_408_and_the_app_is_not_left_waiting(
    quick, uvicorn_errors
) -> None:
    quick.reset_stats()
    head = HEAD.format("POST", "/v2/topics/t/records")
    head += "Content-Type: application/json\r\nContent-Length: 900\r\n\r\n"
    with connect(quick, head.encode()) as sock:
        trickle(sock, b'{"value": {"type": "text", "data": "' + b"v" * 900)
        assert answer(sock) == (408, f"the request did not arrive whole within {REQUEST:g} s")
    # The route, reading the body, was told the client is gone, and ended quietly
    deadline = time.monotonic() + 30
    while quick.stats().get("requests", 0) < 1:
        assert time.monotonic() < deadline, quick.stats()
        time.sleep(0.01)
    assert quick.stats()["received"] == 1
    assert not uvicorn_errors


def test_the_time_the_server_takes_is_not_the_clients(quick, uvicorn_errors) -> None:
    # Each answer takes longer than both timeouts; the second request waits its turn
    # behind the first (pipelined), half sent, while the server reads nothing more.
    quick.set_faults(latency=REQUEST + 0.5)
    body = b'{"value": {"type": "text", "data": "v"}}'
    request = HEAD.format("POST", "/v2/topics/t/records").encode()
    request += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    try:
        with connect(quick, request + body + request + body[:10]) as sock:
            assert answer(sock)[0] == 200
            sock.sendall(body[10:])
            assert answer(sock)[0] == 200
    finally:
        quick.clear_faults()
    assert not uvicorn_errors


# -- many hostile connections at once, against `es-pandas serve` ---------------------

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="counts a process's sockets in /proc"
)


@contextlib.contextmanager
def open_files_soft_limit(soft: int) -> Iterator[None]:
    """This process's soft limit on open files, for the block (a child inherits it)."""
    import resource

    before, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < soft:
        pytest.skip(f"the hard limit on open files is {hard}, under {soft}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (before, hard))


def accepted(pid: int, clients: list[socket.socket]) -> int:
    """How many of the ``clients``' connections process ``pid`` holds a socket of: those
    it has accepted and not closed."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):
            inodes.add(os.readlink(f"/proc/{pid}/fd/{fd}").removeprefix("socket:[")[:-1])
    ports = {format(client.getsockname()[1], "04X") for client in clients}
    with open(f"/proc/{pid}/net/tcp") as table:
        # columns: sl local_address rem_address st queues timer retransmits uid timeout inode
        rows = [line.split() for line in table.readlines()[1:]]
    # a table that changes while it is read may show a socket twice
    return len({row[9] for row in rows if row[9] in inodes and row[2][-4:] in ports})


def none_closed(clients: list[socket.socket]) -> bool:
    """Whether the server has answered or closed none of the ``clients``' connections."""
    poller = select.poll()  # select() takes no file numbers past 1023
    for client in clients:
        poller.register(client, select.POLLIN)
    return not poller.poll(0)


def wait_until_accepted(pid: int, clients: list[socket.socket]) -> None:
    deadline = time.monotonic() + 60
    while (held := accepted(pid, clients)) < len(clients):
        assert time.monotonic() < deadline, f"the server accepted {held} of {len(clients)}"
        time.sleep(0.05)


def serve_with_a_common_soft_limit(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``es-pandas serve`` started with 1024 open files allowed, as on many Linux systems:
    under it, the server lifts its own limit."""
    with open_files_soft_limit(1024):
        return start_server_process("--no-auth", "--topic", "t:3", *args)


def rows_through(url: str) -> None:
    """A real client's rows, each answered within 10 s and none retried."""
    frame = pd.DataFrame({"n": range(200)})
    status = frame.es.produce("t", url=url, progress=False, retries=0, timeout=10)
    assert (status["status"] == "ok").all(), status["error"].value_counts()


@linux_only
def test_two_thousand_idle_connections_do_not_shut_out_a_real_client() -> None:
    proc, url = serve_with_a_common_soft_limit("--idle-timeout", "600")
    port = int(url.rsplit(":", 1)[1])
    idle: list[socket.socket] = []
    try:
        with open_files_soft_limit(4096):
            idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2000)]
            wait_until_accepted(proc.pid, idle)
            rows_through(url)
            # served while the idle connections were all still held
            assert none_closed(idle)
            assert httpx.get(f"{url}/_local/stats").json()["200"] == 200
    finally:
        for sock in idle:
            sock.close()
        proc.terminate()
        proc.communicate(timeout=30)


@linux_only
def test_five_hundred_slow_clients_do_not_shut_out_a_real_client() -> None:
    proc, url = serve_with_a_common_soft_limit("--request-timeout", "600")
    port = int(url.rsplit(":", 1)[1])
    slow: list[socket.socket] = []
    try:
        head = "POST /v2/topics/t/records HTTP/1.1\r\nHost: local\r\n"
        for _ in range(250):  # heads that never end
            slow.append(socket.create_connection(("127.0.0.1", port)))
            slow[-1].sendall(head.encode() + b"X-Slow: v")
        for _ in range(250):  # bodies that never end
            slow.append(socket.create_connection(("127.0.0.1", port)))
            body_head = head + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            slow[-1].sendall(body_head.encode() + b'{"value": ')
        wait_until_accepted(proc.pid, slow)
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/_local/stats").json().get("received", 0) < 250:
            assert time.monotonic() < deadline, "the slow bodies did not reach the route"
            time.sleep(0.05)
        rows_through(url)
        assert none_closed(slow)
    finally:
        for sock in slow:
            sock.close()
        proc.terminate()
        proc.communicate(timeout=30)
