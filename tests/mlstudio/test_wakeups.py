"""Wake-ups over the tests' real Redis: a waiter returns as soon as its name is woken, an
interrupt ends its wait at once, and without Redis it falls back to sleeping its period."""

import threading
import time

from mlstudio import wakeups


def woken_within(waiter: wakeups.Waiter, timeout: float) -> tuple[bool, float]:
    started = time.monotonic()
    return waiter.wait(timeout), time.monotonic() - started


def test_it_wakes_a_waiter_long_before_its_timeout():
    waiter = wakeups.Waiter("test-run-a")
    waiter.subscribe()
    try:
        threading.Timer(0.2, wakeups.wake, args=["test-run-a"]).start()
        woken, took = woken_within(waiter, 30)
        assert woken and took < 5
    finally:
        waiter.close()


def test_a_wake_sent_between_two_waits_is_not_lost():
    waiter = wakeups.Waiter("test-run-b")
    waiter.subscribe()
    try:
        wakeups.wake("test-run-b")
        assert waiter.wait(30)
    finally:
        waiter.close()


def test_another_name_does_not_wake_it():
    waiter = wakeups.Waiter("test-run-c")
    waiter.subscribe()
    try:
        wakeups.wake("test-run-other")
        woken, took = woken_within(waiter, 0.5)
        assert not woken and took >= 0.45
    finally:
        waiter.close()


def test_an_interrupt_ends_the_wait_at_once():
    waiter = wakeups.Waiter("test-run-d")
    waiter.subscribe()
    try:
        threading.Timer(0.2, waiter.interrupt).start()
        woken, took = woken_within(waiter, 30)
        assert not woken and took < 5
        assert not waiter.wait(30)  # and every later one
    finally:
        waiter.close()


def test_without_redis_it_sleeps_its_timeout_and_an_interrupt_still_ends_it(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    wakeups.wake("test-run-e")  # logged, not raised
    waiter = wakeups.Waiter("test-run-e")
    woken, took = woken_within(waiter, 0.3)
    assert not woken and took >= 0.25
    threading.Timer(0.2, waiter.interrupt).start()
    woken, took = woken_within(waiter, 30)
    assert not woken and took < 5
