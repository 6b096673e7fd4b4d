"""Background threads for I/O around the estimator: decode ahead, encode behind.

Decoding (Pillow, OpenCV) and encoding (PNG, video) release the GIL for most of their work, so
running them in threads overlaps them with the estimator on the main thread.  Every queue is
bounded, so memory stays flat however long the input is.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
_DONE = object()


def map_ahead(function: Callable[[Item], Result], items: Iterable[Item], pool: ThreadPoolExecutor,
              depth: int) -> Iterator[tuple[Item, Future]]:
    """Yield ``(item, future of function(item))`` in order, keeping up to ``depth`` calls in flight.

    The caller takes ``future.result()``, which re-raises the call's exception for that item only.
    """
    pending: deque[tuple[Item, Future]] = deque()
    for item in items:
        pending.append((item, pool.submit(function, item)))
        if len(pending) > depth:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


def read_ahead(iterator: Iterator[Item], depth: int) -> Iterator[Item]:
    """Run ``iterator`` in a producer thread, ``depth`` items ahead of the consumer.

    An exception in the producer is re-raised in the consumer at that point of the sequence.
    If the consumer stops early (break, exception), the producer is told to stop and joined.
    """
    items: queue.Queue = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((_DONE, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            items.put((_DONE, error))

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                items.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)


class BackgroundTasks:
    """Fire-and-forget tasks (e.g. writing overlays) with a bound on the tasks in flight.

    ``submit`` blocks while ``max_pending`` tasks are unfinished.  A failed task does not stop
    the others: its ``(label, exception)`` goes to ``on_error``, called from the submitting
    thread (in :meth:`submit` or :meth:`wait`), so reports never interleave.
    """

    def __init__(self, pool: ThreadPoolExecutor, max_pending: int,
                 on_error: Callable[[str, BaseException], None]) -> None:
        self._pool, self._max_pending, self._on_error = pool, max(max_pending, 1), on_error
        self._pending: deque[tuple[str, Future]] = deque()

    def submit(self, label: str, function: Callable, *args) -> None:
        while len(self._pending) >= self._max_pending:
            self._finish(*self._pending.popleft())
        self._pending.append((label, self._pool.submit(function, *args)))

    def wait(self) -> None:
        """Block until every submitted task is done, reporting failures."""
        while self._pending:
            self._finish(*self._pending.popleft())

    def _finish(self, label: str, future: Future) -> None:
        error = future.exception()
        if error is not None:
            self._on_error(label, error)
