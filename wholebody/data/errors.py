"""The project's error types for bad input.

Every message names the file, and where one applies the record and the field, so a user can
find the problem without reading code.  CLIs catch :class:`WholebodyError`, print its message
and go on with the rest of the batch (or exit non-zero).
"""

from __future__ import annotations


class WholebodyError(Exception):
    """Base class of every bad-input error the project raises on purpose."""


class AnnotationError(WholebodyError, ValueError):
    """Malformed annotation or results JSON.

    Attributes:
        path: the file (or ``"<memory>"`` for an in-memory dict/list).
        record: the record's id (annotations, images) or list index (results), or None.
        field: the offending key, or None when the whole file is wrong.
        reason: what is wrong, in words.
    """

    def __init__(self, path: str, record: object, field: str | None, reason: str) -> None:
        self.path, self.record, self.field, self.reason = str(path), record, field, reason
        where = [self.path]
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(": ".join(where) + f": {reason}")


class ImageError(WholebodyError, OSError):
    """An image or video that cannot be decoded; the message names the path and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


class ModelFileError(WholebodyError, FileNotFoundError):
    """A model file that is missing or damaged; the message says how to prepare it."""


class OutputError(WholebodyError, OSError):
    """An output file that could not be written (full disk, quota, read-only file system...).

    The message is ``PATH: reason`` with ``PATH`` the output the user asked for, not the
    temporary file it was being written to; any partial temporary file has been removed.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")

    @classmethod
    def from_os_error(cls, path: str, err: OSError) -> "OutputError":
        import errno

        reasons = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                   errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                   errno.EPERM: "permission denied"}
        error = cls(path, reasons.get(err.errno, err.strerror or str(err)))
        error.errno = err.errno
        return error
