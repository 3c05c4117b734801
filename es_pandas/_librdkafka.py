"""librdkafka as es_pandas uses it: its settings from a run's options, one producer per
process and settings shared by the runs (polled by a thread of its own), a dry run's
stand-in for it, and its errors in a few words.

A producer is shared by the runs of a process that have the same settings (a Dask
worker runs many partitions; a Producer many calls) and kept for later runs; its thread
hands each run its delivery reports and errors (:class:`Listener`), and the run takes
them on its own event loop.

librdkafka logs to stderr by default, a line per reconnect attempt; its log goes to the
``es_pandas.librdkafka`` logger instead, silent unless the application configures it.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from .__version__ import __version__
from ._exceptions import ConfigurationError
from ._transports import TransportConfig
from ._transports._certs import trust_arguments

__all__ = [
    "DEFAULT_MESSAGE_MAX_BYTES",
    "LIBRDKAFKA_LOG",
    "Listener",
    "RecordingProducer",
    "SharedProducer",
    "confluent",
    "connection_failure",
    "kafka_config",
    "reason",
    "retire",
    "shared_producer",
]

LIBRDKAFKA_LOG = logging.getLogger("es_pandas.librdkafka")
LIBRDKAFKA_LOG.addHandler(logging.NullHandler())
# the run says what went wrong itself; reconnect attempts, hundreds a minute, are noise
# in an application's log unless it asks for them with a handler of its own
LIBRDKAFKA_LOG.propagate = False

_Headers = list[tuple[str, bytes]] | None
# librdkafka's "host:port/bootstrap: <what happened> (after 0ms in state CONNECT)"
_AROUND_REASON = re.compile(r"^\S+/\S+: | \(after \d+ms in state \w+\)$")
# the thread a log line comes from: "[thrd:ssl://host:port/bootstrap]: "
_LOG_THREAD = re.compile(r"^\[thrd:[^\]]*\]: ")
#: librdkafka's default ``message.max.bytes``, the limit when the broker does not say
DEFAULT_MESSAGE_MAX_BYTES = 1_000_000
#: producers kept for later runs, at most (a process rarely has more than one setting)
_KEPT = 4


def reason(error: Any) -> str:
    """What a librdkafka error says happened, without its broker and state."""
    return _AROUND_REASON.sub("", error.str())


#: "HTTP" read as the 4-byte size of a Kafka answer
_HTTP_AS_SIZE = f"Invalid response size {int.from_bytes(b'HTTP', 'big')} "


def connection_failure(failure: str) -> str:
    """A connection failure from librdkafka (its log or error), for a message, with what
    it often means: a TLS handshake that never finishes is a plaintext listener's
    silence; an answer "HTTP" bytes long (for which librdkafka says to raise
    receive.message.max.bytes) is an HTTP server's."""
    if "timed out in state SSL_HANDSHAKE" in failure:
        return (
            f"{failure}: the broker never answered the TLS handshake, as a plaintext "
            "listener does not (kafka_config's security.protocol sets the protocol)"
        )
    if _HTTP_AS_SIZE in failure:
        return (
            f"{failure}: the server answered in HTTP, not the Kafka protocol "
            "(bootstrap_servers names the Kafka brokers, kafka_brokers_sasl, not the "
            "REST API's kafka_http_url)"
        )
    return failure


class _ProducerLog:
    """One producer's librdkafka log (confluent-kafka calls its ``log``): passed on to
    :data:`LIBRDKAFKA_LOG`, with the last failure to connect kept, as librdkafka says
    why a connection failed only in its log (a TLS handshake that timed out, for one),
    while its errors say only that the brokers are down."""

    def __init__(self) -> None:
        self.failure: str | None = None

    def log(self, level: int, message: str, *args: Any) -> None:  # librdkafka's threads
        if len(args) == 3 and args[0] == "FAIL":
            self.failure = _AROUND_REASON.sub("", _LOG_THREAD.sub("", str(args[2])))
        LIBRDKAFKA_LOG.log(level, message, *args)


def confluent() -> Any:
    """confluent_kafka, or what to install to have it."""
    try:
        import confluent_kafka
        import confluent_kafka.admin
    except ImportError:
        raise ConfigurationError(
            "protocol='kafka' needs confluent-kafka: pip install 'eventstreams-pandas[kafka]'"
        ) from None
    return confluent_kafka


def kafka_config(
    options: Mapping[str, Any],
    credentials: Mapping[str, str],
    transport: TransportConfig,
) -> dict[str, Any]:
    """librdkafka's settings for a run: the brokers, an idempotent producer, SASL from
    the ``credentials`` (an API key as IBM Cloud takes it: PLAIN, user ``token``; a user
    and password as SCRAM-SHA-512, as on premises), TLS as ``transport`` says, the
    run's ``timeout`` and ``retries``; then ``options["kafka_config"]`` over them all."""
    own = dict(options["kafka_config"] or {})
    retries = options["retries"].retries
    config: dict[str, Any] = {
        "bootstrap.servers": options["bootstrap_servers"],
        "client.id": f"es-pandas/{__version__}",
        "enable.idempotence": True,
        "acks": "all",
        # Kafka's default partitioner, as Java clients and IBM's REST producer place keys:
        # librdkafka's own (CRC32) would put a key in another partition than the REST
        # API does, and a key's records sent both ways would lose their order.
        "partitioner": "murmur2_random",
        # A missing topic is an error to report, not one to create with the broker's
        # defaults (Event Streams creates none either).
        "allow.auto.create.topics": False,
        "request.timeout.ms": int(options["timeout"] * 1000),
        # A record gets the time that the REST engine gives a row with its retries.
        "message.timeout.ms": int(options["timeout"] * 1000 * (retries + 1)),
        # Connecting (TCP, TLS, SASL) within the timeout, as the REST engines do: with
        # librdkafka's own 30 s, a shorter timeout ended the run before a handshake
        # that never finishes was said to be one.
        "socket.connection.setup.timeout.ms": max(1000, int(transport.connect_timeout * 1000)),
    }
    if "token" in credentials or options["iam"]:
        raise ConfigurationError(
            "protocol='kafka' signs in with an API key or a user and password (SASL); "
            "a bearer token and iam=True are for the REST API"
        )
    api_key = credentials.get("api_key")
    user, password = credentials.get("user"), credentials.get("password")
    if api_key is None and user == "token":
        api_key = password
    if api_key is not None:
        config |= {"sasl.mechanism": "PLAIN", "sasl.username": "token", "sasl.password": api_key}
    elif user is not None and password is not None:
        config |= {"sasl.mechanism": "SCRAM-SHA-512", "sasl.username": user}
        config["sasl.password"] = password
    elif user is not None or password is not None:
        raise ConfigurationError("a user name needs a password (and a password a user name)")
    sasl = "sasl.mechanism" in config
    tls = sasl or transport.cert is not None or isinstance(transport.verify, str)
    protocol = own.get("security.protocol") or (
        ("SASL_SSL" if tls else "SASL_PLAINTEXT") if sasl else ("SSL" if tls else "PLAINTEXT")
    )
    config["security.protocol"] = protocol
    if "SSL" in str(protocol).upper():
        config |= _tls(transport)
    config |= own
    _check_timeouts(config, own, options["timeout"], retries)
    _check_config(config)
    return config


#: librdkafka's largest request.timeout.ms and message.timeout.ms
_REQUEST_TIMEOUT_MS = 900_000
_MESSAGE_TIMEOUT_MS = 2**31 - 1


def _check_timeouts(
    config: Mapping[str, Any], own: Mapping[str, Any], timeout: float, retries: int
) -> None:
    """The run's ``timeout`` and ``retries`` as librdkafka can take them, unless
    ``kafka_config`` (``own``) sets the timeouts itself."""
    if "request.timeout.ms" not in own and not (
        1 <= config["request.timeout.ms"] <= _REQUEST_TIMEOUT_MS
    ):
        raise ConfigurationError(
            f"protocol='kafka' takes a timeout from 0.001 to {_REQUEST_TIMEOUT_MS // 1000} s "
            f"(librdkafka's request.timeout.ms), not {timeout:g}"
        )
    if (
        not {"message.timeout.ms", "delivery.timeout.ms"} & own.keys()
        and config["message.timeout.ms"] > _MESSAGE_TIMEOUT_MS
    ):
        raise ConfigurationError(
            f"protocol='kafka' gives a record timeout x (retries + 1) seconds, at most "
            f"{_MESSAGE_TIMEOUT_MS // 1000:,} (librdkafka's message.timeout.ms), not "
            f"{timeout:g} x {retries + 1}"
        )


def _check_config(config: Mapping[str, Any]) -> None:
    """Refuse, before anything is read, the settings librdkafka would refuse when the
    run makes its producer: a producer is made with them but no brokers (it connects
    to nothing) and let go. Without confluent-kafka the run says it is missing."""
    try:
        kafka = confluent()
    except ConfigurationError:
        return
    probe = {key: value for key, value in config.items() if key != "bootstrap.servers"}
    try:
        kafka.Producer({**probe, "logger": LIBRDKAFKA_LOG})
    except kafka.KafkaException as exc:
        # librdkafka names the setting; a value it shows is one of a fixed kind
        # (a number, a choice), never a password
        raise ConfigurationError(
            f"librdkafka refuses the settings (kafka_config over es_pandas' own): "
            f"{exc.args[0].str().strip()}"
        ) from None


def _tls(transport: TransportConfig) -> dict[str, Any]:
    """librdkafka's TLS settings for what the REST engines take: the CA bundle (PEM or
    PKCS#12; certifi's by default, as for REST) and the client certificate."""
    out: dict[str, Any] = {}
    if transport.verify is False:
        out["enable.ssl.certificate.verification"] = False
    else:
        if isinstance(transport.verify, str):
            source = transport.verify
        else:
            import certifi

            source = certifi.where()
        trust = trust_arguments(source, transport.ca_password, "verify")
        out |= (
            {"ssl.ca.location": trust["cafile"]}
            if "cafile" in trust
            else {"ssl.ca.pem": trust["cadata"]}
        )
    cert = transport.cert
    if cert is not None:
        certificate, key = (cert, cert) if isinstance(cert, str) else cert
        if certificate.lower().endswith((".p12", ".pfx")):
            out["ssl.keystore.location"] = certificate
            if transport.cert_password:
                out["ssl.keystore.password"] = transport.cert_password
        else:
            out |= {"ssl.certificate.location": certificate, "ssl.key.location": key}
            if transport.cert_password:
                out["ssl.key.password"] = transport.cert_password
    return out


class Listener(Protocol):
    """A run using a shared producer: told on the poll thread that reports or errors
    wait for it."""

    def wake(self) -> None: ...

    def error(self, error: Any) -> None: ...


# -- producers shared in a process ---------------------------------------------------


class SharedProducer:
    """One librdkafka producer, the thread polling it, and the runs using it."""

    def __init__(self, config: Mapping[str, Any], run: Listener) -> None:
        kafka = confluent()
        self.log = _ProducerLog()
        self.producer = kafka.Producer({**config, "logger": self.log, "error_cb": self._error})
        # the first run hears the producer's first errors (no broker answers)
        self.runs: set[Listener] = {run}
        #: each topic's limit on a record (message.max.bytes), once looked up
        self.limits: dict[str, int] = {}
        self.broken: str | None = None
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="es-pandas-kafka", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        # a broken producer is polled until its last run ends; a later run gets a new one
        while not self._closing.is_set() and (self.broken is None or self.runs):
            self.producer.poll(0.1)
            for run in list(self.runs):
                run.wake()

    def _error(self, error: Any) -> None:  # on the poll thread
        if error.fatal():
            # librdkafka gives up on a fatal error: no later run may use this producer
            self.broken = error.str()
        for run in list(self.runs):
            run.error(error)

    def close(self) -> None:
        self._closing.set()
        self._thread.join(5)
        self.producer.flush(5)


_producers: collections.OrderedDict[str, SharedProducer] = collections.OrderedDict()
_producers_lock = threading.Lock()


def shared_producer(config: Mapping[str, Any], run: Listener) -> SharedProducer:
    """The process's producer for ``config``, made on first use; ``run`` uses it."""
    # a digest, not the settings: they hold the credentials
    digest = hashlib.sha256(repr(sorted(config.items())).encode()).hexdigest()
    with _producers_lock:
        shared = _producers.get(digest)
        if shared is not None and shared.broken is None:
            _producers.move_to_end(digest)
            shared.runs.add(run)
            return shared
        shared = _producers[digest] = SharedProducer(config, run)
        while len(_producers) > _KEPT:
            oldest = next((d for d, p in _producers.items() if not p.runs), None)
            if oldest is None:
                break
            _producers.pop(oldest).close()
        return shared


def retire(shared: SharedProducer) -> None:
    """Close ``shared`` once no run uses it, and make the next run with its settings
    build another: one that never reached a broker, or was refused, would otherwise go
    on connecting (with its credentials) for as long as the process lives."""
    with _producers_lock:
        if shared.runs:
            return
        for digest, kept in list(_producers.items()):
            if kept is shared:
                del _producers[digest]
    shared.close()


class RecordingProducer:
    """A dry run's producer: each record is remembered and reported written at once,
    at partition 0 and the next offset; nothing is connected to."""

    def __init__(self) -> None:
        self.records: dict[int, tuple[str, bytes | None, bytes, _Headers]] = {}
        self.runs: set[Listener] = set()
        self.limits: dict[str, int] = {}
        self.broken: str | None = None
        self.producer = self

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        *,
        headers: _Headers,
        on_delivery: Any,
    ) -> None:
        offset = len(self.records)
        self.records[offset] = (topic, key, value, headers)
        on_delivery(None, _Recorded(offset))
        for run in self.runs:
            run.wake()


class _Recorded:
    """The delivery report of a dry run's record."""

    def __init__(self, offset: int) -> None:
        self._offset = offset

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (0, 0)
