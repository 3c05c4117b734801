"""Back-pressure for the whole run: one rate that every request books its start by.

A row that meets push-back waits on its own (Retry-After, or backoff); without a
shared controller the other requests keep going at the same pace, and against a
quota that refuses what is over it most of a run's requests would be refused. So a
run keeps one rate, in requests started per second, and spaces starts by it.

It is not limited until the server first pushes back (or ``max_rate`` limits it);
then it starts from what the server accepted. A first 429 in the run's first second
comes back before the answers to the requests sent with it, and says little of a
quota whose burst was short, so from there until a request sent after it is pushed
back too, what the server accepted over the last second or two is a floor for the
rate: it climbs as fast as answers come back clean, and stops at the first refusal
of its own (a burst a quota let through counts in it as more quota), back to what
the server took since the first 429. From there each answer moves it a little,
multiplicatively: a push-back takes ``CUT`` off (once a round trip: the answers to
requests booked before a cut say nothing of the new rate), a clean answer adds
``GAIN``. The rate settles where ``TARGET`` of the answers push back, just over a
quota that refuses what is over it; one that halves is followed in about 14 round
trips.

Push-back is a 429; a 503 once they are a large share of recent answers (brokers
unavailable: the run slows while they last, then returns to its rate before them,
where a 503 now and then is a broker moving, retried by its row alone); and with
``max_rate="auto"`` answers far slower than the fastest (IBM Cloud delays answers
over a plan's quota rather than refusing them): the rate is then held under what
the server serves until its queue has drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Pacer", "Pressure", "Slowdown"]

#: the share of answers that push back where the rate settles
TARGET = 0.005
#: how much of the rate a push-back takes off, and a clean answer adds
CUT = 0.05
GAIN = CUT * TARGET / (1 - TARGET)
#: after 503s, how fast clean answers bring the rate back to where it was
RETURN = 0.1
# requests taken since the first 429 that measure a quota, at least
_MEASURED = 3
#: requests per second: the rate is never cut below it
FLOOR = 1.0
# 503s are push-back once their share of recent answers (smoothed over about 20)
# passes this: a random 5-10% (a broker moving) never does, brokers down at once.
_SHARE_503 = 0.3
_SMOOTHING = 0.05
# With "auto", an answer slower than twice the fastest and 50 ms more is delayed;
# under a rate over _SERVED of what the server serves it queues, and its queue
# drains if answers come faster by _DRAINED a second.
_SLOWER = 2.0
_SLACK = 0.05
_SERVED = 1.02
_DRAINED = 0.95
#: seconds: rates are measured over the current window and the last one, each as long
_WINDOW = 1.0


@dataclass(frozen=True)
class Slowdown:
    """How a run slowed for push-back: how many ``answers`` pushed back, the lowest
    rate it was held to and the rate at the end (requests per second)."""

    answers: int
    lowest: float
    final: float

    def __str__(self) -> str:
        end = "no limit" if self.final == math.inf else f"{self.final:,.1f}"
        return (
            f"the server pushed back ({self.answers:,} answer"
            f"{'' if self.answers == 1 else 's'}) and the run slowed, to "
            f"{self.lowest:,.1f} requests/s at the lowest ({end} at the end)"
        )


class Pacer:
    """Starts spaced across runs: a Producer's calls, on any thread or event loop, book
    their requests' starts here as well as in their own :class:`Pressure`, so that its
    rate caps them together (a service's calls of a row or two each went at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0.0

    def __reduce__(self) -> tuple[type[Pacer], tuple[()]]:
        # a copy (a Producer handed to another process) paces its own calls
        return Pacer, ()

    def book(self, slot: float, rate: float) -> float:
        """The start of a request that may start at ``slot`` at the earliest, spaced
        ``1/rate`` after the last one booked here."""
        with self._lock:
            slot = max(slot, self._next)
            self._next = slot + 1.0 / rate
            return slot


class Pressure:
    """The run's rate: :meth:`book` before each request, :meth:`answered` after each
    HTTP answer. ``max_rate`` caps it; ``"auto"`` also watches latency. A ``pacer``
    spaces the starts of other runs' limited requests from this run's too."""

    def __init__(
        self,
        max_rate: float | Literal["auto"] | None,
        clock: Callable[[], float] = time.monotonic,
        pacer: Pacer | None = None,
    ) -> None:
        self._clock = clock
        self._pacer = pacer
        self._ceiling = max_rate if isinstance(max_rate, float) else math.inf
        self._watch_latency = max_rate == "auto"
        #: requests per second now (infinite: not limited)
        self.rate = self._ceiling
        self._slowed = False
        # whether it was slowed, then back to no limit
        self._returned = False
        self._lowest = math.inf
        self.pushed_back = 0
        self._cut_at = -math.inf
        # When the first push-back came; whether the rate still climbs as fast as
        # the answers come back clean (from a first 429 in the run's first second
        # until a request sent after it is pushed back too); and how many requests
        # sent before it, and since, were accepted.
        self._first_cut = math.inf
        self._starting = False
        self._wave = self._taken = 0
        self._next = 0.0
        self._turn = asyncio.Lock()
        self._released = asyncio.Event()
        # the rate before 503s slowed the run, to return to once they stop
        self._before_503 = 0.0
        self._share_503 = 0.0
        # With auto: the fastest answer, and while the server's queue drains the
        # latency it was last checked at (at _checked).
        self._fastest = math.inf
        self._draining: float | None = None
        self._checked = -math.inf
        now = self._started = clock()
        # answers, and answers accepted, in this window and the last one
        self._window_start = now
        self._answers = self._accepted = 0
        self._last_span, self._last_answers, self._last_accepted = 0.0, 0, 0

    @property
    def limited(self) -> bool:
        """Whether starts are spaced at all."""
        return self.rate < math.inf

    @property
    def slowed_to(self) -> float | None:
        """The rate push-back holds the run to, if it slowed the run."""
        return self.rate if self._slowed else None

    async def start(self) -> float:
        """Wait for a request's turn, and return its start time. Requests wait their
        turns one at a time, each booking its own as it comes: were every waiting
        request booked at once, a rate cut would reach the requests only after all
        of them (32 s of them, at 32 in flight and 1 request/s)."""
        async with self._turn:
            if self._released.is_set():
                return self._clock()
            slot = self.book()
            delay = slot - self._clock()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._released.wait(), delay)
            return slot

    def release(self) -> None:
        """Let the requests waiting for their turns, and any later, go at once: the run
        has stopped, and they will end without being sent."""
        self._released.set()

    def book(self) -> float:
        """The time the next request may start (on ``clock``), so that starts are
        ``1/rate`` apart and a burst never exceeds one."""
        now = self._clock()
        if self.rate == math.inf:
            return now
        slot = max(now, self._next)
        if self._pacer is not None:
            slot = self._pacer.book(slot, self.rate)
        self._next = slot + 1.0 / self.rate
        return slot

    def answered(self, booked: float, status: int) -> None:
        """A request booked at ``booked`` got an answer with ``status``."""
        now = self._clock()
        self._answers += 1
        if status == 429:
            self._push_back(now, booked, too_fast=True)
        elif status == 503:
            self._share_503 += _SMOOTHING * (1 - self._share_503)
            if self._share_503 > _SHARE_503:
                # Unavailable, not too fast: once it is over, back to the rate before.
                # A run not slowed before them had no rate but its ceiling (no limit,
                # or max_rate): what it sent meanwhile, its rows waiting out
                # Retry-After, says nothing of it (from the run's start, a few
                # requests a second).
                before = self._sending(now) if self._slowed else self._ceiling
                self._before_503 = max(self._before_503, before)
                self._push_back(now, booked, too_fast=False)
        else:
            self._accepted += 1
            if booked < self._first_cut:
                self._wave += 1
            else:
                self._taken += 1
            self._share_503 -= _SMOOTHING * self._share_503
            if self._watch_latency:
                self._watch(now, now - booked)
            if self._slowed and self._draining is None:
                self._gain(now)
                if self._starting:
                    floor = (1 - CUT) * (self._last_accepted + self._accepted) / _WINDOW
                    self.rate = max(self.rate, min(self._ceiling, floor))
        if now - self._window_start >= _WINDOW:
            self._last_span = now - self._window_start
            self._last_answers, self._last_accepted = self._answers, self._accepted
            self._window_start, self._answers, self._accepted = now, 0, 0

    def slowdown(self) -> Slowdown | None:
        """How the run slowed, if push-back slowed it."""
        if not (self._slowed or self._returned):
            return None
        return Slowdown(self.pushed_back, self._lowest, self.rate)

    def _push_back(self, now: float, booked: float, too_fast: bool) -> None:
        """A 429 (``too_fast``) or a 503 among many: the rate goes down."""
        self.pushed_back += 1
        accepted = self._last_accepted + self._accepted
        first = not self._slowed
        if first:
            self._first_cut = now
            self._starting = too_fast and now - self._started < _WINDOW
        elif booked >= self._first_cut and self._starting:
            # The climb took the rate past what the server takes. A quota's bucket
            # was empty at the first 429 and is again: what it took in between is
            # its rate, unless the climb began far under it (a short burst: the
            # bucket overflowed meanwhile, and the climb's own pace was taken).
            self._starting = False
            # the rates of the climb were a start, not a slowdown: the lowest is after
            self._lowest = math.inf
            elapsed = now - self._first_cut
            if self._taken >= _MEASURED and elapsed > 0:
                taken = self._taken / elapsed
                if taken < 2 * self._wave / _WINDOW:
                    self.rate = min(self.rate, taken)
        if first and too_fast and accepted:
            # From what the server accepted, as if over a second at least: a quota
            # lets a burst through.
            self._set(min(self._ceiling, accepted / max(self._span(now), _WINDOW)))
        elif first:
            self._set(self._sending(now))
        elif booked < self._cut_at:
            return  # sent before the last cut: it says nothing of the rate now
        self._set(self.rate * (1 - CUT))
        self._cut_at = now
        if first:
            # The server has just refused one: a request sent at once would be
            # refused too, and end the start before it began.
            self._next = now + 1.0 / self.rate

    def _gain(self, now: float) -> None:
        if self._before_503 >= self._ceiling:
            # Back to the ceiling (no limit, or max_rate), doubling as answers come
            # clean (by RETURN, from a request a second, it took minutes); at the
            # ceiling, or past twice what is answered, the rate no longer limits the
            # run, which is as if never slowed (a later 429 is measured as a first one).
            self.rate = min(self._ceiling, 2 * self.rate)
            if self.rate >= self._ceiling or self.rate > 2 * self._answered(now):
                self.rate, self._before_503, self._slowed = self._ceiling, 0.0, False
                self._returned = True
        elif self.rate < self._before_503:
            self.rate = min(self._before_503, self.rate * (1 + RETURN))
        else:
            self._before_503 = 0.0
            self.rate = min(self._ceiling, self.rate * (1 + GAIN))

    def _set(self, rate: float) -> None:
        self.rate = max(FLOOR, rate) if math.isfinite(rate) else rate
        self._slowed = self.rate < math.inf
        self._lowest = min(self._lowest, self.rate)

    def _watch(self, now: float, latency: float) -> None:
        """Hold the rate under what the server serves while it queues requests (its
        answers come late), until they come back in time."""
        self._fastest = min(self._fastest, latency)
        if latency <= _SLOWER * self._fastest + _SLACK:
            self._draining = None
            return
        # Checked against what the server served in the last whole second, one that
        # began after the last check (a second with a cut in it says too little).
        began = self._window_start - self._last_span
        if not self._last_span or began < self._checked:
            return
        self._checked = now
        served = self._last_answers / self._last_span
        if self._draining is None or self.rate > _SERVED * served:
            # It queues, so it serves all it can: served is its rate. Under it, the
            # queue drains and answers come faster.
            self._set(min(self._ceiling, (1 - 3 * CUT) * served))
            self._starting = False
            self.pushed_back += 1
            self._draining = latency
        elif latency >= _DRAINED * self._draining:
            # Sending under what it serves made them no faster: the server is slower
            # now, for all. That is its pace from here on.
            self._fastest = latency
            self._draining = None
        else:
            self._draining = latency

    def _span(self, now: float) -> float:
        return self._last_span + now - self._window_start

    def _sending(self, now: float) -> float:
        """The rate requests go at: the rate, or what was answered lately if less."""
        return min(self.rate, self._answered(now))

    def _answered(self, now: float) -> float:
        """Answers a second lately."""
        span = self._span(now)
        return (self._last_answers + self._answers) / span if span > 0 else math.inf
