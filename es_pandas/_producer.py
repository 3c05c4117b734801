"""The :class:`Producer`: the one owner of ``produce``, ``aproduce``, ``produce_file`` and
their dry runs. Each resolves its settings and goes through one :class:`~._run.Run`;
``df.es`` and ``es_pandas.produce_file`` are thin fronts over it.

The run machinery (:mod:`._run` and what it brings: the engines, the Kafka protocol,
files and their journals) is imported by the methods that run, not with this module,
which ``import es_pandas`` loads: a notebook's start pays for it only when it sends.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

import pandas as pd

from ._config import AUTH_OPTIONS, KAFKA_OPTIONS, Settings, resolve
from ._exceptions import ConfigurationError
from ._options import FILE_OPTIONS, PRODUCE_OPTIONS, check_options, parameters_doc
from ._pressure import Pacer
from ._status import StatusFrame, Summary, Tally
from ._status_lock import StatusLock

if TYPE_CHECKING:
    from typing import Unpack

    from ._auth import Auth
    from ._options import FileOptions, ProduceOptions
    from ._run import Run

__all__ = ["Producer", "produce_doc", "produce_file"]


class Producer:
    """Reusable settings, credentials (an IAM token is shared) and default options, for
    many runs; each run opens and closes its own connections.

        >>> producer = Producer(credentials="service-key.json", max_rate=100)
        >>> status = producer.produce(df, "orders", key_col="order_id")
        >>> status = df.es.produce("orders", producer=producer)     # the same

    Every option of :meth:`produce` can be given here as a default; a call's options
    come first, then these, then the credentials file and the environment (see
    ``es_pandas.ENVIRONMENT_VARIABLES``), which are read here, once. Everything is
    checked here, so a missing URL or a credential that cannot work fails before any row
    is read. An IAM token is fetched once and shared by the calls, and ``max_rate``
    caps the calls together, however many run at once.
    """

    def __init__(self, url: str | None = None, /, **options: Unpack[ProduceOptions]) -> None:
        given: dict[str, Any] = dict(options)
        if url is not None:
            given["url"] = url
        self._given = check_options(given, PRODUCE_OPTIONS)
        self.settings = resolve([self._given])
        self._settled = _settled(self.settings)
        # whether each URL has the v2 route: api_version="auto" asks once per producer
        self._routes: dict[str, bool] = {}
        # its calls' max_rate caps them together, however many run at once
        self._pacer: Pacer | None = Pacer()

    @classmethod
    def _resolved(
        cls, options: Mapping[str, Any], auth: Auth | None, kafka: Mapping[str, Any] | None
    ) -> Producer:
        """A producer of options resolved in another process (a Dask client's: every
        option set there, checked, and its credentials as ``auth``, or for protocol
        kafka in librdkafka's settings, ``kafka``), so that this process's environment
        and files change none of them. A call's options go over them as over any
        producer's."""
        producer = cls.__new__(cls)
        producer._given = dict(options)
        producer.settings = resolve([producer._given], auth=auth, kafka=kafka)
        producer._settled = _settled(producer.settings)
        producer._routes = {}
        # a Dask worker's partitions keep a max_rate each, as they always have
        producer._pacer = None
        return producer

    def __repr__(self) -> str:
        settings = self.settings
        return (
            f"<Producer {settings.url} api_version={settings.options['api_version']} "
            f"auth={settings.auth!r}>"
        )

    @overload
    def produce(
        self,
        frame: pd.DataFrame,
        topic: str,
        /,
        *,
        dry_run: Literal[False] = False,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame: ...

    @overload
    def produce(
        self,
        frame: pd.DataFrame,
        topic: str,
        /,
        *,
        dry_run: Literal[True],
        **options: Unpack[ProduceOptions],
    ) -> pd.DataFrame: ...

    @overload
    def produce(
        self,
        frame: pd.DataFrame,
        topic: str,
        /,
        *,
        dry_run: bool,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame | pd.DataFrame: ...

    def produce(
        self,
        frame: pd.DataFrame,
        topic: str,
        /,
        *,
        dry_run: bool = False,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame | pd.DataFrame:
        from ._run import run_blocking

        run = self._run(topic, options, dry_run, len(frame))
        return run_blocking(functools.partial(run.frame, frame), run.interrupted, run.stop)

    @overload
    async def aproduce(
        self,
        frame: pd.DataFrame,
        topic: str,
        /,
        *,
        dry_run: Literal[False] = False,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame: ...

    @overload
    async def aproduce(
        self,
        frame: pd.DataFrame,
        topic: str,
        /,
        *,
        dry_run: Literal[True],
        **options: Unpack[ProduceOptions],
    ) -> pd.DataFrame: ...

    @overload
    async def aproduce(
        self,
        frame: pd.DataFrame,
        topic: str,
        /,
        *,
        dry_run: bool,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame | pd.DataFrame: ...

    async def aproduce(
        self,
        frame: pd.DataFrame,
        topic: str,
        /,
        *,
        dry_run: bool = False,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame | pd.DataFrame:
        run = self._run(topic, options, dry_run, len(frame))
        return await run.frame(frame)

    @overload
    def produce_file(
        self,
        path: str | os.PathLike[str],
        topic: str,
        /,
        *,
        dry_run: Literal[False] | Callable[[pd.DataFrame], object] = False,
        **options: Unpack[FileOptions],
    ) -> Summary: ...

    @overload
    def produce_file(
        self,
        path: str | os.PathLike[str],
        topic: str,
        /,
        *,
        dry_run: Literal[True],
        **options: Unpack[FileOptions],
    ) -> pd.DataFrame: ...

    @overload
    def produce_file(
        self,
        path: str | os.PathLike[str],
        topic: str,
        /,
        *,
        dry_run: bool | Callable[[pd.DataFrame], object],
        **options: Unpack[FileOptions],
    ) -> Summary | pd.DataFrame: ...

    def produce_file(
        self,
        path: str | os.PathLike[str],
        topic: str,
        /,
        *,
        dry_run: bool | Callable[[pd.DataFrame], object] = False,
        **options: Unpack[FileOptions],
    ) -> Summary | pd.DataFrame:
        checked = check_options(options, (*PRODUCE_OPTIONS, *FILE_OPTIONS))
        settings = self._settings(
            {k: v for k, v in checked.items() if k in PRODUCE_OPTIONS}, dry_run
        )
        tally = Tally()
        # before the status files are read, and until they are written whole
        lock = StatusLock(checked.get("status_out"), checked.get("resume"))
        try:
            return self._produce_file(path, topic, dry_run, settings, tally, checked)
        finally:
            lock.release()

    def _produce_file(
        self,
        path: str | os.PathLike[str],
        topic: str,
        dry_run: bool | Callable[[pd.DataFrame], object],
        settings: Settings,
        tally: Tally,
        checked: Mapping[str, Any],
    ) -> Summary | pd.DataFrame:
        from ._files import FileLoad
        from ._run import Run, run_blocking

        load = FileLoad(
            os.path.expanduser(os.fspath(path)),
            settings.options["chunksize"],
            tally,
            key_col=settings.options["key_col"],
            topic=topic,
            record_ids=settings.options["record_id"] is not None,
            dead_letter=settings.options.get("dead_letter"),
            in_flight=settings.options["concurrency"],
            **{k: v for k, v in checked.items() if k in FILE_OPTIONS},
        )
        try:
            # Opened (a FIFO waits for its writer) and counted here, where Ctrl-C ends
            # the wait; and where a Ctrl-C that does leaves no journal behind.
            load.open()
            run = Run(
                settings,
                topic,
                dry_run,
                load.total,
                f"{load.name} -> {topic}",
                tally,
                self._routes,
                self._pacer,
            )
            summary = run_blocking(
                functools.partial(run.file, load),
                functools.partial(run.file_interrupted, load),
                run.stop,
                wake=load.interrupt,
            )
        except BaseException:
            # The run's exception says what happened, with its rows' status: closing
            # the files after a full disk fails again, and must not take its place.
            with contextlib.suppress(OSError):
                load.close()
            raise
        load.close()
        return summary

    def _settings(self, overrides: Mapping[str, Any], dry_run: object) -> Settings:
        """This producer's settings with ``overrides`` first; its credentials (and IAM
        token) are reused unless the overrides touch them."""
        settings = self.settings
        if overrides:
            reuse = not any(name in overrides for name in AUTH_OPTIONS)
            auth = self.settings.auth if reuse else None
            # librdkafka's settings hold the timeouts and TLS files too
            same_kafka = reuse and not any(name in overrides for name in KAFKA_OPTIONS)
            kafka = self.settings.kafka if same_kafka else None
            # With its credentials kept (protocol kafka: in librdkafka's settings), every
            # option as this producer settled them: its credentials file and the
            # environment are read once, as it is made, not at each call (a file rotated
            # or gone under a service would send the new file's URL the old credentials,
            # or fail calls that passed key_col only).
            kept = kafka is not None if self.settings.kafka is not None else reuse
            base = self._settled if kept else self._given
            settings = resolve([overrides, base], auth=auth, kafka=kafka)
        if dry_run and settings.options.get("dead_letter"):
            raise ConfigurationError(
                "dead_letter: a dry run sends nothing, so it writes no dead letters"
            )
        return settings

    def _run(self, topic: str, options: Mapping[str, Any], dry_run: bool, rows: int) -> Run:
        from ._run import Run

        settings = self._settings(check_options(options, PRODUCE_OPTIONS), dry_run)
        description = f"{settings.url} topic {topic!r}"
        return Run(
            settings, topic, dry_run, rows, description, routes=self._routes, pacer=self._pacer
        )


def _settled(settings: Settings) -> dict[str, Any]:
    """Every option ``settings`` set, wherever it came from (the credentials file, the
    environment, a default), the TLS passwords back in: what a call that leaves the
    credentials alone goes by under its own options."""
    options = {
        name: value
        for name, value in settings.options.items()
        if value is not None and name != "credentials"
    }
    passwords = {
        "ca_password": settings.transport.ca_password,
        "cert_password": settings.transport.cert_password,
    }
    return options | {name: value for name, value in passwords.items() if value is not None}


def produce_doc(before: str = "", after: str = "") -> str:
    """The docstring of a produce front; ``before`` and ``after`` document its own
    parameters around the topic and the options."""
    return f"""Send each row as one record to ``topic``; one status row per input row.

Parameters
----------
{before}topic : str
    The Event Streams (Kafka) topic.
{after}dry_run : bool, default False
    Return the requests that would be sent (secrets masked), one row per input row,
    instead of sending them.
{parameters_doc(PRODUCE_OPTIONS)}

Returns
-------
StatusFrame
    On the input's index: ``status`` (ok, failed, unknown, rejected, not_sent),
    ``http_status``, ``partition``, ``offset``, ``timestamp``, ``error``, ``trace``,
    ``attempts``, ``latency_ms``, ``maybe_duplicate``; ``.summary`` counts them.

Raises
------
ConfigurationError
    Unusable options, no URL, unusable credentials, unknown columns, columns that
    cannot be sent (period, interval, complex): before anything is sent.
AuthenticationError, PermissionDeniedError, TopicNotFoundError, EndpointError, ConnectionFailed,
ServiceUnavailable
    The run stopped early; ``.status`` holds the frame (the rest ``not_sent``).
ProduceError
    With ``errors="raise"``, when any row is not ok.
ProduceInterrupted
    Ctrl-C; ``.status`` holds the partial frame.

Examples
--------
Against a local Event Streams (for IBM Cloud, ``credentials="service-key.json"``, or the
``ES_PANDAS_*`` variables, in place of ``url`` and ``api_key``); the rows not written are
sent again and their new status taken in (``unknown`` rows are left out: they may be in
Kafka already):

>>> import pandas as pd
>>> import es_pandas
>>> orders = pd.DataFrame({{"order_id": ["00042", "00043"], "amount": [9.5, None]}})
>>> with es_pandas.LocalEventStreams(topics={{"orders": 3}}) as es:
...     connection = {{"url": es.url, "api_key": es.api_key, "progress": False}}
...     status = orders.es.produce("orders", key_col="order_id", **connection)
...     again = status["status"].isin(["failed", "rejected", "not_sent"])
...     if again.any():
...         retry = orders[again].es.produce("orders", key_col="order_id", **connection)
...         status.update(retry)
...     records = es.read("orders")
>>> status["status"].tolist()
['ok', 'ok']
>>> sorted((record.key, record.value) for record in records)
[(b'00042', b'{{"amount":9.5}}'), (b'00043', b'{{"amount":null}}')]
"""


Producer.produce.__doc__ = produce_doc(before="frame : DataFrame\n")
Producer.aproduce.__doc__ = """:meth:`produce` on the running event loop; the same options.

Cancelling the awaiting task (a kernel interrupt of a cell awaiting it) cancels the
requests in flight and propagates ``CancelledError``, whose ``.status`` holds the partial
frame, as ``ProduceInterrupted``'s does: rows in flight are ``unknown`` (they may have been
written), rows never sent ``not_sent``."""
Producer.produce_file.__doc__ = f"""Send every row of a CSV, TSV, JSON Lines or Parquet file
(``"-"``: CSV on stdin) as one record, ``chunksize`` rows at a time.

Takes the options of :meth:`produce`, and:

{parameters_doc(FILE_OPTIONS)}

``dry_run=True`` returns the requests as a DataFrame indexed by row number instead of
sending them; a callable as ``dry_run`` is given each chunk's requests in file order
instead (for files too large to hold), and the :class:`Summary` counts them as ``ok``
(would be sent) or ``rejected``, and reads ``dry run: N requests, M rows rejected``.

Returns the run's :class:`Summary`.
"""


@overload
def produce_file(
    path: str | os.PathLike[str],
    topic: str,
    *,
    producer: Producer | None = None,
    dry_run: Literal[False] | Callable[[pd.DataFrame], object] = False,
    **options: Unpack[FileOptions],
) -> Summary: ...


@overload
def produce_file(
    path: str | os.PathLike[str],
    topic: str,
    *,
    producer: Producer | None = None,
    dry_run: Literal[True],
    **options: Unpack[FileOptions],
) -> pd.DataFrame: ...


@overload
def produce_file(
    path: str | os.PathLike[str],
    topic: str,
    *,
    producer: Producer | None = None,
    dry_run: bool | Callable[[pd.DataFrame], object],
    **options: Unpack[FileOptions],
) -> Summary | pd.DataFrame: ...


def produce_file(
    path: str | os.PathLike[str],
    topic: str,
    *,
    producer: Producer | None = None,
    dry_run: bool | Callable[[pd.DataFrame], object] = False,
    **options: Unpack[FileOptions],
) -> Summary | pd.DataFrame:
    if producer is None:
        given = {k: v for k, v in options.items() if k in PRODUCE_OPTIONS}
        producer = Producer(**given)  # type: ignore[arg-type]
        # the rest, unknown keywords included: produce_file refuses those by name
        options = {k: v for k, v in options.items() if k not in PRODUCE_OPTIONS}  # type: ignore[assignment]
    return producer.produce_file(path, topic, dry_run=dry_run, **options)


produce_file.__doc__ = (
    (Producer.produce_file.__doc__ or "")
    + """
``producer`` (a :class:`Producer`) gives reusable settings, credentials and defaults.
This is the Python twin of ``es-pandas produce``.
"""
)
