"""Fault injection for the local server: latency, error statuses, dropped
connections and an IBM Cloud-style request quota, which delays the answers beyond it
or refuses them with 429.

A fault *action* is written as a short string:

==================  ===========================================================
``"ok"``            answer normally
``"503"``           answer with that status, record not written
``"408+written"``   write the record, then answer 408 (an ambiguous outcome)
``"drop"``          close the connection without an answer, record not written
``"drop+written"``  write the record, then close the connection
==================  ===========================================================
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = ["Fault", "FaultConfig", "FaultInjector", "OverQuota", "QuotaTurn"]

_ACTION = re.compile(r"^(ok|drop|[1-5]\d\d)(\+written)?$")

#: queued actions at most: each is a list entry, and '503x999999999' asks for that many
MAX_SCRIPT = 1_000_000


@dataclass(frozen=True, slots=True)
class Fault:
    """One parsed action: an HTTP status to answer with, or a dropped connection."""

    status: int | None = None  # None: no error status
    drop: bool = False
    written: bool = True  # whether the record is stored before the fault

    @classmethod
    def parse(cls, action: str) -> Fault:
        match = _ACTION.match(action.strip().lower()) if isinstance(action, str) else None
        if match is None:
            raise ValueError(
                f"unknown fault action {action!r:.80}: use 'ok', 'drop', an HTTP status such as "
                "'503', optionally followed by '+written'"
            )
        name, written = match.groups()
        if name == "ok":
            return OK
        if name == "drop":
            return cls(drop=True, written=bool(written))
        return cls(status=int(name), written=bool(written))

    def __str__(self) -> str:
        if self is OK or (self.status is None and not self.drop):
            return "ok"
        name = "drop" if self.drop else str(self.status)
        return name + ("+written" if self.written else "")


OK = Fault()

#: what the quota does to a request beyond it: wait for its turn, or answer 429 at once
OverQuota = Literal["delay", "429"]

#: what the quota made of one request: within it, held back (over a millisecond), refused
QuotaTurn = Literal["within", "held", "refused"]


def _parse_latency(value: float | tuple[float, float] | str) -> tuple[float, float]:
    try:
        if isinstance(value, str):
            first, _, second = value.partition("-")
            low, high = float(first), float(second or first)
        elif isinstance(value, (int, float)):
            low = high = float(value)
        else:
            low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"latency must be seconds or a (low, high) pair of them, not {value!r:.80}"
        ) from None
    if not 0 <= low <= high < math.inf:
        raise ValueError(f"latency must be 0 <= low <= high seconds, not {value!r:.80}")
    return (low, high)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class FaultConfig:
    """Faults applied to produce requests (never to the IAM or ``/_local`` routes).

    ``latency`` is seconds added to every answer: a number, or ``(low, high)`` for a
    uniform spread. ``rates`` maps actions to the fraction of requests they hit,
    e.g. ``{"503": 0.05, "drop": 0.01}``. ``retry_after`` (seconds) is sent with
    429 and 503 answers. ``quota`` (requests per second) is a token bucket holding
    one second of requests: a burst of up to one second's worth passes at once, and
    beyond it requests are spaced ``1/quota`` apart. ``over_quota`` says what happens
    to a request beyond it: ``"delay"`` answers it when its turn comes, as IBM Cloud
    delays answers over its byte-throughput quota; ``"429"`` answers it at once with
    429 Too Many Requests and ``retry_after``, writing nothing and taking no token.

    Configuring an injector anew (``set_faults``, ``PUT /_local/faults``) restarts
    the random draws from ``seed``, but a change of quota keeps the bucket as it is,
    capped at the new quota's second: a lower quota holds at once, and no change
    hands out a fresh burst. A quota set where there was none starts with a full one.
    """

    latency: tuple[float, float] = (0.0, 0.0)
    rates: Mapping[str, float] = field(default_factory=dict)
    retry_after: float | None = 1.0
    quota: float | None = None
    over_quota: OverQuota = "delay"
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency", _parse_latency(self.latency))
        if not isinstance(self.rates, Mapping):
            raise ValueError(f"rates must map fault actions to fractions, not {self.rates!r:.80}")
        for action, rate in self.rates.items():
            Fault.parse(action)
            if not (_is_number(rate) and 0 <= rate <= 1):
                raise ValueError(
                    f"fault rate for {action!r:.80} must be within 0..1, got {rate!r:.80}"
                )
        if sum(self.rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        if self.retry_after is not None and not (
            _is_number(self.retry_after) and self.retry_after >= 0
        ):
            raise ValueError(f"retry_after must be seconds or None, not {self.retry_after!r:.80}")
        if self.quota is not None and not (_is_number(self.quota) and self.quota > 0):
            raise ValueError("quota must be a positive number of requests per second")
        if self.over_quota not in get_args(OverQuota):
            raise ValueError(f"over_quota must be 'delay' or '429', not {self.over_quota!r:.80}")
        if self.seed is not None and not isinstance(self.seed, (int, str)):
            raise ValueError(f"seed must be a whole number or a string, not {self.seed!r:.80}")

    def to_json(self) -> dict[str, Any]:
        return {
            "latency": list(self.latency),
            "rates": dict(self.rates),
            "retry_after": self.retry_after,
            "quota": self.quota,
            "over_quota": self.over_quota,
            "seed": self.seed,
        }


class FaultInjector:
    """Decides, request by request, what fault (if any) the server answers with.

    Scripted actions (``script``) are used first, one per request, in order;
    then ``rates`` draw at random. Thread safe, so a test can script faults
    while the server runs on another thread.
    """

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._script: deque[Fault] = deque()
        self._config = FaultConfig()
        # The quota's bucket: tokens below zero are requests waiting their turn.
        self._tokens = 0.0
        self._refilled = time.monotonic()
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Apply ``config``; what carries over is told in :class:`FaultConfig`."""
        with self._lock:
            if self._config.quota and config.quota:
                self._tokens = min(config.quota, self._refill())
            else:
                self._tokens = config.quota or 0.0
                self._refilled = time.monotonic()
            self._config = config
            self._rates = [(Fault.parse(a), r) for a, r in config.rates.items() if r > 0]
            self._random = random.Random(config.seed)

    def script(self, actions: Iterable[str], *, replace: bool = False) -> None:
        """Queue actions for the next requests, one each; ``"503x5"`` is five 503s.
        ``replace``: in place of the actions still queued."""
        runs = []
        for item in actions:
            if not isinstance(item, str):
                raise ValueError(f"a fault action is a string such as '503', not {item!r:.80}")
            action, repeat, times = item.strip().partition("x")
            if repeat and not times.isdigit():
                raise ValueError(
                    f"unknown fault action {item!r:.80}: repeat as ACTIONxN, e.g. 503x5"
                )
            runs.append((Fault.parse(action), int(times) if repeat else 1))
        with self._lock:
            kept = 0 if replace else len(self._script)
            if kept + sum(n for _, n in runs) > MAX_SCRIPT:
                raise ValueError(f"a fault script holds at most {MAX_SCRIPT} actions")
            if replace:
                self._script.clear()
            for fault, count in runs:
                self._script.extend([fault] * count)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
        self.configure(FaultConfig())

    @property
    def scripted(self) -> list[str]:
        with self._lock:
            return [str(f) for f in self._script]

    @property
    def active(self) -> bool:
        config = self._config
        return bool(self._script or self._rates or config.latency[1] or config.quota)

    def next_fault(self) -> Fault:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self._rates:
                draw = self._random.random()
                for fault, rate in self._rates:
                    if draw < rate:
                        return fault
                    draw -= rate
            return OK

    def _refill(self) -> float:
        """The bucket's tokens now, refilled at the quota up to one second's worth; call
        with the lock held and a quota set."""
        quota = self._config.quota
        assert quota
        now = time.monotonic()
        self._tokens = min(quota, self._tokens + (now - self._refilled) * quota)
        self._refilled = now
        return self._tokens

    async def delay(self) -> QuotaTurn:
        """Sleep for the configured latency and, beyond a quota that delays, until the
        request's turn; say what the quota made of the request."""
        turn: QuotaTurn = "within"
        with self._lock:
            config = self._config
            low, high = config.latency
            wait = low if low == high else self._random.uniform(low, high)
            if config.quota:
                tokens = self._refill()
                if tokens < 1 and config.over_quota == "429":
                    turn = "refused"
                else:
                    self._tokens -= 1
                    held = max(0.0, -self._tokens / config.quota)
                    wait += held
                    # Waits under a millisecond are the clock's noise, not the quota's.
                    if held > 0.001:
                        turn = "held"
        if wait > 0:
            await asyncio.sleep(wait)
        return turn
