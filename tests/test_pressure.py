"""The run's back-pressure controller (es_pandas._pressure), on a clock the tests move:
what push-back does to the rate, and what it does not. How close it gets to a real
quota is measured in benchmarks/ (scenario "pressure"), not asserted here; runs
against the local server are in test_produce_pressure.py."""

from __future__ import annotations

import heapq
import math

import pytest

from es_pandas._pressure import CUT, FLOOR, GAIN, TARGET, Pressure


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(
    pressure: Pressure,
    clock: Clock,
    seconds: float,
    rate: float,
    status=200,
    latency=0.0,
    refused_latency: float | None = None,
):
    """Requests offered at ``rate`` for ``seconds``, each started when the controller
    allows and answered ``latency`` later (seconds, or a function of the time it
    arrives) with ``status`` (an int, or a function of the request's number called as
    it arrives), a 429 after ``refused_latency`` if given (refused at once, it waits in
    no queue): returns how many started."""
    end = clock.now + seconds
    answers: list[tuple[float, float, int]] = []  # (answered at, booked at, status)
    offered = clock.now
    started = 0

    def answer_until(moment: float) -> None:
        while answers and answers[0][0] <= moment:
            clock.now, booked, code = heapq.heappop(answers)
            pressure.answered(booked, code)

    while True:
        answer_until(offered)
        clock.now = max(clock.now, offered)
        slot = pressure.book()
        answer_until(slot)
        if slot >= end:
            answer_until(math.inf)
            return started
        clock.now = slot
        code = status(started) if callable(status) else status
        if code == 429 and refused_latency is not None:
            late = refused_latency
        else:
            late = latency(slot) if callable(latency) else latency
        heapq.heappush(answers, (slot + late, slot, code))
        started += 1
        offered = slot + 1 / rate


@pytest.fixture
def clock() -> Clock:
    return Clock()


def bucket(clock: Clock, quota: dict[str, float], burst: float | None = None):
    """A quota that refuses what is over it, as the local server's ``over_quota="429"``
    does: a token bucket holding a second of requests (or ``burst``); a refused
    request takes none."""
    state = {"tokens": burst or quota["rate"], "at": clock.now}

    def status(_: int) -> int:
        rate = quota["rate"]
        room = burst or rate
        state["tokens"] = min(room, state["tokens"] + (clock.now - state["at"]) * rate)
        state["at"] = clock.now
        if state["tokens"] < 1:
            return 429
        state["tokens"] -= 1
        return 200

    return status


def test_no_push_back_no_limit(clock: Clock) -> None:
    pressure = Pressure(None, clock)
    run(pressure, clock, 5, rate=1000)
    assert not pressure.limited
    assert pressure.slowed_to is None and pressure.slowdown() is None


def test_max_rate_spaces_starts_and_is_never_exceeded(clock: Clock) -> None:
    pressure = Pressure(50.0, clock)
    assert pressure.limited
    assert run(pressure, clock, 2, rate=1000) == pytest.approx(100, abs=1)
    assert pressure.slowdown() is None


def test_the_first_429_limits_the_rate_to_what_the_server_accepted(clock: Clock) -> None:
    pressure = Pressure(None, clock)
    run(pressure, clock, 2, rate=400)
    pressure.answered(clock.now, 429)
    assert pressure.slowed_to == pytest.approx((1 - CUT) * 400, rel=0.01)
    assert str(pressure.slowdown()).startswith(
        "the server pushed back (1 answer) and the run slowed, to 380.0 requests/s"
    )


def test_a_start_climbs_with_clean_answers_until_its_own_requests_are_refused(
    clock: Clock,
) -> None:
    """The first 429 can come back before the answers to the requests sent with it:
    from there, what the server accepted is a floor for the rate, until a request
    sent after that 429 is refused too."""
    pressure = Pressure(None, clock)
    first = clock.now
    for _ in range(10):
        pressure.answered(first, 200)
    clock.now += 0.01
    pressure.answered(first, 429)
    assert pressure.slowed_to == pytest.approx((1 - CUT) * 10)
    # the server has just refused one: the next request waits its turn
    assert pressure.book() == pytest.approx(clock.now + 1 / ((1 - CUT) * 10))
    for _ in range(90):  # the rest of the first requests' answers
        pressure.answered(first, 200)
    assert pressure.slowed_to == pytest.approx((1 - CUT) * 100)
    clock.now += 0.01
    for _ in range(50):  # sent after the 429, and taken: there may be room for more
        pressure.answered(clock.now, 200)
    assert pressure.slowed_to == pytest.approx((1 - CUT) * 150)
    pressure.answered(clock.now, 429)  # sent after the 429, and refused: the start ends
    cut = pressure.slowed_to
    assert cut == pytest.approx((1 - CUT) ** 2 * 150)
    # what the summary calls the lowest is not the start's first, passing step
    assert pressure.slowdown().lowest == pytest.approx(cut)
    pressure.answered(clock.now, 200)
    assert pressure.slowed_to == pytest.approx(cut * (1 + GAIN))


def test_a_start_past_the_quota_goes_back_to_what_the_server_took(clock: Clock) -> None:
    """A quota of 5 a second whose bucket holds a second of them: the climb passes it
    before the bucket runs dry. At the climb's first refusal the rate goes back to
    what the server took since the first 429, not 5% under where the climb got to
    (which took a 5% cut, and a 429, for each step down)."""
    pressure = Pressure(None, clock)
    first = clock.now
    for _ in range(5):  # the burst
        pressure.answered(first, 200)
    clock.now += 0.01
    pressure.answered(first, 429)
    cut = clock.now
    for _ in range(9):  # sent since, 5 a second, and taken while the rate climbs
        clock.now += 0.2
        pressure.answered(clock.now - 0.01, 200)
    assert pressure.slowed_to > 8
    pressure.answered(clock.now, 429)
    assert pressure.slowed_to == pytest.approx((1 - CUT) * 9 / (clock.now - cut))


def test_a_start_ended_on_the_clock_tick_of_its_first_429_keeps_its_rate(clock: Clock) -> None:
    # no time has passed to measure what the server took in: the climb's rate is cut
    pressure = Pressure(None, clock)
    for _ in range(10):
        pressure.answered(clock.now, 200)
    pressure.answered(clock.now, 429)
    first = pressure.slowed_to
    for _ in range(5):
        pressure.answered(clock.now, 200)
    climbed = pressure.slowed_to
    pressure.answered(clock.now, 429)
    assert climbed > first and pressure.slowed_to == pytest.approx((1 - CUT) * climbed)


@pytest.mark.parametrize("burst", [10, 30])
def test_a_quota_whose_burst_is_short_is_found_quickly(clock: Clock, burst: int) -> None:
    """A quota that lets fewer than a second of requests through at once: the first
    429 measures it low, and the rate climbs to it within seconds, not minutes."""
    pressure = Pressure(None, clock)
    run(pressure, clock, 5, rate=1000, status=bucket(clock, {"rate": 100}, burst), latency=0.02)
    assert pressure.slowed_to >= 90
    assert run(pressure, clock, 10, rate=1000, status=bucket(clock, {"rate": 100}, burst)) >= 950


def test_one_stray_429_does_not_hold_a_run_back(clock: Clock) -> None:
    """A 429 early in a run against a server with no quota: the rate it set climbs
    back out of the way within seconds."""
    pressure = Pressure(None, clock)
    run(pressure, clock, 0.2, rate=100, latency=0.02)
    pressure.answered(clock.now, 429)
    assert pressure.slowed_to < 30
    run(pressure, clock, 5, rate=100, latency=0.02)
    assert run(pressure, clock, 10, rate=100, latency=0.02) >= 990


def test_answers_to_requests_booked_before_a_cut_do_not_cut_again(clock: Clock) -> None:
    pressure = Pressure(None, clock)
    run(pressure, clock, 2, rate=400)
    before = clock.now - 0.001
    for _ in range(30):  # the rest of a burst in flight when the first 429 came
        pressure.answered(before, 429)
    assert pressure.slowed_to == pytest.approx((1 - CUT) * 400, rel=0.01)
    clock.now += 0.01
    pressure.answered(clock.now, 429)  # booked after the cut: the new rate is too high
    assert pressure.slowed_to == pytest.approx((1 - CUT) ** 2 * 400, rel=0.01)
    assert pressure.slowdown().answers == 31


def test_clean_answers_raise_the_rate_up_to_max_rate(clock: Clock) -> None:
    pressure = Pressure(120.0, clock)
    run(pressure, clock, 2, rate=1000)
    pressure.answered(clock.now, 429)
    slowed = pressure.slowed_to
    assert slowed == pytest.approx((1 - CUT) * 120, rel=0.01)
    pressure.answered(clock.now, 200)
    assert pressure.slowed_to == pytest.approx(slowed * (1 + GAIN))
    run(pressure, clock, 60, rate=1000)
    assert pressure.slowed_to == 120


@pytest.mark.parametrize("quota", [5.0, 100.0, 1000.0])
def test_a_quota_that_refuses_is_found_and_followed_when_it_halves(
    clock: Clock, quota: float
) -> None:
    """Requests over the quota are answered 429: the rate settles at it, with few
    refused; when the quota halves, the rate follows within seconds."""
    limit = {"rate": quota}
    refused = []
    bucket_status = bucket(clock, limit)

    def status(n: int) -> int:
        code = bucket_status(n)
        refused.append(code == 429)
        return code

    pressure = Pressure(None, clock)
    seconds = 3000 / quota  # 3,000 requests' worth
    sent = run(pressure, clock, seconds, rate=10 * quota, status=status)
    assert sent >= 0.95 * seconds * quota
    # the first second included, with the quota's burst in it
    assert sum(refused) / len(refused) <= 2 * TARGET
    limit["rate"] = quota / 2
    run(pressure, clock, 30 / quota * 10, rate=10 * quota, status=status)
    assert quota / 2 * 0.8 <= pressure.slowed_to <= quota / 2 * 1.2


def test_a_503_now_and_then_is_not_push_back(clock: Clock) -> None:
    pressure = Pressure(None, clock)
    run(pressure, clock, 10, rate=500, status=lambda n: 503 if n % 10 == 0 else 200)
    assert pressure.slowdown() is None


def test_many_503s_slow_the_run_and_it_returns_to_its_rate(clock: Clock) -> None:
    pressure = Pressure(None, clock)
    run(pressure, clock, 2, rate=200)
    run(pressure, clock, 1, rate=200, status=503)  # brokers down for a second
    assert pressure.slowed_to < 100
    run(pressure, clock, 2, rate=1000)
    # unavailable was not "too fast": back to no limit, as before them
    assert not pressure.limited


def test_a_run_down_from_its_start_returns_to_no_limit(clock: Clock) -> None:
    """Brokers unavailable from the run's first request: its rows waiting out
    Retry-After sent a few requests a second, which is no rate it had before them.
    Once they are back, the run is not limited again (it crawled on at that pace)."""
    pressure = Pressure(None, clock)
    run(pressure, clock, 15, rate=3, status=503)
    assert pressure.slowed_to is not None and pressure.slowed_to < 3
    started = run(pressure, clock, 4, rate=1000)
    assert started > 1500
    assert not pressure.limited
    assert "no limit at the end" in str(pressure.slowdown())


def test_a_run_down_from_its_start_returns_to_its_max_rate(clock: Clock) -> None:
    """The same with max_rate (as the README advises on IBM Cloud: the plan's quota):
    the run goes back to max_rate, not a crawl up from the outage's pace."""
    pressure = Pressure(100.0, clock)
    run(pressure, clock, 15, rate=3, status=503)
    assert pressure.slowed_to is not None and pressure.slowed_to < 3
    started = run(pressure, clock, 6, rate=1000)
    assert started > 250  # a few seconds back to max_rate, then at it
    assert pressure.rate == 100 and pressure.slowed_to is None


def test_a_quota_met_on_the_return_to_no_limit_holds_the_rate(clock: Clock) -> None:
    """Back from 503s to no limit, a quota's 429s limit the run as at any time."""
    pressure = Pressure(None, clock)
    run(pressure, clock, 15, rate=3, status=503)
    quota = {"rate": 50.0}
    run(pressure, clock, 20, rate=1000, status=bucket(clock, quota))
    assert pressure.slowed_to is not None and 50 * 0.3 <= pressure.slowed_to <= 50 * 1.3


def test_the_floor(clock: Clock) -> None:
    pressure = Pressure(None, clock)
    run(pressure, clock, 2, rate=10)
    run(pressure, clock, 60, rate=10, status=429)
    assert pressure.slowed_to == FLOOR


def queue(clock: Clock, capacity: float, base: float = 0.02):
    """A server that serves ``capacity`` requests a second in turn, as a quota that
    delays does: each request's latency as it arrives."""
    free = {"at": 0.0}

    def latency(arrival: float) -> float:
        free["at"] = max(arrival, free["at"]) + 1 / capacity
        return free["at"] - arrival + base

    return latency


def test_auto_holds_the_rate_under_what_a_delaying_server_serves(clock: Clock) -> None:
    """A quota that delays answers (IBM Cloud's): with auto the rate goes under what
    the server serves, so its queue drains and answers come back in time; the rate
    then settles at the quota."""
    pressure = Pressure("auto", clock)
    served = queue(clock, capacity=100)
    run(pressure, clock, 5, rate=1000, latency=served)
    end = clock.now + 20
    assert run(pressure, clock, 20, rate=1000, latency=served) >= 0.9 * 20 * 100
    assert served(end) < 0.5  # the queue is short: 0.5 s would be 50 requests
    # without auto, the queue grows for as long as the run lasts
    pressure, served = Pressure(None, clock), queue(clock, capacity=100)
    end = clock.now + 20
    run(pressure, clock, 20, rate=1000, latency=served)
    assert pressure.slowdown() is None and served(end) > 100


def test_auto_holds_the_rate_under_a_queue_after_a_429_in_the_first_second(
    clock: Clock,
) -> None:
    """A 429 early on starts a climb with the answers; auto finding the server queues
    ends it, so the rate stays under what the server serves."""
    pressure = Pressure("auto", clock)
    served = queue(clock, capacity=100)
    started = run(
        pressure,
        clock,
        40,
        rate=1000,
        latency=served,
        status=lambda n: 429 if n == 900 else 200,
        refused_latency=0.005,
    )
    # the first seconds, before auto saw the queue, went faster
    assert started <= 1.5 * 40 * 100
    assert pressure.slowed_to <= 1.1 * 100


def test_auto_takes_a_server_slower_for_all_as_its_new_pace(clock: Clock) -> None:
    """Answers that stay slow whatever the rate are not a queue: after a cut that does
    not help, the rate climbs back."""
    pressure = Pressure("auto", clock)
    run(pressure, clock, 2, rate=100, latency=0.02)
    run(pressure, clock, 3, rate=100, latency=0.5)
    assert pressure.slowed_to < 100
    run(pressure, clock, 10, rate=1000, latency=0.5)
    assert pressure.slowed_to >= 100


def test_nothing_measured_yet_nothing_limited(clock: Clock) -> None:
    pressure = Pressure(None, clock)
    pressure.answered(clock.now, 429)
    assert not pressure.limited and pressure.slowdown() is None


def test_a_released_pressure_lets_every_waiting_turn_go_at_once() -> None:
    # A stopped run: requests waiting their turns at 1 every 10 s go at once (they end
    # without being sent), the one sleeping in its turn too.
    import asyncio

    async def main() -> float:
        pressure = Pressure(0.1)
        loop = asyncio.get_running_loop()
        await pressure.start()
        waiting = [asyncio.ensure_future(pressure.start()) for _ in range(3)]
        await asyncio.sleep(0)
        started = loop.time()
        pressure.release()
        await asyncio.gather(*waiting)
        return loop.time() - started

    assert asyncio.run(main()) < 2
