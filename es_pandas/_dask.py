"""``ddf.es``: the Dask DataFrame accessor; each partition is sent on the workers.

    import dask.dataframe as dd
    import es_pandas                     # registers ddf.es once dask.dataframe is loaded
    summary = ddf.es.produce("orders", key_col="order_id")

The options are resolved here, on the client, where the ``ES_PANDAS_*`` variables and
the credentials files are; the workers get them resolved, with the credentials, pickled
inside an object that shows and tokenizes without them (task names, reprs of the
graph, the dashboard). Each worker process builds one :class:`~es_pandas.Producer` for
them and sends every partition it is given with it.

``import es_pandas`` does not import Dask (that costs about half a second): where Dask
is installed, the accessor is registered as soon as ``dask.dataframe`` is imported,
before or after ``es_pandas``.

Longer than this project's ~400-line guide: the accessor, its shipping of options to the
workers and its import hook are one feature, read together.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import pickle
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import numpy as np
import pandas as pd

from . import _exceptions
from ._auth import Auth
from ._config import Settings, resolve
from ._deadletters import DeadLetters, drop_dead_letter_columns
from ._exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    EndpointError,
    PermissionDeniedError,
    ProduceAborted,
    ProduceError,
    ServiceUnavailable,
    TopicNotFoundError,
)
from ._options import PRODUCE_OPTIONS, check_options, parameters_doc
from ._producer import Producer
from ._progress import ProgressEvent
from ._reasons import group_alike
from ._status import (
    OTHER_ERRORS,
    REASONS_KEPT,
    STATUSES,
    Chunk,
    StatusBook,
    StatusFrame,
    Summary,
    Tally,
)
from ._wire.limits import check_topic
from ._wire.values import Unreadable

if TYPE_CHECKING:
    from typing import Unpack

    import dask.dataframe as dd

    from ._options import ProduceOptions

__all__ = ["DaskEventStreamsAccessor", "register_when_dask_loads"]

logger = logging.getLogger("es_pandas")

# Producers kept per worker process, by the options they were built for: a worker
# serving runs of several sets of options keeps a few, the least recently used dropped
# first. A Producer holds no connection between runs.
_PRODUCERS_KEPT = 8
_producers: OrderedDict[str, Producer] = OrderedDict()
# guards what a worker process keeps: its producers, and its calls' stops (_stops)
_worker_lock = threading.Lock()
# Keys the digest that names the shipped options in task keys and in the workers'
# producer cache: without it, a hash of options holding a short password could be
# tried against guesses. Never shipped.
_DIGEST_KEY = os.urandom(32)
_TALLY_COLUMNS = (*STATUSES, "maybe_duplicates", "held_keys", "dead_letters")

# Stops that say nothing about a partition's rows: every partition of the call would
# meet them, each after its own wait (a timeout, the service down for 30 s), so a
# worker that has met one stops the call's next partitions at once with it. A
# SchemaError can be a partition's own (its rows' inferred schema), so it is not here.
_RUN_WIDE = (
    AuthenticationError,
    PermissionDeniedError,
    TopicNotFoundError,
    EndpointError,
    ConnectionFailed,
    ServiceUnavailable,
)
# How long a worker holds a call's stop after a partition met it: the partitions of one
# compute that follow on the worker are stopped at once, while computing a lazy status
# again later (once the topic is created, say) tries afresh.
_STOP_HELD_SECONDS = 10.0
_stops: dict[str, tuple[str, str, float]] = {}
# Where the scheduler keeps each call's partitions' runs (its metadata); and what a row
# of a partition run again says when this run did not write it.
_RUNS = "es_pandas-runs"
_EARLIER_RUN = (
    "an earlier run of this partition may have written it (Dask ran the partition again: "
    "a worker was lost, or the status was computed again)"
)


class _Shipped:
    """A run's options as a worker needs them (resolved, with the credentials), pickled;
    it shows and tokenizes as a keyed digest of them, never as what they hold.

    Its token is the call's own too: two calls with the same frame, topic and options
    would otherwise make the same task keys, and the second, while the first's status
    is persisted, would be handed its results and send nothing."""

    __slots__ = ("call", "digest", "payload")

    def __init__(
        self, options: dict[str, Any], auth: Auth | None, kafka: Mapping[str, Any] | None
    ) -> None:
        import cloudpickle  # Dask's own: a header_cols callable may be a lambda

        self.payload = cloudpickle.dumps((options, auth, kafka))
        self.digest = hashlib.blake2b(self.payload, key=_DIGEST_KEY, digest_size=16).hexdigest()
        self.call = os.urandom(8).hex()

    def __repr__(self) -> str:
        return f"<es_pandas options {self.digest[:8]} (credentials not shown)>"

    def __dask_tokenize__(self) -> str:
        return f"{self.digest}-{self.call}"


def _ship(settings: Settings) -> _Shipped:
    """What a worker needs of ``settings``: every option set (the credentials file's
    included, the TLS passwords back in), and the credentials as their Auth (protocol
    kafka: in librdkafka's settings). Workers
    show no progress and raise nothing for rows not ok (the client does)."""
    options = {
        name: value
        for name, value in settings.options.items()
        if value is not None and name not in ("credentials", "dead_letter")
    }
    passwords = {
        "ca_password": settings.transport.ca_password,
        "cert_password": settings.transport.cert_password,
    }
    options |= {name: value for name, value in passwords.items() if value is not None}
    worker = options | {"progress": False, "errors": "collect"}
    return _Shipped(worker, settings.auth, settings.kafka)


def _producer(shipped: _Shipped) -> Producer:
    """This process's Producer for ``shipped``, built at its first partition."""
    with _worker_lock:
        producer = _producers.get(shipped.digest)
        if producer is None:
            options, auth, kafka = pickle.loads(shipped.payload)
            producer = _producers[shipped.digest] = Producer._resolved(options, auth, kafka)
            while len(_producers) > _PRODUCERS_KEPT:
                _producers.popitem(last=False)
        else:
            _producers.move_to_end(shipped.digest)
        return producer


def _produce_partition(
    frame: pd.DataFrame,
    topic: str,
    shipped: _Shipped,
    dead_letter: str | None,
    kinds: Mapping[Hashable, str] | None = None,
    partition_info: dict[str, Any] | None = None,
) -> StatusFrame:
    """One partition sent (on a worker); its status, even when its run stopped early."""
    frame = frame if kinds is None else _as_numbers_of(frame, kinds)
    number = 0 if partition_info is None else partition_info["number"]
    own = None if dead_letter is None else dead_letter.replace("*", str(number))
    producer = _producer(shipped)
    runs = _runs(shipped.call, number)
    earlier = runs is not None and runs.started()
    status = _sent(frame, topic, shipped, producer, own)
    if runs is not None:
        runs.ended(earlier or bool(status["status"].isin(["ok", "unknown"]).any()))
    return _after_earlier_run(status) if earlier else status


def _sent(
    frame: pd.DataFrame, topic: str, shipped: _Shipped, producer: Producer, own: str | None
) -> StatusFrame:
    stopped = _stop_met(shipped.call)
    if stopped is not None:
        kind, message = stopped
        why = f"not sent: another partition's run stopped ({kind}): {message}"
        return _not_sent(frame, producer, own, kind, message, why)
    try:
        return producer.produce(frame, topic, dead_letter=own)
    except ConfigurationError as exc:
        # Refused for this partition's own columns (its dtypes are its own; the Dask
        # frame's were checked on the client): raised, it would take every other
        # partition's status down with it, their rows sent. Its rows say why instead,
        # and the call raises once every partition has ended.
        why = f"not sent: this partition was refused: {exc}"
        return _not_sent(frame, producer, own, "ProduceAborted", str(exc), why)
    except ProduceError as exc:
        if isinstance(exc, _RUN_WIDE):
            with _worker_lock:
                _stops[shipped.call] = (type(exc).__name__, str(exc), time.monotonic())
        # Raised, it would take every other partition's status down with it: its rows
        # keep why instead (those never sent have no error of their own).
        status = exc.status
        unsaid = status["status"].eq("not_sent") & status["error"].isna()
        status["error"] = status["error"].mask(
            unsaid, f"the partition's run stopped ({type(exc).__name__}): {exc}"
        )
        if isinstance(exc, ProduceAborted):
            # raised on the client once every partition has ended (see produce)
            status.attrs["stopped"] = (type(exc).__name__, str(exc))
        return status


class _Runs:
    """The scheduler's word on the runs of one partition of a call: Dask runs a
    partition again when the worker running it, or holding its status, is lost (and
    when a lazy status is computed again), and an earlier run may have written its rows."""

    def __init__(self, client: Any, call: str, number: int) -> None:
        self._client = client
        self._path = [_RUNS, call, str(number)]

    def started(self) -> bool:
        """Marks this run as started; whether an earlier one may have written rows (it
        started and never ended, or it wrote some)."""
        earlier = self._client.get_metadata(self._path, None)
        self._client.set_metadata(self._path, "started")
        return earlier in ("started", "wrote")

    def ended(self, wrote: bool) -> None:
        self._client.set_metadata(self._path, "wrote" if wrote else "none")


def _runs(call: str, number: int) -> _Runs | None:
    """The runs of partition ``number`` of ``call``, on a dask.distributed worker (other
    schedulers lose no worker, and run a partition once a compute)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_client, get_worker

    try:
        get_worker()
    except ValueError:
        return None
    return _Runs(get_client(), call, number)


def _forget_runs(call: str) -> None:
    """Drops what the scheduler keeps of the runs of ``call``'s partitions, once its
    statuses are in (a lazy status's are kept as long as the cluster: it may be computed
    again)."""
    client = _distributed_client()
    if client is not None:
        client.set_metadata([_RUNS, call], {})


def _after_earlier_run(status: StatusFrame) -> StatusFrame:
    """The status of a partition run again after a run that may have written its rows:
    an ok row may be in Kafka twice (``maybe_duplicate``), and a row this run did not
    write may be there all the same (``unknown``, as a row whose answer was lost)."""
    ok = status["status"].eq("ok").to_numpy()
    status["maybe_duplicate"] = status["maybe_duplicate"].to_numpy() | ok
    lost = status["status"].isin(["failed", "not_sent"])
    why = status["error"].fillna("not sent").radd(f"{_EARLIER_RUN}; this run: ")
    status["error"] = status["error"].mask(lost, why)
    status["status"] = status["status"].mask(lost, "unknown")
    return status


def _stop_met(call: str) -> tuple[str, str] | None:
    """The run-wide stop a partition of ``call`` met on this worker in the last
    :data:`_STOP_HELD_SECONDS`, if one did."""
    now = time.monotonic()
    with _worker_lock:
        for each, (_, _, at) in list(_stops.items()):
            if now - at > _STOP_HELD_SECONDS:
                del _stops[each]
        if call not in _stops:
            return None
        kind, message, _ = _stops[call]
        return kind, message


def _not_sent(
    frame: pd.DataFrame,
    producer: Producer,
    dead_letter: str | None,
    kind: str,
    message: str,
    why: str,
) -> StatusFrame:
    """A partition none of whose rows is sent, ``why`` each row's error: it was refused,
    or another one of its call stopped with ``kind``, for a reason that is the run's.
    The call raises ``kind`` with ``message`` once every partition has ended. Its rows
    are its dead letters, as a run that stops writes its rows not sent."""
    tally = Tally()
    book = StatusBook(
        len(frame), tally, record_ids=producer.settings.options["record_id"] is not None
    )
    book.errors = dict.fromkeys(range(len(frame)), why)
    status = book.to_frame(frame.index)
    if dead_letter is not None:
        rows = drop_dead_letter_columns(frame)
        dead = DeadLetters(dead_letter, tally)
        try:
            dead.write(Chunk(rows, rows.index, book, rows=rows))
        finally:
            dead.close()
        status.attrs["dead_letters"] = (dead.path, tally.dead_letters)
    status.attrs["stopped"] = (kind, message)
    return status


def _number_kind(dtype: object) -> str | None:
    """ "i" for an int dtype (numpy's, nullable or Arrow), "f" for a float one, else None."""
    numpy_dtype = dtype if isinstance(dtype, np.dtype) else getattr(dtype, "numpy_dtype", None)
    if not isinstance(numpy_dtype, np.dtype) or numpy_dtype.kind not in "iuf":
        return None
    return "f" if numpy_dtype.kind == "f" else "i"


def _number_kinds(meta: pd.DataFrame) -> dict[Hashable, str]:
    """The Dask frame's int and float columns, each "i" or "f" (:func:`_number_kind`)."""
    kinds = {name: _number_kind(dtype) for name, dtype in meta.dtypes.items()}
    return {name: kind for name, kind in kinds.items() if kind is not None}


def _as_numbers_of(frame: pd.DataFrame, kinds: Mapping[Hashable, str]) -> pd.DataFrame:
    """``frame`` (a partition) with each column that is a float where the Dask frame's
    is an int, or an int where it is a float, as the Dask frame's: a partition's dtype
    is its own (files of two schemas; an int column with a null is float in pandas), and
    its ints would go as ``1`` from one partition and ``1.0`` from another. A value that
    the Dask frame's type cannot hold as it is (2.5 for an int, 2**53 + 1 for a float)
    rejects its row, naming the column, as a file's does."""
    out = frame
    for name, kind in kinds.items():
        if name not in frame.columns or not frame.columns.is_unique:
            continue
        column = frame[name]
        own = _number_kind(column.dtype)
        if own is None or own == kind:
            continue
        values = [
            None if pd.isna(value) else _held(value, kind, column.dtype)
            for value in column.tolist()
        ]
        if out is frame:
            out = frame.copy(deep=False)
        out[name] = pd.Series(values, index=column.index, dtype=object)
    return out


def _held(value: Any, kind: str, dtype: object) -> object:
    """A float ``value`` as an int (``kind`` "i"), or an int as a float ("f"); where
    that would change it, what rejects its row."""
    if kind == "i" and float(value).is_integer() and -(2**63) <= value < 2**64:
        return int(value)
    if kind == "f" and float(value) == value:
        return float(value)
    what = "an int" if kind == "i" else "a float"
    return Unreadable(
        f"{value!r} cannot be sent as {what}, the Dask frame's type of the column "
        f"(this partition's is {dtype})"
    )


def _check_columns(meta: pd.DataFrame, topic: str, options: Mapping[str, Any]) -> None:
    """What a run refuses in its frame's columns before sending anything (a key column
    it has not, a column sent whose dtype no value of can be sent, no value column
    left), refused for the Dask frame's, as df.es.produce refuses it: each partition's
    run would refuse it on the workers, once computed. An Avro schema inferred is
    each partition's, from its own rows: its checks stay there."""
    if "avro" in (options["value_format"], options["key_format"]):
        return
    # the run machinery loads when a run starts, not with es_pandas (which loads this
    # module for its import hook)
    from ._run import record_encoder

    version = "v1" if options["api_version"] == "v1" and options["protocol"] == "rest" else "v2"
    columns = drop_dead_letter_columns(meta)
    record_encoder(options, topic, columns.dtypes, version, sample=lambda: columns, nullable=True)


def _partition_tally(status: pd.DataFrame) -> pd.DataFrame:
    """A partition's status as one row of counts (and its errors, counted): what a
    summary needs, without the rows."""
    summary = StatusFrame(status).summary
    attrs = status.attrs
    # errors alike as one, with … for their values that differ: the summary groups them
    # again across partitions
    reasons = group_alike(summary.reasons)
    errors = reasons[:REASONS_KEPT]
    others: Counter[str] = Counter()
    for state, _, n in reasons[REASONS_KEPT:]:
        others[state] += n
    errors += [(state, OTHER_ERRORS, n) for state, n in others.items()]
    dead = attrs.get("dead_letters")
    row: dict[str, Any] = {
        **summary.counts,
        "maybe_duplicates": summary.maybe_duplicates,
        "held_keys": attrs.get("held_keys", 0),
        "dead_letters": 0 if dead is None else dead[1],
        "api_version": attrs.get("api_version"),
        "no_v2_route": bool(attrs.get("no_v2_route")),
        "errors": errors,
        "stopped": attrs.get("stopped"),
    }
    return pd.DataFrame({name: [value] for name, value in row.items()})


def _tally_meta() -> pd.DataFrame:
    columns: dict[str, pd.Series] = {name: pd.Series([], dtype="int64") for name in _TALLY_COLUMNS}
    columns["api_version"] = pd.Series([], dtype=object)
    columns["no_v2_route"] = pd.Series([], dtype=bool)
    columns["errors"] = pd.Series([], dtype=object)
    columns["stopped"] = pd.Series([], dtype=object)
    return pd.DataFrame(columns)


def _summary(tallies: pd.DataFrame, elapsed: float | None, dead_letter: str | None) -> Summary:
    """The partitions' tallies as one :class:`Summary`."""
    reasons: Counter[tuple[str, str]] = Counter()
    for errors in tallies["errors"]:
        for status, error, n in errors:
            reasons[status, error] += n
    versions = set(tallies["api_version"].dropna())
    return Summary(
        {name: int(tallies[name].sum()) for name in STATUSES},
        elapsed,
        reasons=reasons,
        api_version=versions.pop() if len(versions) == 1 else None,
        no_v2_route=bool(tallies["no_v2_route"].any()),
        dead_letters=None
        if dead_letter is None
        else (dead_letter, int(tallies["dead_letters"].sum())),
        held_keys=int(tallies["held_keys"].sum()),
        maybe_duplicates=int(tallies["maybe_duplicates"].sum()),
    )


def _compute(collections: Sequence[Any], bar: bool) -> tuple[Any, ...]:
    """``collections`` computed together (so each partition is sent once), under Dask's
    progress bar if ``bar``."""
    from dask.base import compute

    if not bar:
        return tuple(compute(*collections))
    client = _distributed_client()
    if client is None:
        from dask.diagnostics.progress import ProgressBar

        with ProgressBar():
            return tuple(compute(*collections))
    from distributed import progress

    futures = client.compute(list(collections))
    progress(futures)
    return tuple(client.gather(futures))


def _distributed_client() -> Any:
    """The dask.distributed client that computes (Dask's scheduler now), if one does."""
    if "distributed" not in sys.modules:
        return None
    from dask.base import get_scheduler
    from distributed import Client

    owner = getattr(get_scheduler(), "__self__", None)
    return owner if isinstance(owner, Client) else None


class DaskEventStreamsAccessor:
    """Send a Dask DataFrame's rows to IBM Event Streams from the workers:
    ``ddf.es.produce("orders")``; ``status.es.summary()`` counts a status frame."""

    def __init__(self, frame: dd.DataFrame) -> None:
        self._frame = frame

    @overload
    def produce(
        self,
        topic: str,
        *,
        compute: Literal[True] = True,
        producer: Producer | None = None,
        **options: Unpack[ProduceOptions],
    ) -> Summary: ...

    @overload
    def produce(
        self,
        topic: str,
        *,
        compute: Literal[False],
        producer: Producer | None = None,
        **options: Unpack[ProduceOptions],
    ) -> dd.DataFrame: ...

    def produce(
        self,
        topic: str,
        *,
        compute: bool = True,
        producer: Producer | None = None,
        **options: Unpack[ProduceOptions],
    ) -> Summary | dd.DataFrame:
        # here, not when computed: a graph to a topic that cannot exist is no graph
        check_topic(topic)
        checked = check_options(options, PRODUCE_OPTIONS)
        settings = resolve([checked]) if producer is None else producer._settings(checked, False)
        dead_letter = settings.options["dead_letter"]
        if dead_letter is not None and "*" not in dead_letter:
            raise ConfigurationError(
                f"dead_letter: each partition writes its own file, so the path needs a * "
                f"for the partition's number (as Dask's to_csv): not {dead_letter!r}"
            )
        # said here, as df.es.produce says it, not once a partition on the workers
        from ._run import check_index  # as record_encoder in _check_columns

        check_index(self._frame._meta, settings.options)
        _check_columns(self._frame._meta, topic, settings.options)
        meta = StatusBook(0, record_ids=settings.options["record_id"] is not None).to_frame(
            self._frame._meta.index
        )
        shipped = _ship(settings)
        status = self._frame.map_partitions(
            _produce_partition,
            topic,
            shipped,
            dead_letter,
            _number_kinds(self._frame._meta),
            meta=meta,
            token=f"es-produce-{topic}",
        )
        if not compute:
            return cast("dd.DataFrame", status)
        progress, errors = settings.options["progress"], settings.options["errors"]
        tallies = status.map_partitions(_partition_tally, meta=_tally_meta())
        wanted = [tallies] if errors != "raise" else [tallies, status[status["status"] != "ok"]]
        started = time.monotonic()
        try:
            computed = _compute(wanted, bar=progress is True)
        finally:
            _forget_runs(shipped.call)
        summary = _summary(computed[0], time.monotonic() - started, dead_letter)
        rate = summary.rate
        logger.info(
            "produce to topic %r with Dask, %s partitions: %s rows at %s rows/s; %s",
            topic,
            f"{status.npartitions:,}",
            f"{summary.total:,}",
            "-" if rate is None else f"{rate:,.0f}",
            summary,
        )
        if callable(progress):
            done = summary.total - summary.counts["not_sent"]
            progress(
                ProgressEvent(done, summary.total, summary.counts, summary.elapsed or 0.0, True)
            )
        not_ok = computed[1] if errors == "raise" else meta
        stopped = [each for each in computed[0]["stopped"] if each is not None]
        if stopped:
            # As df.es.produce raises a stopped run's error: refused credentials or an
            # unknown topic stop every partition alike, and are said once.
            kinds = {kind for kind, _ in stopped}
            if kinds == {"ConnectionFailed", "ServiceUnavailable"}:
                # a partition's run is its own: one started once the service had stopped
                # answering never reached it, the same outage
                kinds = {"ServiceUnavailable"}
            error = getattr(_exceptions, kinds.pop()) if len(kinds) == 1 else ProduceAborted
            first = next((said for kind, said in stopped if kind == error.__name__), stopped[0][1])
            raise error(
                f"{len(stopped)} of {status.npartitions} partitions stopped early, the "
                f"first with: {first}\n{summary}",
                not_ok,
                summary,
            )
        if errors == "raise" and summary.counts["ok"] != summary.total:
            raise ProduceError(
                f"not every row reached topic {topic!r}: {summary}\n{summary.why()}",
                not_ok,
                summary,
            )
        return summary

    def summary(self) -> Summary:
        """The counts of a status Dask DataFrame (``produce(..., compute=False)``'s),
        computed on the workers: no status row is collected. It has no time or rate
        (see ``StatusFrame.summary``), and computing it computes the status: persist
        a status you compute more than once, or its rows are sent again each time."""
        if "status" not in self._frame.columns:
            raise ValueError("summary counts a status frame: one from ddf.es.produce")
        tallies = self._frame.map_partitions(_partition_tally, meta=_tally_meta())
        (computed,) = _compute([tallies], bar=False)
        return _summary(computed, None, None)


DaskEventStreamsAccessor.produce.__doc__ = f"""Send each row as one record to ``topic``,
each partition from the worker that holds it; returns the run's :class:`Summary`, or with
``compute=False`` the status, lazily.

The options are those of ``df.es.produce``, resolved here (arguments, ``producer``, the
credentials files, the ``ES_PANDAS_*`` variables) and shipped to the workers, whose
environment adds nothing. Each worker process sends its partitions with one Producer.

Parameters
----------
topic : str
    The Event Streams (Kafka) topic.
compute : bool, default True
    Send now and return the :class:`Summary` (counted on the workers: no status row
    comes back). False: return the status as a Dask DataFrame, nothing sent until it is
    computed; every compute sends again, so persist it.
producer : Producer, optional
    Reusable settings, credentials and defaults; the options given here come first.
{parameters_doc(PRODUCE_OPTIONS)}

Each partition's run is its own: with ``errors="raise"`` every partition is sent all
the same, and the rows not ok are raised together once all have ended (only with
``compute=True``). A partition whose run stops early for its own rows (``SchemaError``:
its inferred schema refused) does not stop the others: its rows never sent stay
``not_sent``, with why as their ``error``. A stop that is the run's (refused credentials,
an unknown topic, an endpoint that does not answer, the service down) is met about once
per worker process: its partitions of the call that start in the next
{_STOP_HELD_SECONDS:g} s are not sent, each row saying why, rather than each waiting
out its own timeout. With ``compute=True`` the error is then
raised, as ``df.es.produce`` raises it (the same class if every partition that stopped
says the same; ``ServiceUnavailable`` if the others say ``ConnectionFailed``: they
started once the service had stopped answering; else ``ProduceAborted``), with the
:class:`Summary` as its ``summary``
and, with ``errors="raise"``, the rows not ok as its ``status`` (else no rows).
``dead_letter`` needs a ``*`` in its path, which each partition's number replaces.
``progress``: the workers show none; True shows Dask's progress bar, and a callable gets
one event at the end. With ``value_format="avro"``, give ``value_schema``: else each
partition infers its own, from its own rows.

Returns
-------
Summary
    With ``compute=True``: the counts of every partition, the run's time and rows/s.
dask.dataframe.DataFrame
    With ``compute=False``: the status frame's columns, on the input's partitions and
    index; ``.es.summary()`` counts it.
"""


def _register() -> None:
    from dask.dataframe.extensions import register_dataframe_accessor

    register_dataframe_accessor("es")(DaskEventStreamsAccessor)


class _DaskDataFrameHook(importlib.abc.MetaPathFinder):
    """Registers ``ddf.es`` once ``dask.dataframe`` has been loaded: finds the module as
    the other finders would, and runs the registration after its loader."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "dask.dataframe":
            return None
        spec = next(
            (
                found
                for finder in sys.meta_path
                if finder is not self and hasattr(finder, "find_spec")
                if (found := finder.find_spec(fullname, path, target)) is not None
            ),
            None,
        )
        loader = None if spec is None else spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_register(module: ModuleType) -> None:
            exec_module(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _register()

        # this spec's loader alone (finders make one per module found)
        loader.exec_module = exec_and_register  # type: ignore[method-assign]
        return spec


def register_when_dask_loads() -> None:
    """``ddf.es`` now if ``dask.dataframe`` is loaded, else once it is (if Dask is
    installed)."""
    if "dask.dataframe" in sys.modules:
        _register()
    elif importlib.util.find_spec("dask") is not None:
        sys.meta_path.insert(0, _DaskDataFrameHook())
