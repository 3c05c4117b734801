"""Back-pressure for the whole run: one rate that every request books its start by.

A row that meets push-back waits on its own (Retry-After, or backoff); without a
shared controller the other requests keep going at the same pace, and against a
quota that refuses what is over it most of a run's requests would be refused. So a
run keeps one rate, in requests started per second, and spaces starts by it
(additive increase, multiplicative decrease):

- push-back cuts the rate to ``DECREASE`` of what the server accepted over the last
  second or two, once a round trip: answers to requests booked before a cut say
  nothing of the new rate;
- while answers come back clean the rate climbs back to that in ``RECOVERY``
  seconds, then on by ``GROWTH`` of it each second (to find a quota raised
  again), never above ``max_rate``.

Push-back is a 429; a 503 once they are a large share of recent answers (brokers
unavailable: the run slows until they are back, and then returns to its rate, where
a 503 now and then is a broker moving, retried by its row alone); and with
``max_rate="auto"`` answers far slower than the fastest (IBM Cloud delays answers
over a plan's quota rather than refusing them): then the rate is held under what the
server serves until its queue has drained.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Pressure", "Slowdown"]

DECREASE = 0.85
#: seconds after a cut that the rate is back where push-back met it
RECOVERY = 2.0
#: then it grows by this share of that rate each second
GROWTH = 0.05
#: requests per second: the rate is never cut below it
FLOOR = 1.0
# 503s are push-back once their share of recent answers (smoothed over about 20)
# passes this: a random 5-10% (a broker moving) never does, brokers down at once.
_SHARE_503 = 0.3
_SMOOTHING = 0.05
# With "auto", an answer slower than twice the fastest and 50 ms more is delayed.
_SLOWER = 2.0
_SLACK = 0.05
# While the queue drains, answers come faster by this much a second at least; the
# rate is over what the server serves when it is over this share of it.
_DRAINED = 0.95
_SERVED = 1.02
# The accepted and answered rates are counted over the current window and the last
# one, each at least this long.
_WINDOW = 1.0


@dataclass(frozen=True)
class Slowdown:
    """How a run slowed for push-back: ``cuts`` of the rate, the lowest it was cut
    to and the rate at the end (requests per second)."""

    cuts: int
    lowest: float
    final: float

    def __str__(self) -> str:
        return (
            f"the server pushed back and the run slowed {self.cuts:,} time"
            f"{'' if self.cuts == 1 else 's'}, to {self.lowest:,.1f} requests/s at the "
            f"lowest ({self.final:,.1f} at the end)"
        )


class Pressure:
    """The run's rate: :meth:`book` before each request, :meth:`answered` after each
    HTTP answer. ``max_rate`` caps it; ``"auto"`` also watches latency."""

    def __init__(
        self,
        max_rate: float | Literal["auto"] | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._ceiling = max_rate if isinstance(max_rate, float) else math.inf
        self._watch_latency = max_rate == "auto"
        #: whether starts are spaced at all (not until push-back, without max_rate)
        self.limited = math.isfinite(self._ceiling)
        # After a cut the rate climbs from _low (at _climb) back to _peak, where
        # push-back met it; not while the server's queue drains: _draining is then
        # the latency it was last checked at (at _checked).
        self._low = self._peak = self._ceiling
        self._climb = self._cut_at = -math.inf
        self._draining: float | None = None
        self._checked = -math.inf
        self._next = 0.0
        self._share_503 = 0.0
        self._fastest = math.inf
        now = clock()
        # answers, and answers accepted, in this window and the last one
        self._window_start = now
        self._answers = self._accepted = 0
        self._last_span, self._last_answers, self._last_accepted = 0.0, 0, 0
        self.cuts = 0
        self._lowest = math.inf

    def rate(self, now: float) -> float:
        """Requests per second allowed at ``now``."""
        if self.cuts == 0:
            return self._ceiling
        climbed = 0.0 if self._draining is not None else now - self._climb
        if climbed < RECOVERY:
            rate = self._low + (self._peak - self._low) * climbed / RECOVERY
        else:
            rate = self._peak * (1 + GROWTH * (climbed - RECOVERY))
        return min(self._ceiling, rate)

    def book(self) -> float:
        """The time the next request may start (on ``clock``), booked in turn so that
        starts are ``1/rate`` apart and a burst never exceeds one."""
        now = self._clock()
        if not self.limited:
            return now
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.rate(slot)
        return slot

    def answered(self, booked: float, status: int) -> None:
        """A request booked at ``booked`` got an answer with ``status``."""
        now = self._clock()
        self._answers += 1
        if status == 429:
            if booked >= self._cut_at:
                # Too fast: down from what is sent, but not far under what the server
                # accepted: a quota spent for the rest of its second refuses every
                # rate, and its 429s must not compound.
                peak = max(self._accepted_rate(now), DECREASE * self._sending(now))
                self._cut(now, min(DECREASE * peak, self.rate(now)), peak)
        elif status == 503:
            self._share_503 += _SMOOTHING * (1 - self._share_503)
            if self._share_503 > _SHARE_503 and booked >= self._cut_at:
                # unavailable, not too fast: once it is over, back to the rate before
                sending = self._sending(now)
                self._cut(now, DECREASE * sending, self._peak if self.cuts else sending)
        else:
            self._share_503 -= _SMOOTHING * self._share_503
            self._accepted += 1
            if self._watch_latency:
                self._watch(now, now - booked)
        if now - self._window_start >= _WINDOW:
            self._last_span = now - self._window_start
            self._last_answers, self._last_accepted = self._answers, self._accepted
            self._window_start, self._answers, self._accepted = now, 0, 0

    @property
    def slowed_to(self) -> float | None:
        """The rate push-back holds the run to now, if it slowed the run."""
        return self.rate(self._clock()) if self.cuts else None

    def slowdown(self) -> Slowdown | None:
        """How the run slowed, if push-back slowed it."""
        if not self.cuts:
            return None
        return Slowdown(self.cuts, self._lowest, self.rate(self._clock()))

    def _watch(self, now: float, latency: float) -> None:
        """Hold the rate under what the server serves while it queues requests (its
        answers come late), and let it climb once they come back in time."""
        self._fastest = min(self._fastest, latency)
        if latency <= _SLOWER * self._fastest + _SLACK:
            if self._draining is not None:
                self._draining = None
                self._climb = now
            return
        # Checked against what the server served in the last whole second, one that
        # began after the last check (a second with a cut in it says too little).
        began = self._window_start - self._last_span
        if not self._last_span or began < self._checked:
            return
        self._checked = now
        served = self._last_answers / self._last_span
        if self._draining is None or self.rate(now) > _SERVED * served:
            # It queues, so it serves all it can: served is its rate. Under it, the
            # queue drains and answers come faster.
            self._cut(now, DECREASE * served, served)
            self._draining = latency
        elif latency >= _DRAINED * self._draining:
            # Sending under what it serves made them no faster: the server is slower
            # now, for all. That is its pace from here on.
            self._fastest = latency
            self._draining = None
            self._climb = now
        else:
            self._draining = latency

    def _span(self, now: float) -> float:
        return self._last_span + now - self._window_start

    def _sending(self, now: float) -> float:
        """The rate requests go at: the rate, or what was answered lately if less."""
        span = self._span(now)
        answered = (self._last_answers + self._answers) / span if span > 0 else math.inf
        return min(self.rate(now), answered)

    def _accepted_rate(self, now: float) -> float:
        """What the server accepted lately, per second, as if over a second at least:
        a quota lets a burst through, and a shorter span would count it as a rate."""
        return (self._last_accepted + self._accepted) / max(self._span(now), _WINDOW)

    def _cut(self, now: float, low: float, peak: float) -> None:
        """The rate goes down to ``low`` now, and climbs back to ``peak``."""
        if not math.isfinite(low):
            return  # nothing measured yet: the next push-back will have something
        self._low, self._peak = max(FLOOR, low), max(FLOOR, peak)
        self._climb = self._cut_at = now
        self.cuts += 1
        self.limited = True
        self._lowest = min(self._lowest, self._low)
