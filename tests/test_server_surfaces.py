"""The three ways to run the server: console script, in-process helper, ASGI app."""

from __future__ import annotations

import asyncio
import base64
import socket
import subprocess
import sys

import httpx
import pandas as pd
import pytest
from starlette.testclient import TestClient

from es_pandas import LocalEventStreams
from es_pandas.server import ServerConfig, create_app
from es_pandas.server._run import bind_socket

from .conftest import start_server_process


def test_serve_command(tmp_path) -> None:
    proc, url = start_server_process(
        "--topic",
        "orders:3",
        "--topic",
        "audit",
        "--api-key",
        "cli-key",
        "--fault-script",
        "503x2,ok",
    )
    try:
        auth = {"X-Auth-Token": "cli-key"}
        assert httpx.get(f"{url}/_local/topics", headers=auth).json() == {"orders": 3, "audit": 1}
        statuses = [
            httpx.post(
                f"{url}/topics/orders/records",
                content="v",
                headers={**auth, "Content-Type": "text/plain"},
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [503, 503, 200, 200]
        assert httpx.post(f"{url}/topics/orders/records", content="v").status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert b"cli-key" not in err


def test_serve_prints_a_generated_key() -> None:
    proc, _url = start_server_process("--topic", "t")
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert b"export ES_PANDAS_API_KEY=" in err and b"generated" in err


SECRET = "chosen-secret-0123456789"


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (["--api-key", SECRET], {}, "export ES_PANDAS_API_KEY='<the key you gave --api-key>'"),
        (
            [],
            {"ES_PANDAS_SERVER_API_KEYS": f"other-key {SECRET}"},
            "export ES_PANDAS_API_KEY='<a key from ES_PANDAS_SERVER_API_KEYS>'",
        ),
        (
            ["--user", f"alice:{SECRET}"],
            {},
            "export ES_PANDAS_USER='<NAME of --user>' ES_PANDAS_PASSWORD='<PASSWORD of --user>'",
        ),
    ],
    ids=["api-key", "env", "user"],
)
def test_serve_says_how_to_connect_without_showing_the_credentials(
    monkeypatch, args: list[str], env: dict[str, str], line: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    proc, url = start_server_process("--topic", "t", "--log-level", "info", *args)
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    lines = err.decode().splitlines()
    assert f"  export ES_PANDAS_URL={url}" in lines
    assert f"  {line}" in lines
    assert SECRET not in err.decode() and "alice" not in err.decode()


def test_serve_without_auth_has_no_credentials_to_export() -> None:
    proc, _url = start_server_process("--topic", "t", "--no-auth")
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert b"export ES_PANDAS_URL=" in err and b"ES_PANDAS_API_KEY" not in err


def test_serve_rejects_bad_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "es_pandas", "serve", "--topic", "bad name:x"],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert b"--topic" in result.stderr


def test_in_process_helper() -> None:
    es = LocalEventStreams(topics={"orders": 2}, api_key="k")
    assert "not started" in repr(es)
    with es:
        assert es.url.startswith("http://127.0.0.1:")
        assert es.credentials["kafka_http_url"] == es.url
        assert es.credentials["apikey"] == "k"
        httpx.post(
            f"{es.url}/v2/topics/orders/records",
            json={
                "key": {"type": "text", "data": "a"},
                "value": {"type": "json", "data": '{"x": 1}'},
                "headers": [{"name": "h", "value": base64.b64encode(b"1").decode()}],
            },
            headers={"Authorization": "Bearer k"},
        )
        httpx.post(
            f"{es.url}/v2/topics/orders/records",
            json={"value": {"type": "json", "data": '{"x": 2}'}},
            headers={"Authorization": "Bearer k"},
        )
        raw = es.records("orders")
        text = es.records("orders", decode=True)
    # a record without a key reads None, decoded or not (decoded, it was NaN)
    assert [key for key in text["key"] if key != "a"] == [None]
    assert [key for key in raw["key"] if key != b"a"] == [None]
    assert list(raw.columns) == ["partition", "offset", "timestamp", "key", "value", "headers"]
    assert raw.loc[0, "key"] == b"a"
    assert text.loc[0, "value"] == '{"x": 1}'
    assert text.loc[0, "headers"] == [("h", "1")]
    assert isinstance(raw.loc[0, "timestamp"], pd.Timestamp)
    # stopped cleanly: the port no longer answers
    try:
        httpx.get(f"{es.url}/_local/topics", timeout=1)
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("server still answering after stop()")


def test_plain_asgi_app() -> None:
    app = create_app(ServerConfig(topics={"t": 1}, auth=False))
    with TestClient(app) as client:
        response = client.post(
            "/topics/t/records", content="v", headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 200
        assert client.get("/_local/topics/t/records").json()[0]["value"] == "dg=="


def test_asgi_app_under_another_server_drops_by_never_finishing() -> None:
    # Without uvicorn's abort hook the app starts a 500 and never sends its body.
    app = create_app(ServerConfig(topics={"t": 1}, auth=False))
    app.state.es.faults.script(["drop"])
    with TestClient(app) as client:
        response = client.post("/topics/t/records", content="v")
        assert (response.status_code, response.content) == (500, b"")
        assert client.get("/_local/topics/t/records").json() == []


def test_connections_to_the_server_send_small_writes_at_once() -> None:
    """Nagle's algorithm is off on every connection the server accepts, on asyncio's
    loop (uvicorn's without uvloop, which turns it off itself): left on, an answer's
    head and body, written apart, waited out the client's delayed ACK, about 40 ms a
    request on a kept-alive connection."""
    listening = bind_socket("127.0.0.1", 0)
    accepted: asyncio.Queue[asyncio.BaseTransport] = asyncio.Queue()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.put_nowait(transport)

    async def nodelay() -> int:
        # as uvicorn serves the sockets it is given
        server = await asyncio.get_running_loop().create_server(Accept, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname())
            transport = await accepted.get()
            option = transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY
            )
            writer.close()
            return option

    assert asyncio.run(nodelay()) != 0
