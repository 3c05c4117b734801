"""The retry policy: which outcomes are tried again, and how long to wait first."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._exceptions import ConfigurationError

__all__ = ["DOWN_SECONDS", "Retry", "backoff_time", "parse_retry_after"]

#: how long a run of nothing but 5xx and 408 answers, once a row has failed with every
#: retry spent in it, says a service is down however few answers came: back-pressure
#: slows such a run to a request a second, at which a round of the requests in flight
#: would take minutes. A run that has written rows rides out a shorter outage.
DOWN_SECONDS = 30


@dataclass(frozen=True)
class Retry:
    """Which outcomes are retried, how often and how long to wait between tries.

    Waits are capped exponential backoff with full jitter, or ``Retry-After`` when the
    server sends one. Statuses in ``ambiguous`` (and timeouts or broken connections
    after the request went out) may have written the record: a row whose tries all
    end after one of them is ``unknown``, not ``failed``.
    """

    retries: int = 4
    backoff: float = 0.25
    max_backoff: float = 10.0
    max_retry_after: float = 60.0
    statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    ambiguous: frozenset[int] = frozenset({408, 500, 502, 504})

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigurationError(
                f"retries must be an integer of at least 0, not {self.retries!r}"
            )
        for name in ("backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigurationError(f"{name} must be a number of seconds, not {value!r}")


def backoff_time(attempt: int, retry: Retry, rng: Callable[[], float] = random.random) -> float:
    """Capped exponential backoff with full jitter, before retry number ``attempt`` (1-based)."""
    return rng() * min(retry.max_backoff, retry.backoff * 2.0 ** (attempt - 1))


def parse_retry_after(value: str | None, cap: float) -> float | None:
    """``Retry-After`` in seconds (delay-seconds or an HTTP date), at most ``cap``; None
    when absent or unreadable, so the usual backoff applies."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), cap)
