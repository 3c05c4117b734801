"""A run: the one routine that sends (:meth:`Run.send`), for a frame, a file or a dry run.

:class:`~es_pandas.Producer` builds a :class:`Run` for every call and goes through it:
the encoder, the transport (a recording one for a dry run), the engine, the progress
reporter, then the outcome. :func:`run_blocking` runs it from synchronous code, scripts
and Jupyter alike, with Ctrl-C.

Longer than this project's ~400-line guide on purpose: the one routine every surface
goes through, with what it does for a frame, a file and a dry run, stays in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import asdict
from typing import Any, Literal, TypeVar, cast

import pandas as pd

from ._auth import StaticAuth
from ._config import Settings
from ._deadletters import DeadLetters, drop_dead_letter_columns
from ._engine import Batch, Engine
from ._exceptions import (
    ConfigurationError,
    EventStreamsError,
    ProduceAborted,
    ProduceError,
    ProduceInterrupted,
)
from ._files import FileLoad
from ._kafka import KafkaEngine
from ._librdkafka import RecordingProducer
from ._outcomes import Abort
from ._pressure import Pacer
from ._progress import ProgressEvent, make_reporter
from ._status import OK, REJECTED, Chunk, StatusBook, StatusFrame, Summary, Tally
from ._transports import (
    DEFAULT_HEADERS,
    AsyncTransport,
    MockTransport,
    Response,
    build_transport,
)
from ._wire import Limits, RejectedRow
from ._wire.records import RecordEncoder

__all__ = ["Run", "check_index", "record_encoder", "run_blocking"]

logger = logging.getLogger("es_pandas")
T = TypeVar("T")
_TICK_SECONDS = 0.2
#: how long the first Ctrl-C waits for the answers to the requests in flight
GRACE_SECONDS = 1.0
_HEADERS = {"Accept": "application/json", **DEFAULT_HEADERS}
_PLAN_COLUMNS = ["method", "url", "headers", "body", "error"]
_KAFKA_PLAN_COLUMNS = ["topic", "key", "headers", "value", "error"]
_SECRET_HEADERS = ("authorization", "x-auth-token", "proxy-authorization")


class Run:
    """One run's moving parts: settings, the running tally, the progress reporter."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        dry_run: bool | Callable[[pd.DataFrame], object],
        total: int | None,
        description: str,
        tally: Tally | None = None,
        routes: dict[str, bool] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.dry_run = dry_run
        self.total = total
        self.description = description
        self.tally = tally or Tally()
        self.tally.dry_run = bool(dry_run)
        #: whether each URL has the v2 route, as found out by "auto" (a Producer's
        #: runs share it: a route does not come and go between calls)
        self._routes = {} if routes is None else routes
        #: spaces the starts of a Producer's runs together, by their max_rate
        self._pacer = pacer
        #: why the run stopped early, and the exception behind it (set by send)
        self.abort: Abort | None = None
        self.cause: BaseException | None = None
        self._engine: Engine | KafkaEngine | None = None
        self._stopping = False
        self._recorded: dict[int, tuple[str, str, dict[str, str], bytes]] = {}
        self._recorder: RecordingProducer | None = None
        self._offsets = itertools.count()
        self._book: StatusBook | None = None
        self._load: FileLoad | None = None
        self._index: pd.Index | None = None
        # Made here, on the caller's thread: Jupyter shows a widget in the cell whose
        # thread displays it, and the run itself goes on a helper thread.
        progress = None if dry_run else settings.options.get("progress")
        self._reporter = make_reporter(False if dry_run else progress, total, self.description)
        self._reporting = True

    # -- the one routine -----------------------------------------------------------

    async def send(
        self,
        dtypes: pd.Series,
        chunks: Iterator[Chunk],
        chunk_done: Callable[[Chunk], None] | None = None,
        *,
        sample: Callable[[], pd.DataFrame],
        nullable: bool = False,
    ) -> None:
        """Encode and send every chunk; ``abort`` says why if the run stopped early.
        An Avro schema not given is inferred from ``sample()`` (``nullable``: every
        field nullable, as the sample is not every row).

        A problem found before anything is sent (options, columns, the engine) raises
        as it is; anything that goes wrong later ends the run as an abort, so that the
        exception the caller raises carries the status of every row."""
        options = self.settings.options
        version = options["api_version"]
        # "auto" is settled by asking the endpoint below; a dry run asks nothing, and
        # shows the v2 requests it would try first.
        infer = functools.partial(self._encoder, dtypes, sample=sample, nullable=nullable)
        kafka = options["protocol"] == "kafka"
        # Built first, for the Kafka protocol too: what it refuses is refused before a
        # connection is made.
        encoder = (
            infer("kafka", limits=self._kafka_limits())
            if kafka
            else infer("v2" if version == "auto" else version)
        )
        transport = None if kafka else self._transport()
        engine: Engine | KafkaEngine = (
            self._kafka_engine()
            if transport is None
            else Engine(
                url=self.settings.url,
                transport=transport,
                auth=StaticAuth(self.settings.auth.shown_headers())
                if self.dry_run and self.settings.auth is not None
                else self.settings.auth,
                retry=self.settings.retry,
                concurrency=options["concurrency"],
                max_rate=None if self.dry_run else options["max_rate"],
                fail_after=options["fail_after"],
                headers=_HEADERS,
                success_body=options["success_body"],
                ordered=options["ordering"] == "key",
                hold_keys=options["on_key_error"] == "hold",
                pacer=self._pacer,
                hung_after=None
                if self.dry_run or isinstance(options["engine"], str)
                else 2 * self.settings.transport.timeout,
            )
        )
        if self._stopping:
            engine.stop()
        self._engine = engine
        ticker = asyncio.ensure_future(self._tick())
        try:
            if isinstance(engine, KafkaEngine):
                limit = await engine.connect()
                self.tally.api_version = "kafka"
                if limit != self._kafka_limits().max_value_bytes:
                    encoder = infer("kafka", limits=Limits(max_value_bytes=limit))
                if engine.abort is None:
                    await engine.run(self._batches(chunks, encoder, chunk_done))
            else:
                if version == "auto" and not self.dry_run:
                    url = self.settings.url
                    if url not in self._routes:
                        found = await engine.has_v2_route(encoder.path)
                        if found is not None:
                            self._routes[url] = found
                    if not self._routes.get(url, True):
                        encoder = infer("v1")
                        self.tally.no_v2_route = True  # said in the summary, and so in the log
                self.tally.api_version = "v1" if version == "v1" or self.tally.no_v2_route else "v2"
                await engine.run(self._batches(chunks, encoder, chunk_done))
        except Exception as exc:
            self.cause = exc
            # es_pandas' own errors (a file that cannot be read on) say what happened
            said = isinstance(exc, EventStreamsError)
            engine.abort = engine.abort or Abort(
                ProduceAborted, str(exc) if said else f"the run failed: {type(exc).__name__}: {exc}"
            )
        finally:
            self.tally.held_keys = engine.held_keys
            self.tally.slowdown = engine.pressure.slowdown()
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            if transport is not None:
                try:
                    await transport.aclose()
                except Exception:
                    # Every row's outcome is known by now: a failing close costs nothing more.
                    logger.warning(
                        "closing the %s engine failed", type(transport).__name__, exc_info=True
                    )
            self._end_progress()
            if not self.dry_run:
                logger.info("produce to %s: %s", self.description, self.tally.summary())
        self.abort = engine.abort

    def _end_progress(self) -> None:
        """Close the progress reporter, once: at the end of the run, or as the run is
        refused before sending (else Jupyter's bar stays at 0% above the error, as if
        the run went on, and a terminal's takes the error onto its line)."""
        if self._reporting:
            self._reporting = False
            self._reporter.close(self._event(finished=True), str(self.tally.summary()))

    def _kafka_limits(self) -> Limits:
        """The Kafka protocol's limit as librdkafka has it, before the broker says its own."""
        assert self.settings.kafka is not None
        return Limits(max_value_bytes=KafkaEngine.client_limit(self.settings.kafka))

    def _kafka_engine(self) -> KafkaEngine:
        options, config = self.settings.options, self.settings.kafka
        assert config is not None
        if self.dry_run:
            self._recorder = RecordingProducer()
        return KafkaEngine(
            topic=self.topic,
            config=config,
            where=options["bootstrap_servers"],
            fail_after=options["fail_after"],
            max_rate=None if self.dry_run else options["max_rate"],
            timeout=options["timeout"],
            recorder=self._recorder,
            pacer=self._pacer,
        )

    def stop(self) -> None:
        """The first Ctrl-C: no more rows go out; those in flight end as answered."""
        self._stopping = True
        if self._engine is not None:
            self._engine.stop()

    def _encoder(
        self,
        dtypes: pd.Series,
        api_version: str,
        *,
        sample: Callable[[], pd.DataFrame],
        nullable: bool,
        limits: Limits | None = None,
    ) -> RecordEncoder:
        """The encoder of rows whose columns and their dtypes are ``dtypes`` (with
        ``limits``, instead of the options')."""
        base_path = self.settings.url.split("://", 1)[1].partition("/")[2]
        options = self.settings.options
        return record_encoder(
            options if limits is None else {**options, "limits": limits},
            self.topic,
            dtypes,
            api_version,
            sample=sample,
            nullable=nullable,
            base_path="/" + base_path if base_path else "",
        )

    def _transport(self) -> AsyncTransport:
        if self.dry_run:
            return MockTransport(self._record, self.settings.transport)
        return build_transport(self.settings.options["engine"], self.settings.transport)

    def _batches(
        self,
        chunks: Iterator[Chunk],
        encoder: RecordEncoder,
        chunk_done: Callable[[Chunk], None] | None,
    ) -> Iterator[Batch]:
        """Each chunk encoded (rejected rows straight into its book) as the engine
        needs it, so a frame or file is never turned into requests all at once."""
        for chunk in chunks:
            assert chunk.frame is not None
            records = []
            rejected = []
            rows = chunk.index.to_numpy() if chunk.journal is not None else None
            ids = chunk.book.record_ids
            for item in encoder.encode(chunk.frame, chunk.start, chunk.problems):
                if isinstance(item, RejectedRow):
                    chunk.book.fail(item.position, REJECTED, item.error)
                    if item.key:
                        rejected.append(item)
                    if chunk.journal is not None:
                        # else, within the in-flight mark, it would read as maybe sent
                        assert rows is not None
                        chunk.journal.ended(int(rows[item.position]), chunk.book, item.position)
                else:
                    records.append(item)
                    if item.record_id is not None:
                        assert ids is not None
                        ids[item.position] = item.record_id
            chunk.frame = None
            done = None if chunk_done is None else functools.partial(chunk_done, chunk)
            yield Batch(chunk.book, records, done, chunk.resent, chunk.journal, rows, rejected)

    def _record(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Response:
        """The dry run's server: remembers each request, under the offset it answers."""
        offset = next(self._offsets)
        self._recorded[offset] = (method, url, dict(headers), body)
        answer = b'{"metadata":{"partition":0,"offset":%d,"timestamp":"0"}}' % offset
        return Response(200, {"content-type": "application/json"}, answer)

    # -- a DataFrame -----------------------------------------------------------------

    def _dead_letters(self, columns: pd.Index) -> DeadLetters | None:
        """The writer of a frame's dead letters, if the run has ``dead_letter``."""
        path = self.settings.options.get("dead_letter")
        if path is None:
            return None
        dead = DeadLetters(path, self.tally)
        dead.check_columns(columns)
        return dead

    async def frame(self, frame: pd.DataFrame) -> StatusFrame | pd.DataFrame:
        try:
            return await self._frame(frame)
        except asyncio.CancelledError as exc:
            # The awaiting task was cancelled (a kernel interrupt of `await aproduce`):
            # the cancellation goes on, as asyncio's callers expect, carrying what
            # became of each row, as ProduceInterrupted does for produce().
            if self._book is not None:
                status = self._book.to_frame(self._index, self.tally.summary().elapsed)
                exc.status = status  # type: ignore[attr-defined]
                exc.add_note(f"es_pandas: {status.summary}; each row's status is in .status")
            raise
        finally:
            self._end_progress()

    async def _frame(self, frame: pd.DataFrame) -> StatusFrame | pd.DataFrame:
        size = self.settings.options["chunksize"]
        frame = drop_dead_letter_columns(frame)
        check_index(frame, self.settings.options)
        if not frame.index.is_unique:
            # said before anything is sent: the retry recipe would fail only after
            logger.warning(
                "the frame's index has duplicate labels, and so will its status frame: "
                "status.update() cannot match a retry's rows back to it by label; "
                "frame.reset_index() keeps the labels as a column"
            )
        ids = self.settings.options["record_id"] is not None
        book = self._book = StatusBook(len(frame), self.tally, record_ids=ids)
        self._index = frame.index
        dead = self._dead_letters(frame.columns)
        # slices of the frame, not copies: made up front, as the dead letters of chunks
        # never reached (not_sent) are written too
        chunks = [
            Chunk(frame.iloc[at : at + size], frame.index[at : at + size], book, at)
            for at in range(0, len(frame), size)
        ]

        # an Avro schema inferred for a frame is inferred from all of it
        def whole() -> pd.DataFrame:
            return frame

        if dead is None:
            await self.send(frame.dtypes, iter(chunks), sample=whole)
        else:
            for chunk in chunks:
                chunk.rows = chunk.frame
            try:
                await self.send(frame.dtypes, iter(chunks), dead.chunk_done, sample=whole)
            finally:
                try:
                    dead.flush(chunks)
                finally:
                    dead.close()
        status = book.to_frame(frame.index, self.tally.summary().elapsed)
        status.attrs.update(
            api_version=self.tally.api_version,
            no_v2_route=self.tally.no_v2_route,
            held_keys=self.tally.held_keys,
            slowdown=None if self.tally.slowdown is None else asdict(self.tally.slowdown),
        )
        if dead is not None:
            status.attrs["dead_letters"] = (dead.path, self.tally.dead_letters)
        self.finish(status)
        return self.plan(book, frame.index) if self.dry_run else status

    def finish(self, status: StatusFrame, summary: Summary | None = None) -> None:
        """Raise what ended the run, or (with errors="raise") that rows are not ok."""
        summary = summary or self.tally.summary()
        if self.abort is not None:
            done = summary.total - summary.counts["not_sent"]
            rest = "" if done == summary.total else " (the rest are not_sent)"
            if summary.unread_from is not None:
                rest += f"; the file's rows from {summary.unread_from:,} on were not read"
            raise self.abort.error(
                f"{self.abort.message}; stopped after {done:,} of {summary.total:,} rows{rest}",
                status,
                summary,
            ) from self.cause or self.abort.cause
        not_ok = summary.counts["ok"] != summary.total
        if not_ok and self.settings.options["errors"] == "raise" and not self.dry_run:
            raise ProduceError(
                f"not every row reached {self.description}: {summary}\n{summary.why()}",
                status,
                summary,
            )

    def interrupted(self) -> ProduceInterrupted:
        book = self._book or StatusBook(0)
        summary = self.tally.summary()
        # the time too, as a cancelled aproduce's frame has it
        return ProduceInterrupted(book.to_frame(self._index, summary.elapsed), summary)

    # -- a file ------------------------------------------------------------------------

    async def file(self, load: FileLoad) -> Summary | pd.DataFrame:
        self._load = load
        try:
            return await self._file(load)
        finally:
            self._end_progress()

    async def _file(self, load: FileLoad) -> Summary | pd.DataFrame:
        dtypes, chunks = load.chunks()
        plans: list[pd.DataFrame] = []
        if self.dry_run:
            show: Callable[[pd.DataFrame], object] = (
                self.dry_run if callable(self.dry_run) else plans.append
            )

            def emit(chunk: Chunk, status: StatusFrame) -> None:
                show(self.plan(chunk.book, chunk.index))

            load.emit = emit
        try:
            if dtypes is not None:
                # later chunks are unseen: a schema inferred from the first has every
                # field nullable, and holds for the whole file
                await self.send(dtypes, chunks, load.chunk_done, sample=load.sample, nullable=True)
        finally:
            load.flush()
        summary = self.tally.summary()
        self.finish(load.problem_status(), summary)
        if self.dry_run is True:
            return pd.concat(plans) if plans else pd.DataFrame(columns=self._plan_columns())
        return summary

    def file_interrupted(self, load: FileLoad) -> ProduceInterrupted:
        return ProduceInterrupted(load.problem_status(), self.tally.summary())

    # -- dry runs ------------------------------------------------------------------------

    def plan(self, book: StatusBook, index: pd.Index) -> pd.DataFrame:
        """The requests of a dry run, one row per input row (secrets masked); with
        protocol kafka, the records."""
        rows: list[list[Any]] = []
        for position in range(book.rows):
            if book.status[position] != OK:
                rows.append([None, None, None, None, book.errors.get(position)])
            elif self._recorder is not None:
                topic, key, value, pairs = self._recorder.records.pop(int(book.offset[position]))
                named = {name: _text(data) for name, data in pairs or ()}
                rows.append([topic, None if key is None else _text(key), named, _text(value), None])
            else:
                method, url, headers, body = self._recorded.pop(int(book.offset[position]))
                shown = {
                    name: "<redacted>"
                    if name.lower() in _SECRET_HEADERS and "<" not in value
                    else value
                    for name, value in headers.items()
                }
                rows.append([method, url, shown, _text(body), None])
        # object columns: None means "no request", whatever pandas would infer
        plan = pd.DataFrame(rows, index=index, columns=self._plan_columns(), dtype=object)
        plan["error"] = plan["error"].astype("string")
        return plan

    def _plan_columns(self) -> list[str]:
        kafka = self.settings.options["protocol"] == "kafka"
        return _KAFKA_PLAN_COLUMNS if kafka else _PLAN_COLUMNS

    # -- progress ------------------------------------------------------------------------

    def _event(self, *, finished: bool = False) -> ProgressEvent:
        summary = self.tally.summary()
        counts = summary.counts
        # the rows carried from an earlier load are in the counts, not in the total
        done = summary.total - counts["not_sent"] - summary.carried
        total = self.total if self.total is not None else summary.total - summary.carried
        if finished and self._load is not None and self._load.read_through:
            # a file's count of lines is an upper bound on its rows (a quoted field may
            # span lines): a bar short of it ended red, as if rows were not sent
            total = summary.total - summary.carried
        limit = None if self._engine is None else self._engine.pressure.slowed_to
        return ProgressEvent(done, total, counts, summary.elapsed or 0.0, finished, limit)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            self._reporter.update(self._event())


def _text(data: bytes) -> str | bytes:
    """Bytes as a dry run shows them: text when they are UTF-8."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _call_on(loop: asyncio.AbstractEventLoop, function: Callable[[], object]) -> None:
    # the loop may have closed as the interrupt came: the run is over anyway then
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(function)


class _CtrlC:
    """A SIGINT handler that counts Ctrl-Cs instead of raising KeyboardInterrupt; a
    SIGTERM handler may pass its own on to it (the command line's does)."""

    def __init__(self, passed_to: Callable[[int, Any], object] | None = None) -> None:
        self.count = 0
        self.first: int | None = None
        #: the caller's own SIGINT handler, which hears each Ctrl-C after it is counted
        self.passed_to = passed_to
        #: the first exception it raised (not a KeyboardInterrupt), for the caller once
        #: the run has stopped
        self.raised: BaseException | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.first is None:
            self.first = signum
        if self.passed_to is None:
            return
        # Counted already: what it raises would land anywhere, and take the caller out
        # of the wait with the run going on behind its back (a handler's own exception,
        # or sys.exit, left every row to go out; a file load's files closed under it).
        try:
            self.passed_to(signum, frame)
        except KeyboardInterrupt:
            pass
        except BaseException as exc:
            if self.raised is None:
                self.raised = exc


@contextlib.contextmanager
def _ctrl_c_counted() -> Iterator[_CtrlC]:
    """Ctrl-C counted while the block runs, where Python's own handler would raise
    KeyboardInterrupt (on the main thread): that lands between any two steps, and one
    landing outside the wait for a run leaves the run going on behind the caller's
    back, its files closed under it. A handler of the caller's own is passed each
    Ctrl-C once it is counted: one that does not raise would never stop the run
    (ipykernel's, in a cell that awaits anything, cancels the cell's task on the event
    loop this wait blocks). Elsewhere (another thread, SIGINT ignored) the count is
    kept by whoever catches a KeyboardInterrupt."""
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    ours = handler is signal.default_int_handler
    theirs = handler if callable(handler) and not ours else None
    counter = _CtrlC(theirs)
    if ours or theirs is not None:
        signal.signal(signal.SIGINT, counter)
    try:
        yield counter
    finally:
        # unless their handler set another meanwhile (SIG_DFL, so that a second
        # Ctrl-C kills the process): theirs to keep
        if signal.getsignal(signal.SIGINT) is counter:
            signal.signal(signal.SIGINT, theirs or signal.default_int_handler)


def run_blocking(
    run: Callable[[], Coroutine[Any, Any, T]],
    on_interrupt: Callable[[], BaseException],
    stop: Callable[[], None],
    *,
    wake: Callable[[], None] | None = None,
) -> T:
    """Run the coroutine ``run()`` on a private event loop in a helper thread and wait
    for it.

    The same path serves scripts and Jupyter (where a loop already runs on the main
    thread, so ``asyncio.run`` is impossible; no nest_asyncio). Ctrl-C or a kernel
    interrupt reaches the waiting main thread. The first calls ``stop()`` on the loop
    (no more rows go out) and waits up to :data:`GRACE_SECONDS` for the answers in
    flight; after that, or at a second Ctrl-C, the run is cancelled, which drops the
    requests still in flight. Either way ``on_interrupt()`` builds the exception, once
    the run's thread has ended: never before.

    ``wake()`` is called at each Ctrl-C, before anything is asked of the loop: it ends
    what the loop's thread may be blocked in outside the loop (the read of a pipe that
    waits for its writer), which would keep it from stopping, or being cancelled.
    """
    outcome: dict[str, Any] = {}
    started = threading.Event()
    finished = threading.Event()

    with _ctrl_c_counted() as ctrl_c:
        # made here, under the count: a loop made before a Ctrl-C would never be closed
        loop = _new_event_loop()

        def target() -> None:
            asyncio.set_event_loop(loop)
            # the coroutine is made here: one made before a Ctrl-C would never be awaited
            task = loop.create_task(run())
            outcome["task"] = task
            started.set()
            try:
                outcome["result"] = loop.run_until_complete(task)
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()
                    finished.set()

        thread = threading.Thread(target=target, name="es-pandas-produce", daemon=True)
        thread.start()
        # Each Ctrl-C moves one stage on: running -> stopping -> cancelled.
        handled = 0
        cancel_at = math.inf
        while not _wait(finished, ctrl_c):
            if ctrl_c.count > handled:
                if wake is not None:
                    wake()
                started.wait()
                if handled == 0:
                    _call_on(loop, stop)
                    logger.warning(
                        "%s: waiting up to %.0f s for the rows in flight%s",
                        *(
                            ("terminated (SIGTERM)", GRACE_SECONDS, "")
                            if ctrl_c.first == signal.SIGTERM
                            else ("interrupted", GRACE_SECONDS, " (Ctrl-C again to stop at once)")
                        ),
                    )
                    cancel_at = time.monotonic() + GRACE_SECONDS
                if ctrl_c.count > 1:
                    cancel_at = 0.0
                handled = ctrl_c.count
            if time.monotonic() >= cancel_at:
                _call_on(loop, outcome["task"].cancel)
                cancel_at = math.inf
    # a Ctrl-C as the run ended too: the status is whole, and the caller asked to stop
    if ctrl_c.count:
        interrupted = on_interrupt()
        if ctrl_c.raised is not None:
            # their handler's, now that the run has stopped: the status in its __cause__
            raise ctrl_c.raised from interrupted
        raise interrupted from None
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["result"])


def _wait(finished: threading.Event, ctrl_c: _CtrlC) -> bool:
    """Whether the run has ended, after waiting a little for it."""
    try:
        return finished.wait(0.1)
    except KeyboardInterrupt:  # SIGINT ignored, and a SIGTERM handler raising it
        ctrl_c.count += 1
        return False


def check_index(frame: pd.DataFrame, options: Mapping[str, Any]) -> None:
    """A column option that names the frame's index (``df.set_index("order_id")``,
    then ``key_col="order_id"``) says so, where the encoder sees only the columns; a
    named index of a frame whose columns are all sent is said to stay behind (a
    ``groupby().sum()`` holds its groups there)."""
    levels = [level for level in frame.index.names if level is not None]
    named = [(option, options.get(option)) for option in ("key_col", "value_col", "record_id")]
    if options.get("record_id") == "hash":
        named.pop()  # record_id's mode, never a column
    for option in ("value_cols", "header_cols"):
        given = options.get(option)
        if isinstance(given, list | tuple):
            named += [(option, name) for name in given]
    for option, name in named:
        if name is not None and name in levels and name not in frame.columns:
            raise ConfigurationError(
                f"{option}: {name!r} is the frame's index, not a column: "
                "frame.reset_index() makes it one"
            )
    every_column = options.get("value_cols") is None and options.get("value_col") is None
    if levels and every_column and not set(levels) & set(frame.columns):
        logger.warning(
            "the frame's index (%s) is not sent, only its columns are: "
            "frame.reset_index() sends it as a column",
            ", ".join(map(repr, levels)),
        )


def record_encoder(
    options: Mapping[str, Any],
    topic: str,
    dtypes: pd.Series,
    api_version: str,
    *,
    sample: Callable[[], pd.DataFrame],
    nullable: bool,
    base_path: str = "",
) -> RecordEncoder:
    """The encoder a run with ``options`` (every option of a run, set or default) makes
    for rows whose columns and their dtypes are ``dtypes``; an Avro schema not given is
    inferred from ``sample()`` (``nullable``: every field nullable)."""
    return RecordEncoder(
        topic,
        dtypes.index.tolist(),
        dtypes=dtypes.tolist(),
        api_version=cast(Literal["v1", "v2", "kafka"], api_version),
        text_content_type=options["text_content_type"],
        schemaname=options["schemaname"],
        schemaversion=options["schemaversion"],
        key_col=options["key_col"],
        value_col=options["value_col"],
        value_cols=options["value_cols"],
        value_type=options["value_type"],
        header_cols=options["header_cols"],
        record_id=options["record_id"],
        record_id_header=options["record_id_header"],
        value_format=options["value_format"],
        key_format=options["key_format"],
        value_schema=options["value_schema"],
        key_schema=options["key_schema"],
        schema_name=options["schema_name"],
        schema_namespace=options["schema_namespace"],
        schema_strategy=options["schema_strategy"],
        sample=sample,
        nullable=nullable,
        limits=options["limits"],
        base_path=base_path,
    )
