"""Atomic file writes: a crash or a full disk never leaves a half-written output file.

The data goes to a temporary file in the target's folder, is flushed to disk, then renamed
over the target with ``os.replace`` (atomic on POSIX and Windows within one file system).
An ``OSError`` while writing (a full disk ...) removes the temporary file and is raised as
:class:`~wholebody.data.errors.OutputError` naming the target: ``PATH: no space left on device``.
Temporary files are named ``.<target name>.<8 random characters>.tmp`` in the target's folder,
which is how a later run recognises the debris of a killed one.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from wholebody.data.errors import OutputError


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` only if the block finishes without error."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise OutputError.from_os_error(path, err) from err
    with _removed_on_failure(Path(tmp), path):
        os.chmod(tmp, 0o644)  # mkstemp makes the file private (0600); outputs are ordinary files
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


@contextmanager
def _removed_on_failure(tmp: Path, path: Path) -> Iterator[None]:
    """Remove ``tmp`` if the block fails; an ``OSError`` becomes an ``OutputError`` naming ``path``."""
    try:
        yield
    except OutputError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputError.from_os_error(path, err) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class AtomicOutput:
    """Context-manager protocol of the incremental atomic writers: a ``with`` block that ends
    normally commits the output (``close``), one that raises drops it (``abort``)."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path for writers that need a file name (``torch.onnx.export``): it replaces
    ``path`` only if the block finishes without error, and is removed otherwise."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise OutputError.from_os_error(path, err) from err
    with _removed_on_failure(Path(tmp), path):
        yield Path(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))

