"""One wholebody run per output folder: an exclusive lock shared by ``predict`` and ``train``.

:class:`OutputFolderLock` takes an exclusive ``fcntl.flock`` on ``DIR/.wholebody.lock`` (which
holds the owner's process id).  A second run into the same folder is refused with a message
naming the folder and that process id.  The kernel drops a flock when its process dies, so the
lock of a killed run is simply taken over; no guessing from process ids.  It lives in ``data/``
(not ``predict/``) because both the predict and the train command lines take it.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from wholebody.data.errors import WholebodyError

log = logging.getLogger(__name__)

LOCK_NAME = ".wholebody.lock"


class OutputFolderBusy(WholebodyError):
    """Another live run holds the lock of the output folder."""


class OutputFolderLock:
    """Exclusive lock on an output folder for the life of a run (a context manager)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl  # POSIX only
        except ImportError:
            log.warning("%s: no file locks on this platform; concurrent runs into this folder are not detected",
                        self.folder)
            return
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):  # some network file systems
                    log.warning("%s: file locks are not supported here; concurrent runs into this folder "
                                "are not detected", self.folder)
                    return
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise OutputFolderBusy(f"{self.folder}: another wholebody run (process {self._owner()}) is writing "
                                       "to this folder; wait for it or choose another --out") from None
            # The previous owner may have deleted the file between our open and flock: then we
            # hold a lock on a file nobody else can see, so try again on the new one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _owner(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked, so no one else is using this file
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "OutputFolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
