"""Ctrl-C and SIGTERM as exceptions, so a terminated run cleans up exactly as an interrupted one.

``kill PID``, ``timeout``, systemd and container runtimes stop a process with SIGTERM, whose
default is to die on the spot, leaving hidden temporary files behind.  Inside
:func:`interrupts_as_exceptions` SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``) in
the main thread, so every ``except KeyboardInterrupt`` / ``finally`` that removes temporary files
runs; the CLI then exits with :func:`interrupt_status` (143 = 128 + SIGTERM, 130 for Ctrl-C).

:func:`interrupts_held` postpones both to the end of a short block (renaming finished files into
place), so an interrupt cannot land between two renames.  This is done in the Python handler,
not with a signal mask: in a process with worker threads the kernel may deliver a signal to any
thread, and Python runs its handler in the main thread whatever that thread's mask says.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


_hold = {"depth": 0, "pending": None}  # only touched by the main thread (handlers run there)


def interrupt_status(interrupt: BaseException) -> int:
    """The shell's exit status for the interrupting signal: 143 (SIGTERM) or 130 (SIGINT)."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


def interrupt_name(interrupt: BaseException) -> str:
    return "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"


def _raise_interrupt(signum, frame) -> None:
    exception = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    if _hold["depth"]:
        _hold["pending"] = _hold["pending"] or exception
        return
    if signum == signal.SIGTERM:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    raise exception()


@contextmanager
def interrupts_as_exceptions() -> Iterator[None]:
    """Within the block SIGINT raises KeyboardInterrupt and SIGTERM :class:`Terminated`, unless
    held (:func:`interrupts_held`).  Outside the main thread it does nothing (Python delivers
    signals to the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _raise_interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Postpone an interrupt that arrives during the block to its end (see module docstring)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _hold["depth"] += 1
    try:
        yield
    finally:
        _hold["depth"] -= 1
        pending, _hold["pending"] = (_hold["pending"], None) if not _hold["depth"] else (None, _hold["pending"])
        if pending is not None:
            raise pending()
