"""The engines' whole-request timeout, kept for all requests in flight on one timer
(es_pandas/_transports/_deadlines.py): it ends only its own request, with TimeoutError,
and a cancellation from elsewhere (a Ctrl-C, a stopped run) stays a cancellation.
The engines' conformance suite (test_engines.py) runs it over real sockets."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from es_pandas._transports._deadlines import Deadlines


async def hang(deadlines: Deadlines, started: asyncio.Event) -> None:
    with deadlines():
        started.set()
        await asyncio.Event().wait()


def test_a_passed_deadline_ends_its_request_with_timeout_error() -> None:
    async def main() -> None:
        deadlines = Deadlines(0.05)
        with pytest.raises(TimeoutError):
            await hang(deadlines, asyncio.Event())
        # the task itself was not left cancelled: it goes on
        await asyncio.sleep(0)

    asyncio.run(main())


def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    async def main() -> None:
        deadlines = Deadlines(30)
        started = asyncio.Event()
        task = asyncio.ensure_future(hang(deadlines, started))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_a_cancellation_from_elsewhere_wins_over_a_deadline_passing_with_it() -> None:
    async def main() -> None:
        deadlines = Deadlines(30)
        started = asyncio.Event()
        task = asyncio.ensure_future(hang(deadlines, started))
        await started.wait()
        (deadline,) = deadlines._running
        deadline.expire()  # the deadline passes ...
        task.cancel()  # ... and the run is stopped, before the task runs again
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_requests_that_end_in_time_leave_nothing_behind() -> None:
    async def main() -> None:
        deadlines = Deadlines(0.05)

        async def quick() -> None:
            with deadlines():
                await asyncio.sleep(0)

        await asyncio.gather(*(quick() for _ in range(100)))
        assert not deadlines._running
        # the timer, still set for the first deadline, passes without ending anything
        await asyncio.sleep(0.1)
        await quick()
        deadlines.close()

    asyncio.run(main())


def test_a_timer_that_fires_a_little_early_under_uvloop_does_not_spin() -> None:
    # uvloop keeps time in milliseconds and fires timers up to one early: a timer set
    # again for the same deadline ran thousands of times until the millisecond passed.
    uvloop = pytest.importorskip("uvloop")
    deadlines = Deadlines(0.0503)
    fired = 0
    expire = deadlines._expire

    def counted() -> None:
        nonlocal fired
        fired += 1
        expire()

    deadlines._expire = counted  # type: ignore[method-assign]

    async def main() -> None:
        async def one(start: float) -> None:
            await asyncio.sleep(start)  # deadlines apart, each with a timer of its own
            with pytest.raises(TimeoutError):
                await hang(deadlines, asyncio.Event())

        await asyncio.gather(*(one(i * 0.0003) for i in range(20)))

    uvloop.run(main())
    assert fired <= 40


def test_a_transport_used_again_in_a_later_event_loop_still_times_out() -> None:
    deadlines = Deadlines(0.05)

    async def quick() -> None:
        with deadlines():
            await asyncio.sleep(0)

    async def slow() -> None:
        # the timer set in the first loop, for the first request, died with that loop;
        # wait_for's own 5 s would say so (raising TimeoutError too, but only then)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(hang(deadlines, asyncio.Event()), 5)
        assert loop.time() - started < 4

    asyncio.run(quick())
    asyncio.run(slow())


def test_time_the_loop_stood_still_is_not_counted() -> None:
    """An answer that came while the loop was blocked (a notebook cell blocking the
    kernel's loop, an aproduce task on it) lay unread, and the timer, run first, ended
    its request: sent again, the record was written twice. A request that gets no
    answer still times out, a moment later."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(0.2)
        answer: asyncio.Future[str] = loop.create_future()

        async def request() -> str:
            with deadlines():
                return await answer

        answered = asyncio.ensure_future(request())
        unanswered = asyncio.ensure_future(hang(deadlines, asyncio.Event()))
        await asyncio.sleep(0)
        # the answer comes from the network (another thread) while the loop is blocked
        threading.Timer(0.1, loop.call_soon_threadsafe, (answer.set_result, "ok")).start()
        time.sleep(1.6)  # past the deadline, by more than STALL_SECONDS
        assert await answered == "ok"
        resumed = loop.time()
        with pytest.raises(TimeoutError):
            await unanswered
        assert 0.1 < loop.time() - resumed < 2

    asyncio.run(main())


def test_a_stall_that_ends_just_past_a_deadline_is_not_counted_either() -> None:
    """The stall was told by how late the timer, set for the deadline itself, fired: a
    stall of 1.5 s ending 0.5 s past a 1 s deadline looked like none, and the request
    whose answer had come meanwhile timed out (sent again: written twice)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(1.0)
        answer: asyncio.Future[str] = loop.create_future()

        async def request() -> str:
            with deadlines():
                return await answer

        answered = asyncio.ensure_future(request())
        await asyncio.sleep(0)
        threading.Timer(0.1, loop.call_soon_threadsafe, (answer.set_result, "ok")).start()
        time.sleep(1.5)
        assert await answered == "ok"

    asyncio.run(main())
