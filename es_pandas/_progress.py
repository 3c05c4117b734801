"""Progress reporting: an ipywidgets bar in Jupyter, a text bar on a terminal,
nothing in CI or when stderr is not a terminal unless asked for (then a line every
:data:`LINE_SECONDS`, which a log file keeps readable); or a callable of the user's.

The engine never calls the bar per row: a ticker reads the status counts a few
times a second, which keeps the per-row path free of progress work.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

__all__ = ["Progress", "ProgressEvent", "make_reporter"]

logger = logging.getLogger("es_pandas")

#: seconds between the lines written where stderr is a file or a pipe (a job's log)
LINE_SECONDS = 10.0


@dataclass(frozen=True)
class ProgressEvent:
    """What a progress callable receives, a few times a second and once at the end.
    ``done`` and ``total`` count the rows this run sends (a resumed load's rows carried
    from the earlier one are not), ``counts`` every row's status so far."""

    done: int
    total: int
    counts: dict[str, int]
    elapsed: float
    finished: bool = False
    #: requests per second the run is held to after the server pushed back (else None)
    max_rate: float | None = None

    @property
    def rate(self) -> float:
        """Rows per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds to go, at the rate the run is held to if push-back slowed it, else
        at the rate so far (None before any row is done)."""
        rate = self.rate if self.max_rate is None else min(self.rate, self.max_rate)
        return (self.total - self.done) / rate if rate > 0 else None


#: ``progress=``: True, False, or a callable receiving :class:`ProgressEvent`
Progress = Union[bool, Callable[[ProgressEvent], Any]]  # noqa: UP007 - a runtime alias


class _Reporter:
    def update(self, event: ProgressEvent) -> None:
        pass

    def close(self, event: ProgressEvent, summary: str) -> None:
        pass


class _CallbackReporter(_Reporter):
    """Calls the user's function; if it raises, says so once and stops calling it, so
    a bug in a progress callback never costs the run."""

    def __init__(self, callback: Callable[[ProgressEvent], Any]) -> None:
        self._callback: Callable[[ProgressEvent], Any] | None = callback

    def update(self, event: ProgressEvent) -> None:
        if self._callback is None:
            return
        try:
            self._callback(event)
        except Exception:
            logger.warning(
                "the progress callable raised; it will not be called again in this run",
                exc_info=True,
            )
            self._callback = None

    def close(self, event: ProgressEvent, summary: str) -> None:
        self.update(event)


class _TqdmReporter(_Reporter):
    def __init__(self, total: int | None, description: str) -> None:
        jupyter = _in_jupyter() and _has_widgets()
        if jupyter:
            from tqdm.notebook import tqdm
        else:
            from tqdm.std import tqdm
        # A terminal that reports no size (some pseudo-terminals) gives tqdm 0 columns
        # and rows, and it prints nothing at all: fall back to 100x24.
        size = None if jupyter else shutil.get_terminal_size((100, 24))
        self._bar = tqdm(
            total=total,
            desc=description if size is None else _fitted(description, size.columns),
            unit="row",
            ncols=size and size.columns,
            nrows=size and size.lines,
            # Jupyter's bar is a widget (its text fallback goes to stdout, as tqdm has it)
            file=None if jupyter else _Guarded(sys.stderr),
        )

    def update(self, event: ProgressEvent) -> None:
        self._bar.set_postfix_str(_counts(event), refresh=False)
        self._bar.update(event.done - self._bar.n)
        # At every tick: tqdm redraws by itself only every so many rows (thousands
        # after a fast start), and a run slowed to a row a second, or waiting to try
        # again, would look hung, its clock stopped.
        self._bar.refresh()

    def close(self, event: ProgressEvent, summary: str) -> None:
        if self._bar.total is not None and event.total != self._bar.total:
            # the file's rows, counted as it was read: its lines were an estimate
            self._bar.total = event.total
            widget = getattr(self._bar, "container", None)  # Jupyter's, as tqdm resets it
            if widget is not None:
                widget.children[1].max = event.total
        if any(n for name, n in event.counts.items() if name != "ok"):
            # a bar that ends full reads as success (the widget turns green) unless told
            self._bar.colour = "red"
        self._bar.set_postfix_str(_counts(event), refresh=False)
        self._bar.update(event.done - self._bar.n)
        self._bar.close()


def _fitted(description: str, columns: int) -> str:
    """``description`` in a quarter of a terminal's line at most (its URL's scheme, then
    its middle, left out): tqdm cuts a line too long at its end, which holds the counts
    (an IBM Cloud URL took most of a 100-column line, and 'failed=3' read 'fail')."""
    room = max(columns // 4, 20)
    if len(description) > room:
        description = description.removeprefix("https://").removeprefix("http://")
    if len(description) <= room:
        return description
    head = room // 3
    return f"{description[:head]}…{description[len(description) - (room - head - 1) :]}"


class _LineReporter(_Reporter):
    """Progress asked for where stderr is a file or a pipe (a cron job's log): a line
    every :data:`LINE_SECONDS` and one at the end, where a bar's redraws would pile up
    as one line of carriage returns."""

    def __init__(self, total: int | None, description: str) -> None:
        self._total = total
        self._description = description
        self._stream = _Guarded(sys.stderr)
        self._next = LINE_SECONDS

    def update(self, event: ProgressEvent) -> None:
        if event.elapsed >= self._next:
            self._next = event.elapsed + LINE_SECONDS
            self._line(event)

    def close(self, event: ProgressEvent, summary: str) -> None:
        if self._total is not None:
            self._total = event.total  # the rows read, where the lines were an estimate
        self._line(event)

    def _line(self, event: ProgressEvent) -> None:
        # the run's total, if known: an event's is the rows read so far when it is not
        # (stdin, a compressed file), and would read as the file's
        total = self._total
        done = f"{event.done:,}"
        if total:
            done += f"/{total:,} rows ({event.done / total:.0%})"
        else:
            done += " rows"
        parts = [done, f"{event.elapsed:,.0f} s", f"{event.rate:,.0f} rows/s", _counts(event)]
        if not event.finished and event.eta is not None and total:
            parts.append(f"about {event.eta:,.0f} s to go")
        self._stream.write(f"{self._description}: {', '.join(parts)}\n")
        self._stream.flush()


def _counts(event: ProgressEvent) -> str:
    """The rows' statuses so far, and why the run is slow if it was slowed."""
    counts = event.counts
    parts = [f"ok={counts['ok']:,}"]
    parts += [f"{name}={n:,}" for name, n in counts.items() if n and name not in ("ok", "not_sent")]
    if event.finished and event.total > event.done:
        # a run that stopped early (an interrupt, a wrong topic) or held keys back: the
        # bar left short of its total, red, said nothing of the rows it never sent
        parts.append(f"not_sent={event.total - event.done:,}")
    if event.max_rate is not None and not event.finished:
        # a bar's own rate and ETA follow the recent rows; this says why they fell
        parts.append(f"slowed to {event.max_rate:,.0f}/s (server pushed back)")
    return " ".join(parts)


class _Guarded:
    """stderr for the bar. A write that fails (stderr a closed pipe, a full disk) is
    said once and turns the bar's output off: raised inside tqdm, it cost the run its
    status, and left tqdm's lock held, so that the next bar hung the process."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._broken = False

    def write(self, text: str) -> int:
        self._call("write", text)
        return len(text)

    def flush(self) -> None:
        self._call("flush")

    def _call(self, name: str, *args: str) -> None:
        if self._broken:
            return
        try:
            getattr(self._stream, name)(*args)
        except Exception:
            self._broken = True
            logger.warning(
                "the progress bar cannot be drawn; it is not drawn again in this run",
                exc_info=True,
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _in_jupyter() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and type(ipython).__name__ == "ZMQInteractiveShell"


@functools.cache
def _has_widgets() -> bool:
    """Whether ipywidgets is there for Jupyter's bar; said once if not, where tqdm's
    own fallback would ask to 'update jupyter and ipywidgets' and draw each tick twice
    (a text bar is drawn instead)."""
    if importlib.util.find_spec("ipywidgets") is not None:
        return True
    logger.warning(
        "no ipywidgets in this kernel's environment, so the progress bar is text: "
        'pip install "eventstreams-pandas[notebook]" for its widget'
    )
    return False


def _on_terminal() -> bool:
    stream = sys.stderr
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


def make_reporter(progress: Progress | None, total: int | None, description: str) -> _Reporter:
    """``None``: a bar where someone can see it (Jupyter, a terminal; not in CI);
    ``True``: always, a bar there and elsewhere a line every :data:`LINE_SECONDS`;
    ``False``: silent; a callable: called with :class:`ProgressEvent` instead."""
    if callable(progress):
        return _CallbackReporter(progress)
    drawn = _in_jupyter() or _on_terminal()
    if progress is False or (progress is None and (not drawn or os.environ.get("CI"))):
        return _Reporter()
    return _TqdmReporter(total, description) if drawn else _LineReporter(total, description)
