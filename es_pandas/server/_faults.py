"""Fault injection for the local server: latency, error statuses, dropped
connections and an IBM Cloud-style quota that delays responses.

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
from typing import Any

__all__ = ["Fault", "FaultConfig", "FaultInjector"]

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
    429 and 503 answers. ``quota`` (requests per second) delays answers the way
    IBM Cloud does when a plan's request rate is exceeded: a burst of up to one
    second's worth passes at once, later requests wait for their turn.
    """

    latency: tuple[float, float] = (0.0, 0.0)
    rates: Mapping[str, float] = field(default_factory=dict)
    retry_after: float | None = 1.0
    quota: float | None = None
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
        if self.seed is not None and not isinstance(self.seed, (int, str)):
            raise ValueError(f"seed must be a whole number or a string, not {self.seed!r:.80}")

    def to_json(self) -> dict[str, Any]:
        return {
            "latency": list(self.latency),
            "rates": dict(self.rates),
            "retry_after": self.retry_after,
            "quota": self.quota,
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
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rates = [(Fault.parse(a), r) for a, r in config.rates.items() if r > 0]
            self._random = random.Random(config.seed)
            self._tokens = config.quota or 0.0
            self._refilled = time.monotonic()

    def script(self, actions: Iterable[str]) -> None:
        """Queue actions for the next requests, one each; ``"503x5"`` is five 503s."""
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
            if len(self._script) + sum(n for _, n in runs) > MAX_SCRIPT:
                raise ValueError(f"a fault script holds at most {MAX_SCRIPT} actions")
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

    async def delay(self) -> float:
        """Sleep for the configured latency and for the quota, if any; returns how long
        the quota held this request back."""
        config = self._config
        low, high = config.latency
        wait = low if low == high else self._random.uniform(low, high)
        throttled = 0.0
        if config.quota:
            # A token bucket holding one second of requests: bursts up to the quota pass,
            # beyond it answers are spaced out. Tokens below zero are requests waiting.
            with self._lock:
                now = time.monotonic()
                refill = (now - self._refilled) * config.quota
                self._tokens = min(config.quota, self._tokens + refill) - 1
                self._refilled = now
                if self._tokens < 0:
                    throttled = -self._tokens / config.quota
            wait += throttled
        if wait > 0:
            await asyncio.sleep(wait)
        return throttled
