"""Turning command-line INPUT arguments into a deterministic list of image and video files.

An argument may be a file, a folder (searched recursively), or a glob pattern (``*``, ``?``,
``[...]``, ``**``).  Folders and globs keep the files whose extension is a known image or video
extension, in any letter case; hidden files and folders (name starting with ``.``) inside a
folder are skipped.  A file named explicitly is always kept: its decoder decides.

Every source gets a ``name``: the relative path (POSIX separators) used as ``file_name`` in the
results and for mirroring outputs under the output folder.  For a folder it is the path relative
to that folder (the COCO convention: ``file_name`` relative to the image root), for a glob the
path relative to the glob's literal leading folder, for a file its base name.  Should two
arguments produce the same name, the later one is prefixed ``input<k>/`` (k = 1-based argument
number).  A file reached twice is listed once.  Order: arguments in the order given, each one's
files sorted by name.

A symbolic link that loops (or points nowhere) is never dropped silently and never stops the
listing: it is listed as a ``"missing"`` source whose ``error`` says why, so the run reports it
as a failed input and goes on with the others.
"""

from __future__ import annotations

import errno
import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})
_GLOB_MAGIC = set("*?[")


@dataclass(frozen=True)
class InputSource:
    """One input file.

    Attributes:
        path: the file on disk (as given, not resolved).
        name: relative POSIX path, the ``file_name`` written to the results.
        kind: ``"image"``, ``"video"``, or ``"missing"`` for an argument that found nothing.
        error: why a ``"missing"`` source found nothing; None otherwise.
    """

    path: Path
    name: str
    kind: str
    error: str | None = None


def kind_of(path: str | os.PathLike) -> str | None:
    """``"image"`` / ``"video"`` from the file extension (any case), None if neither."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def iter_inputs(args: Sequence[str | os.PathLike], exclude: Iterable[str | os.PathLike] = ()) -> list[InputSource]:
    """All image and video sources named by ``args`` (rules in the module docstring).

    ``exclude``: folders never searched (e.g. the output folder when it lies inside an input).
    """
    excluded = {Path(p).resolve() for p in exclude}
    sources: list[InputSource] = []
    seen_files: set[Path] = set()
    seen_names: set[str] = set()
    for number, arg in enumerate(args, start=1):
        found = _expand(str(arg), excluded)
        if isinstance(found, str):
            sources.append(InputSource(Path(arg), str(arg), "missing", found))
            continue
        for path, name in found:
            real = _resolve(path)
            if real is None:
                sources.append(InputSource(path, name, "missing", unreachable_reason(path)))
                continue
            if real in seen_files:
                continue
            seen_files.add(real)
            if name in seen_names:
                name = f"input{number}/{name}"
            seen_names.add(name)
            sources.append(InputSource(path, name, kind_of(path) or "image"))
    return sources


def _expand(arg: str, excluded: set[Path]) -> list[tuple[Path, str]] | str:
    """(path, name) pairs for one argument, or the reason it found nothing."""
    path = Path(arg)
    if path.is_dir():
        found = _walk_folder(path, excluded)
        return found or f"folder contains no image or video files ({_extension_list()})"
    if path.exists():
        return [(path, path.name)]
    if path.is_symlink():
        return unreachable_reason(path)
    if not _GLOB_MAGIC & set(arg):
        return "no such file or folder"
    base = _glob_base(arg)
    matches = sorted(Path(m) for m in glob.glob(arg, recursive=True))
    # Not ``is_file()``: that is False for a looping link, which must be reported, not dropped.
    files = [m for m in matches if kind_of(m) and not m.is_dir() and not _inside(m, excluded)]
    if not files:
        return "pattern matched no image or video files" if matches else "pattern matched nothing"
    return [(m, m.relative_to(base).as_posix()) for m in files]


def _walk_folder(folder: Path, excluded: set[Path]) -> list[tuple[Path, str]]:
    found = []
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        dirs[:] = [d for d in dirs if not d.startswith(".") and _resolve(root_path / d) not in excluded]
        for file_name in files:
            if not file_name.startswith(".") and kind_of(file_name):
                path = root_path / file_name
                found.append((path, path.relative_to(folder).as_posix()))
    return sorted(found, key=lambda pair: pair[1])


def _glob_base(pattern: str) -> Path:
    """The leading folders of a glob pattern that contain no wildcard."""
    literal = []
    for part in Path(pattern).parts[:-1]:
        if _GLOB_MAGIC & set(part):
            break
        literal.append(part)
    return Path(*literal) if literal else Path(".")


def _inside(path: Path, excluded: set[Path]) -> bool:
    real = _resolve(path)
    return real is not None and any(real.is_relative_to(folder) for folder in excluded)


def _resolve(path: Path) -> Path | None:
    """``path.resolve()``, or None for a symlink loop (RuntimeError before Python 3.13, OSError after)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return None


def unreachable_reason(path: Path) -> str:
    """Why a listed path cannot be opened: a symlink loop, a dangling link, or the OS's reason."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop (too many levels of symbolic links)"
        if err.errno == errno.ENOENT and path.is_symlink():
            return f"symbolic link to a missing file ({os.readlink(path)})"
        return err.strerror or str(err)
    return "cannot resolve the path"


def _extension_list() -> str:
    return " ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
