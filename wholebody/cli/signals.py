"""SIGTERM handled like Ctrl-C, so a terminated run cleans up exactly as an interrupted one.

``kill PID``, ``timeout``, systemd and container runtimes stop a process with SIGTERM.  Python's
default is to die on the spot, leaving hidden temporary files in the output folder.  Inside
:func:`terminate_as_interrupt` SIGTERM instead raises :class:`Terminated` (a ``KeyboardInterrupt``)
in the main thread, so every ``except KeyboardInterrupt`` / ``finally`` that removes temporary
files runs; the verb then exits with :func:`interrupt_status` (143 = 128 + SIGTERM, 130 for Ctrl-C).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def interrupt_status(interrupt: BaseException) -> int:
    """The shell's exit status for the interrupting signal: 143 (SIGTERM) or 130 (SIGINT)."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


def interrupt_name(interrupt: BaseException) -> str:
    return "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated`; a second SIGTERM during the cleanup
    is ignored so the cleanup can finish.  Outside the main thread it does nothing (Python
    delivers signals to the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
