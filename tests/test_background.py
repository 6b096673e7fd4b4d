"""map_ahead / read_ahead / BackgroundTasks: order kept, errors delivered, bounded, clean shutdown."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from wholebody.predict.background import BackgroundTasks, map_ahead, read_ahead


def test_map_ahead_keeps_order_and_isolates_errors():
    def work(x):
        time.sleep(0.002 * (5 - x % 5))  # later items finish first
        if x == 3:
            raise ValueError("bad item 3")
        return x * 10

    with ThreadPoolExecutor(3) as pool:
        seen = []
        for item, future in map_ahead(work, range(8), pool, depth=3):
            try:
                seen.append((item, future.result()))
            except ValueError as err:
                seen.append((item, str(err)))
    assert seen == [(0, 0), (1, 10), (2, 20), (3, "bad item 3"), (4, 40), (5, 50), (6, 60), (7, 70)]


def test_map_ahead_bounds_the_work_in_flight():
    started = []
    with ThreadPoolExecutor(2) as pool:
        for item, future in map_ahead(started.append, range(100), pool, depth=4):
            future.result()
            assert len(started) <= item + 5  # never more than depth + 1 items ahead of the consumer


def test_read_ahead_yields_everything_in_order_and_reraises():
    assert list(read_ahead(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise OSError("decoder died")

    got = []
    with pytest.raises(OSError, match="decoder died"):
        for item in read_ahead(failing(), depth=2):
            got.append(item)
    assert got == [1]


def test_read_ahead_stops_its_thread_when_the_consumer_stops():
    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    before = threading.active_count()
    for item in read_ahead(endless(), depth=2):
        if item == 5:
            break
    assert threading.active_count() == before
    assert len(produced) <= 5 + 4  # bounded look-ahead, then stopped


def test_background_tasks_report_failures_in_the_caller_thread():
    errors = []
    caller = threading.get_ident()

    def on_error(label, err):
        errors.append((label, str(err), threading.get_ident() == caller))

    def job(x):
        if x % 2:
            raise RuntimeError(f"job {x} failed")

    with ThreadPoolExecutor(2) as pool:
        tasks = BackgroundTasks(pool, max_pending=2, on_error=on_error)
        for x in range(6):
            tasks.submit(f"job{x}", job, x)
        tasks.wait()
    assert sorted(errors) == [("job1", "job 1 failed", True), ("job3", "job 3 failed", True),
                              ("job5", "job 5 failed", True)]
