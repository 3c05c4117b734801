"""The whole-request timeout (:attr:`TransportConfig.timeout`) of every request an engine
has in flight, kept on one timer.

A timer per request, as ``asyncio.timeout`` or aiohttp's ``ClientTimeout(total=...)``
keep it, schedules and cancels a timer handle for every request, a noticeable share of
a request's client CPU under aiohttp. All requests of a transport have the same timeout,
so their deadlines fall due in the order the requests started: one timer, set for the
oldest request still in flight, bounds them all.

A deadline that passes cancels its request's task and ends the ``with`` block with
:class:`TimeoutError`, as ``asyncio.timeout`` does (a cancellation from elsewhere, a
Ctrl-C, still propagates as one).

A deadline that passes while the event loop stands still (:data:`STALL_SECONDS` or
more) is given a moment of the loop's time first (the timeout, :data:`STALL_SECONDS` at
most): an answer that came meanwhile lies unread until the loop runs, and the timer,
run first, took it for one that never came. A notebook cell that blocked the kernel's
loop for longer than the timeout, with ``aproduce`` in a task on it, had each request
in flight time out and go again: written twice. The timer fires at least every half
:data:`STALL_SECONDS` while requests are in flight, so that a stall that long finds it
late whenever it ends: how late a timer set for the deadline itself was said nothing
of a stall that ended just after it (2.5 s of a 2 s timeout).
"""

from __future__ import annotations

import asyncio
from types import TracebackType

__all__ = ["Deadline", "Deadlines"]

_RESOLUTION = 0.001
#: the shortest stall of the event loop that is taken for one (far more than the jitter
#: of a loaded machine's timers), and the most a deadline passed meanwhile waits
STALL_SECONDS = 1.0
# the timer's longest wait, and how late it fires after a stall that long
_TICK = STALL_SECONDS / 2


class Deadlines:
    """The deadlines of one transport's requests: ``with deadlines():`` around each."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        # insertion order is the order they fall due
        self._running: dict[Deadline, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self) -> Deadline:
        return Deadline(self)

    def _start(self, deadline: Deadline) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # a transport used again in a later loop: the last one's timer died with it
            self._loop, self._timer = loop, None
            self._running.clear()
        due = loop.time() + self._seconds
        self._running[deadline] = due
        if self._timer is None:
            self._set(loop, due)

    def _set(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        self._timer_due = min(due, loop.time() + _TICK)
        self._timer = loop.call_at(self._timer_due, self._expire)

    def _end(self, deadline: Deadline) -> None:
        # the timer stays set: when it fires it moves on to the oldest still running
        self._running.pop(deadline, None)

    def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._timer = None
        if now - self._timer_due >= _TICK:
            # the loop stood still: the answers that came meanwhile are read first
            # (in the order they fall due still, as max keeps it)
            floor = now + min(self._seconds, STALL_SECONDS)
            self._running = {deadline: max(due, floor) for deadline, due in self._running.items()}
        while self._running:
            deadline, due = next(iter(self._running.items()))
            # uvloop keeps time in milliseconds and may fire a timer up to one early:
            # set again for a moment that close, it would spin until the next one
            if due > now + _RESOLUTION:
                self._set(loop, due)
                return
            del self._running[deadline]
            deadline.expire()

    def close(self) -> None:
        """Stop the timer (the transport is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Deadline:
    """One request's deadline, entered in the task that sends it."""

    __slots__ = ("_cancelling", "_deadlines", "_task", "expired")

    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines
        self.expired = False

    def __enter__(self) -> Deadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline must be entered in a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._deadlines._start(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._deadlines._end(self)
        # Ours, unless the task was also cancelled from elsewhere meanwhile (as
        # asyncio.timeout decides it).
        if (
            self.expired
            and self._task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc

    def expire(self) -> None:
        """The deadline passed: end the request."""
        self.expired = True
        self._task.cancel()
