"""The per-row outcome of a run: built in fixed-size arrays while it runs, handed
to the user as a :class:`StatusFrame` on the input's index.

Longer than this project's ~400-line guide: the book a run writes, the tally, the
summary and the frame they become are one record of outcomes, read together.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ._pressure import Slowdown
from ._reasons import Shape, common, group_alike, joined, split

if TYPE_CHECKING:
    from ._journal import Journal

__all__ = [
    "FAILED",
    "NOT_SENT",
    "OK",
    "RECORD_ID",
    "REJECTED",
    "STATUSES",
    "STATUS_COLUMNS",
    "UNKNOWN",
    "Chunk",
    "Reasons",
    "StatusBook",
    "StatusFrame",
    "Summary",
    "Tally",
]

#: every value of the ``status`` column, in category order
STATUSES = ("ok", "failed", "unknown", "rejected", "not_sent")
#: the columns of a status frame, in order
STATUS_COLUMNS = (
    "status",
    "http_status",
    "partition",
    "offset",
    "timestamp",
    "error",
    "trace",
    "attempts",
    "latency_ms",
    "maybe_duplicate",
)
#: the column after those when the run gives records ids
RECORD_ID = "record_id"
OK, FAILED, UNKNOWN, REJECTED, NOT_SENT = range(5)
_STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES))
_NO_TIMESTAMP = np.iinfo(np.int64).min
_ERRORS_SHOWN = 5
# Distinct errors counted per run: past that, rows are counted under an error alike
# kept (a million rows rejected each for its own value must not cost a million entries).
REASONS_KEPT = 1000
#: the error the rows past REASONS_KEPT are counted under
OTHER_ERRORS = "(other errors)"
NO_V2_ROUTE = "sent with the v1 API: the endpoint has no v2 route (on-premises Event Streams)"

_MAYBE_IN_KAFKA = ["ok", "unknown"]
# Why a row stays unknown when a later run fails it: an earlier one may have written it.
_EARLIER_RUN = "; an earlier run may have written the record"

#: (status, error) -> rows
Reasons = Counter[tuple[str, str]]


class Summary:
    """Counts per status, rows/s and time of a run (or of any status frame slice), and
    the most frequent reasons rows are not ok.

    ``carried`` counts rows whose status came from an earlier load's status file
    (resuming a file load); they are in ``counts`` but were not sent by this run.
    ``unread_from`` is the first row of a file never read, when the load stopped
    before its end: those rows are in no count. ``api_version`` is the API the run
    used ("v1" or "v2"; None for a slice), and ``no_v2_route`` says that it is v1
    because ``api_version="auto"`` found no v2 route at the endpoint. ``dead_letters``
    is where the rows not ok were written (``dead_letter``), and how many.
    ``held_keys`` counts the keys whose later rows were held back
    (``on_key_error="hold"``), ``maybe_duplicates`` the ok rows flagged
    ``maybe_duplicate``, and ``slowdown`` says how push-back slowed the run.
    ``dry_run``: nothing was sent, and ``ok`` counts the requests that would be."""

    def __init__(
        self,
        counts: dict[str, int],
        elapsed: float | None,
        carried: int = 0,
        reasons: Reasons | None = None,
        unread_from: int | None = None,
        api_version: str | None = None,
        no_v2_route: bool = False,
        dead_letters: tuple[str, int] | None = None,
        held_keys: int = 0,
        maybe_duplicates: int = 0,
        slowdown: Slowdown | None = None,
        dry_run: bool = False,
    ) -> None:
        self.counts = counts
        self.elapsed = elapsed
        self.carried = carried
        self.reasons: Reasons = reasons if reasons is not None else Counter()
        self.unread_from = unread_from
        self.api_version = api_version
        self.no_v2_route = no_v2_route
        self.dead_letters = dead_letters
        self.held_keys = held_keys
        self.maybe_duplicates = maybe_duplicates
        self.slowdown = slowdown
        self.dry_run = dry_run

    def why(self, top: int = _ERRORS_SHOWN) -> str:
        """The most frequent errors of rows not ok, with how many rows each; empty
        when every row is ok."""
        if not self.reasons:
            return ""
        # rows counted past REASONS_KEPT have no error to show: they go in the last line
        common = [reason for reason in group_alike(self.reasons) if reason[1] != OTHER_ERRORS][:top]
        width = max(len(f"{n:,}") for _, _, n in common)
        lines = ["most frequent errors:"]
        lines += [f"  {n:>{width},} {status}: {error}" for status, error, n in common]
        rest = sum(self.reasons.values()) - sum(n for _, _, n in common)
        if rest:
            lines.append(f"  and {rest:,} more rows with other errors")
        return "\n".join(lines)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def sent(self) -> int:
        """Rows this run sent (carried, rejected and not_sent ones were not; a dry run
        sends none)."""
        return 0 if self.dry_run else self._requests

    @property
    def _requests(self) -> int:
        return self.total - self.counts["rejected"] - self.counts["not_sent"] - self.carried

    @property
    def rate(self) -> float | None:
        return self.sent / self.elapsed if self.elapsed and not self.dry_run else None

    def __str__(self) -> str:
        if self.dry_run:
            return self._planned()
        parts = [f"{self.counts['ok']:,} ok"]
        parts += [f"{n:,} {name}" for name, n in self.counts.items() if n and name != "ok"]
        text = ", ".join(parts)
        if self.elapsed is not None:
            text += f" in {self.elapsed:.1f}s"
            if self.rate and self.elapsed >= 1:
                text += f" ({self.rate:,.0f} rows/s)"
        if self.carried:
            text += f"; {self.carried:,} of them carried from the earlier load"
        if self.unread_from is not None:
            text += f"; the file's rows from {self.unread_from:,} on were not read"
        return "; ".join([text, *self.notes()])

    def _planned(self) -> str:
        """What a dry run would have sent."""
        requests, rejected = self._requests, self.counts["rejected"]
        line = f"dry run: {_rows(requests, 'request')}, {_rows(rejected, 'row')} rejected"
        if self.carried:
            line += f", {_rows(self.carried, 'row')} carried from --resume (not sent again)"
        return line

    def notes(self) -> list[str]:
        """What else the run has to say, a line each: how it sent, where its dead
        letters went, the keys held back, the possible duplicates, the slowdown."""
        notes = [NO_V2_ROUTE] if self.no_v2_route else []
        if self.dead_letters is not None:
            path, rows = self.dead_letters
            note = f"{_rows(rows, 'dead letter')} (rows not ok) in {path}"
            # the unknown rows carried from an earlier load were not sent by this run
            left_out = self.total - self.counts["ok"] - rows if self.carried else 0
            if left_out > 0:
                are = "is" if left_out == 1 else "are"
                note += (
                    f"; the {_rows(left_out, 'row')} not ok carried from the earlier load "
                    f"{are} not in it (the status file has {'it' if left_out == 1 else 'them'})"
                )
            notes.append(note)
        if self.held_keys:
            notes.append(
                f"{_rows(self.held_keys, 'key')} held back after a row ended failed, "
                "unknown or rejected: their later rows are not_sent (on_key_error='hold')"
            )
        if self.maybe_duplicates:
            notes.append(
                f"{_rows(self.maybe_duplicates, 'possible duplicate')} in Kafka (ok rows "
                "flagged maybe_duplicate: an earlier try may have written them too)"
            )
        if self.counts["unknown"]:
            # at most once in Kafka each, unless sent again
            unknown = self.counts["unknown"]
            notes.append(
                f"{_rows(unknown, 'unknown row')} may or may not be in Kafka: "
                f"{'each' if unknown > 1 else 'it'} may be written twice if sent again"
            )
        if self.slowdown is not None:
            notes.append(str(self.slowdown))
        return notes

    def __repr__(self) -> str:
        return f"<Summary {self}>"

    def table(self) -> str:
        """The counts as an aligned table, for a terminal."""
        width = max(len(f"{n:,}") for n in self.counts.values())
        lines = [f"  {name:<9} {n:>{width},}" for name, n in self.counts.items()]
        if self.dry_run:
            return "\n".join([*lines, f"  {self._planned()}"])
        rate = f", {self.rate:,.0f} rows/s" if self.rate else ""
        lines.append(f"  {_rows(self.sent, 'row')} sent in {self.elapsed or 0.0:.1f}s{rate}")
        if self.carried:
            lines.append(f"  {_rows(self.carried, 'row')} carried from --resume (not sent again)")
        if self.unread_from is not None:
            lines.append(
                f"  the file's rows from {self.unread_from:,} on were not read (the load "
                "stopped first): --resume with its --status-out sends them"
            )
        lines += [f"  {note}" for note in self.notes()]
        if self.carried and self.counts["unknown"]:
            lines.append(
                "  unknown rows may or may not be in Kafka: --retry-unknown sends them again "
                "(they may then be written twice, and are flagged maybe_duplicate)"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{name}</th>" for name in self.counts)
        cells = "".join(f"<td>{n:,}</td>" for n in self.counts.values())
        timing = ""
        if self.dry_run:
            timing = f"<p>{html.escape(self._planned())}</p>"
        elif self.elapsed is not None:
            timing = f"<p>{_rows(self.sent, 'row')} sent in {self.elapsed:.1f}s"
            timing += f" ({self.rate:,.0f} rows/s)</p>" if self.rate else "</p>"
        timing += "".join(f"<p>{html.escape(note)}</p>" for note in self.notes())
        return f"<table><tr>{head}</tr><tr>{cells}</tr></table>{timing}"


def _rows(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


class StatusFrame(pd.DataFrame):
    """A DataFrame of per-row outcomes with a :attr:`summary`.

    Columns: ``status`` (categorical: ok, failed, unknown, rejected, not_sent),
    ``http_status``, ``partition``, ``offset``, ``timestamp``, ``error``, ``trace``
    (the id IBM gave the error answer the row ended on, for IBM support), ``attempts``,
    ``latency_ms`` and ``maybe_duplicate`` (an earlier attempt may have written the
    record before a later one succeeded); with ``record_id``, ``record_id`` (the id
    header each sent record carries). :meth:`update` takes in the status of rows
    sent again.

    ``attrs`` holds the run's ``elapsed`` seconds and ``api_version`` ("v1" or "v2"),
    and ``no_v2_route`` when ``api_version="auto"`` fell back to v1; ``dead_letters`` is
    (path, rows) with ``dead_letter``; ``held_keys`` the keys held back with
    ``on_key_error="hold"``; ``slowdown`` when push-back slowed the run, as a dict of
    :class:`~es_pandas.Slowdown`'s fields (attrs stay plain data: ``to_parquet`` writes
    them as JSON).
    """

    @property
    def _constructor(self) -> type[StatusFrame]:
        return StatusFrame

    @property
    def summary(self) -> Summary:
        statuses: Mapping[Hashable, int] = (
            self["status"].value_counts(sort=False).to_dict() if "status" in self else {}
        )
        counts = {name: int(statuses.get(name, 0)) for name in STATUSES}
        # The run's time describes the whole frame, not a slice of it.
        whole = self.attrs.get("rows") == len(self)
        reasons: Reasons = Counter()
        if "error" in self:
            errors = self.loc[self["error"].notna(), ["status", "error"]]
            for pair, n in errors.value_counts(sort=False).items():
                # the status is categorical: pandas counts every category with each error
                if n:
                    status, error = cast(tuple[str, str], pair)
                    reasons[str(status), str(error)] = int(n)
        return Summary(
            counts,
            self.attrs.get("elapsed") if whole else None,
            reasons=reasons,
            api_version=self.attrs.get("api_version"),
            no_v2_route=bool(self.attrs.get("no_v2_route")),
            dead_letters=self.attrs.get("dead_letters") if whole else None,
            held_keys=self.attrs.get("held_keys", 0) if whole else 0,
            maybe_duplicates=int(self["maybe_duplicate"].sum()) if "maybe_duplicate" in self else 0,
            slowdown=Slowdown(**self.attrs["slowdown"])
            if whole and self.attrs.get("slowdown")
            else None,
        )

    def update(self, other: pd.DataFrame) -> None:  # type: ignore[override]
        """Take in the status of some of these rows sent again: ``status.update(retry)``.

        Each row of ``other`` (a status frame) replaces this frame's row of the same
        label whole, nulls included, so a row now ok keeps no old error (pandas' own
        ``update`` skips nulls, and its ``join``, ``overwrite``, ``filter_func`` and
        ``errors`` do not apply to whole rows). What an earlier run may have written
        stays said: a row that was ``ok`` stays ok, its record is in Kafka; one that was
        ``unknown`` and is not ok now stays ``unknown``; one ok in a run and ok or unknown
        in the other is flagged ``maybe_duplicate``.

        The frame then holds rows of more than one run, which have no single time: its
        :attr:`summary` counts them but gives no time or rate, nor what the first run
        alone said of itself (its dead letters, keys held back, slowdown).
        """
        if not (self.index.is_unique and other.index.is_unique):
            raise ValueError("update matches rows by label: both indexes must be unique")
        if list(other.columns) != list(self.columns):
            raise ValueError("update takes a status frame, with the columns of this one")
        strangers = other.index.difference(self.index)
        if len(strangers):
            raise KeyError(f"{len(strangers)} rows are not in this frame: {strangers[:5].tolist()}")
        positions = self.index.get_indexer(other.index)
        was = self["status"].to_numpy(dtype=object)[positions]
        now = other["status"].to_numpy(dtype=object)
        rows = other.copy()
        still_unknown = (was == "unknown") & (now != "ok")
        noted = still_unknown & (now != "unknown")
        rows.loc[noted, "error"] = rows.loc[noted, "error"].fillna("not sent") + _EARLIER_RUN
        rows.loc[still_unknown, "status"] = "unknown"
        # a row ok before and not now is in Kafka all the same: it stays as it was
        replaced = ~((was == "ok") & (now != "ok"))
        # Column by column, array into array: pandas 3.1 fails to set a frame into rows
        # of a frame when a nullable integer column of it holds NA.
        for name in self.columns:
            column = self[name].array.copy()
            column[positions[replaced]] = rows[name].array[replaced]
            self[name] = column
        # ok in the end, and each run may have written it
        twice = (
            np.isin(was, _MAYBE_IN_KAFKA)
            & np.isin(now, _MAYBE_IN_KAFKA)
            & ((was == "ok") | (now == "ok"))
        )
        flags = self["maybe_duplicate"].to_numpy(copy=True)
        flags[positions[twice]] = True
        self["maybe_duplicate"] = flags
        # what the first run alone said of itself: no longer the frame's
        self.attrs.update(elapsed=None, dead_letters=None, held_keys=0, slowdown=None)

    def _repr_html_(self) -> str | None:
        """The summary and the first errors above the usual table (Jupyter)."""
        table: str | None = pd.DataFrame._repr_html_(self)  # type: ignore[attr-defined]
        if "status" not in self or table is None:
            return table
        errors = (
            self.loc[self["error"].notna(), ["status", "error"]].head(_ERRORS_SHOWN)
            if "error" in self
            else self.iloc[:0]
        )
        listed = "".join(
            f"<li><code>{html.escape(str(i))}</code> {html.escape(str(row.status))}: "
            f"{html.escape(str(row.error))}</li>"
            for i, row in errors.iterrows()
        )
        first = f"<p>First errors:</p><ul>{listed}</ul>" if listed else ""
        return f"<div>{self.summary._repr_html_()}{first}</div>{table}"


class Tally:
    """Rows by status across every book of a run (a file's chunks), for the progress
    bar and the summary; ``carried`` rows came from an earlier load's status file."""

    def __init__(self) -> None:
        self.counts = [0] * len(STATUSES)
        self.carried = 0
        self.started = time.monotonic()
        self.reasons: Reasons = Counter()
        # the values of the first error kept of each shape (see _reasons)
        self._shapes: dict[tuple[int, Shape], list[str]] = {}
        #: the first row of a file never read, once a load stopped before its end
        self.unread_from: int | None = None
        #: the API version the run uses, and whether "auto" fell back to v1
        self.api_version: str | None = None
        self.no_v2_route = False
        #: where the rows not ok go (dead_letter), and how many went
        self.dead_letter: str | None = None
        self.dead_letters = 0
        #: keys held back (on_key_error="hold"), ok rows flagged maybe_duplicate, and
        #: how push-back slowed the run
        self.held_keys = 0
        self.maybe_duplicates = 0
        self.slowdown: Slowdown | None = None
        self.dry_run = False

    def add(self, status: str, rows: int = 1) -> None:
        self.counts[STATUSES.index(status)] += rows

    def note(self, status: int, error: str) -> None:
        """A row ended not ok for ``error``."""
        reason = (STATUSES[status], error)
        if reason in self.reasons:
            self.reasons[reason] += 1
        elif len(self.reasons) < REASONS_KEPT:
            self.reasons[reason] = 1
            shape, values = split(error)
            self._shapes.setdefault((status, shape), values)
        else:
            shape, values = split(error)
            first = self._shapes.get((status, shape))
            if first is None:
                self.reasons[STATUSES[status], OTHER_ERRORS] += 1
                return
            # counted under the first error alike kept, with … for the values that differ
            # from its (a few more entries at most): the summary shows them as one
            self.reasons[STATUSES[status], joined(shape, common(first, values))] += 1

    def summary(self, elapsed: float | None = None) -> Summary:
        counts = dict(zip(STATUSES, self.counts, strict=True))
        seconds = time.monotonic() - self.started if elapsed is None else elapsed
        return Summary(
            counts,
            seconds,
            carried=self.carried,
            reasons=self.reasons.copy(),
            unread_from=self.unread_from,
            api_version=self.api_version,
            no_v2_route=self.no_v2_route,
            dead_letters=None
            if self.dead_letter is None
            else (self.dead_letter, self.dead_letters),
            held_keys=self.held_keys,
            maybe_duplicates=self.maybe_duplicates,
            slowdown=self.slowdown,
            dry_run=self.dry_run,
        )


class StatusBook:
    """What happened to each row, by position, in arrays of fixed size: the only
    per-row memory a run holds. Its counts also go to the run's :class:`Tally`; with
    ``record_ids`` it keeps the id of each record sent."""

    def __init__(self, rows: int, tally: Tally | None = None, record_ids: bool = False) -> None:
        self.rows = rows
        self.status = np.full(rows, NOT_SENT, np.int8)
        self.http_status = np.zeros(rows, np.int16)
        self.partition = np.full(rows, -1, np.int32)
        self.offset = np.full(rows, -1, np.int64)
        self.timestamp = np.full(rows, _NO_TIMESTAMP, np.int64)
        self.attempts = np.zeros(rows, np.int32)
        self.latency = np.full(rows, np.nan)
        self.maybe_duplicate = np.zeros(rows, bool)
        self.errors: dict[int, str] = {}
        #: the id of the error answer a row ended on, where it had one
        self.traces: dict[int, str] = {}
        #: each sent row's record id, when the run gives records ids (else None)
        self.record_ids: dict[int, str] | None = {} if record_ids else None
        self.tally = tally or Tally()
        self.tally.counts[NOT_SENT] += rows
        self.counts = [0] * len(STATUSES)
        self.counts[NOT_SENT] = rows

    def _set(self, position: int, status: int) -> None:
        before = self.status[position]
        self.counts[before] -= 1
        self.counts[status] += 1
        self.tally.counts[before] -= 1
        self.tally.counts[status] += 1
        self.status[position] = status

    def ok(
        self,
        position: int,
        http_status: int,
        partition: int | None,
        offset: int | None,
        timestamp: int | None,
        attempts: int,
        latency: float,
        maybe_duplicate: bool,
    ) -> None:
        self._set(position, OK)
        self.http_status[position] = http_status
        if partition is not None:
            self.partition[position] = partition
        if offset is not None:
            self.offset[position] = offset
        if timestamp is not None:
            self.timestamp[position] = timestamp
        self.attempts[position] = attempts
        self.latency[position] = latency
        if maybe_duplicate:
            self.maybe_duplicate[position] = True
            self.tally.maybe_duplicates += 1

    def fail(
        self,
        position: int,
        status: int,
        error: str,
        *,
        http_status: int = 0,
        attempts: int = 0,
        latency: float = np.nan,
        trace: str | None = None,
    ) -> None:
        self._set(position, status)
        self.http_status[position] = http_status
        self.attempts[position] = attempts
        self.latency[position] = latency
        self.errors[position] = error
        if trace is not None:
            self.traces[position] = trace
        self.tally.note(status, error)

    @property
    def done(self) -> int:
        return self.rows - self.counts[NOT_SENT]

    def to_frame(self, index: pd.Index | None = None, elapsed: float | None = None) -> StatusFrame:
        rows = self.rows
        sent = self.http_status != 0
        error, trace = _texts(rows, self.errors), _texts(rows, self.traces)
        timestamp = pd.to_datetime(
            pd.arrays.IntegerArray(self.timestamp, self.timestamp == _NO_TIMESTAMP),
            unit="ms",
            utc=True,
        )
        columns: dict[Hashable, Any] = {
            "status": pd.Categorical.from_codes(self.status, dtype=_STATUS_DTYPE),
            "http_status": pd.arrays.IntegerArray(self.http_status, ~sent),
            "partition": pd.arrays.IntegerArray(self.partition, self.partition < 0),
            "offset": pd.arrays.IntegerArray(self.offset, self.offset < 0),
            "timestamp": timestamp,
            "error": error,
            "trace": trace,
            "attempts": pd.arrays.IntegerArray(self.attempts, np.zeros(rows, bool)),
            "latency_ms": pd.arrays.FloatingArray(self.latency * 1000, np.isnan(self.latency)),
            "maybe_duplicate": self.maybe_duplicate,
        }
        if self.record_ids is not None:
            columns[RECORD_ID] = _texts(rows, self.record_ids)
        # The frame takes the arrays as they are: a book is done with once its frame is
        # made, and a copy would cost another status frame at the peak of a large run.
        frame = StatusFrame(
            columns, index=index if index is not None else pd.RangeIndex(rows), copy=False
        )
        frame.attrs["elapsed"] = elapsed
        frame.attrs["rows"] = rows
        return frame


def _texts(rows: int, texts: dict[int, str]) -> pd.api.extensions.ExtensionArray:
    """A string column holding ``texts`` by position, null elsewhere."""
    # Taken from the texts alone: converting a column of mostly None to strings costs
    # a tenth of a microsecond a row, and most rows have no error and no trace.
    at = np.full(rows, -1, np.intp)
    at[np.fromiter(texts, np.intp, len(texts))] = np.arange(len(texts))
    return pd.array(list(texts.values()), dtype="string").take(at, allow_fill=True)


@dataclass(eq=False)
class Chunk:
    """Rows of the input sent together, and the book their outcomes go into, at
    positions ``start`` onwards (a frame's chunks share one book; a file's have one each)."""

    #: the rows to send; dropped once they are encoded
    frame: pd.DataFrame | None
    index: pd.Index
    book: StatusBook
    start: int = 0
    #: positions whose outcome in an earlier load was unknown: sent again, they may be
    #: in Kafka twice
    resent: frozenset[int] = frozenset()
    #: the earlier status rows of rows not sent again (resuming a file load)
    carried: pd.DataFrame | None = None
    #: positions of rows that cannot be sent as they are (read from a file), with why
    problems: Mapping[int, str] = field(default_factory=dict)
    #: the load's journal, where each row is recorded as it goes out and as it ends
    journal: Journal | None = None
    #: a fingerprint of every row read (carried ones too), by row (a file's chunks)
    hashes: pd.Series | None = None
    #: the rows as read, kept until their dead letters are written (with dead_letter)
    rows: pd.DataFrame | None = None
    #: every row of it has its final status
    done: bool = False

    def status(self, elapsed: float | None = None) -> StatusFrame:
        """Its rows' status (with the carried rows, in row order)."""
        rows = len(self.index)
        status = self.book.to_frame(elapsed=elapsed).iloc[self.start : self.start + rows]
        status.index = self.index
        if self.carried is not None and len(self.carried):
            status = StatusFrame(pd.concat([status, self.carried]).sort_index())
        return status
