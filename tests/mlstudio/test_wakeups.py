"""Wake-ups over the tests' real Redis: a waiter returns as soon as its name is woken, an
interrupt ends its wait at once, and without Redis it falls back to sleeping its period."""

import threading
import time
import uuid

import pytest

from mlstudio import wakeups


@pytest.fixture
def name():
    # Unique: pub/sub channels span a shared Redis's databases and other test runs.
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def waiter(name):
    """A subscribed waiter on a name of its own."""
    made = wakeups.Waiter(name)
    made.subscribe()
    yield made
    made.close()


def woken_within(waiter: wakeups.Waiter, timeout: float) -> tuple[bool, float]:
    started = time.monotonic()
    return waiter.wait(timeout), time.monotonic() - started


def test_it_wakes_a_waiter_long_before_its_timeout(waiter, name):
    threading.Timer(0.2, wakeups.wake, args=[name]).start()
    woken, took = woken_within(waiter, 30)
    assert woken and took < 5


def test_a_wake_sent_between_two_waits_is_not_lost(waiter, name):
    wakeups.wake(name)
    assert waiter.wait(30)


def test_another_name_does_not_wake_it(waiter, name):
    wakeups.wake(f"{name}-other")
    woken, took = woken_within(waiter, 0.5)
    assert not woken and took >= 0.45


def test_an_interrupt_ends_the_wait_at_once(waiter):
    threading.Timer(0.2, waiter.interrupt).start()
    woken, took = woken_within(waiter, 30)
    assert not woken and took < 5
    assert not waiter.wait(30)  # and every later one


def test_without_redis_it_sleeps_its_timeout_and_an_interrupt_still_ends_it(settings, name):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    wakeups.wake(name)  # logged, not raised
    waiter = wakeups.Waiter(name)
    woken, took = woken_within(waiter, 0.3)
    assert not woken and took >= 0.25
    threading.Timer(0.2, waiter.interrupt).start()
    woken, took = woken_within(waiter, 30)
    assert not woken and took < 5
