"""Owning the ``--out`` folder of a predict run: one run at a time, no debris, no stale overlays.

* **Lock.**  :class:`~wholebody.data.folder_lock.OutputFolderLock` (shared with ``train``):
  a second run into the same folder is refused, naming the other run's process id.
* **Stale temporary files.**  Outputs are written to hidden temporary files that are renamed
  into place (``wholebody.data.atomic``); a run killed with ``kill -9`` leaves them behind.  With
  the lock held, :func:`remove_stale_temporaries` deletes the ones that match *our* naming only
  (``.results.json.<8 random>.tmp`` ... and, under ``overlays/`` and ``plots3d/``,
  ``.<name>.png.<8 random>.tmp`` or ``.<name>.<8 random>.mp4``), and the ``.shards-<pid>``
  scratch folders of ``--workers`` runs whose process is no longer alive.
* **Manifest.**  ``DIR/.wholebody-outputs.json`` lists the overlay and plot files wholebody wrote
  there.  :class:`OutputManifest` records the overlays and plots a run will write before it
  writes them (so even a ``kill -9``-ed run's files are known).  When a run
  finishes it deletes the listed files it did not write again, so ``overlays/`` matches
  ``results.json``.  Files not in the manifest (the user's own) are never touched.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Iterable

import orjson

from wholebody.data.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

MANIFEST_NAME = ".wholebody-outputs.json"
_RANDOM = r"[a-z0-9_]{8}"  # tempfile.mkstemp's random part
_TOP_TEMPORARY = re.compile(rf"^\.(results\.json|results_3d\.json|images\.json|{re.escape(MANIFEST_NAME[1:])})"
                            rf"\.{_RANDOM}\.tmp$")
_FILE_TEMPORARY = re.compile(rf"^\..+\.(png|jpg)\.{_RANDOM}\.tmp$|^\..+\.{_RANDOM}\.mp4$")
_SHARD_FOLDER = re.compile(r"^\.shards-([1-9][0-9]{0,9})$")  # predict/workers.py's scratch folders
FILE_FOLDERS = ("overlays", "plots3d")


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete temporary files and scratch folders of earlier, killed runs (our naming only); call
    with the lock held.  Returns what was removed."""
    folder = Path(folder)
    stale = [p for p in _children(folder) if _TOP_TEMPORARY.match(p.name)]
    for sub in FILE_FOLDERS:
        stale += [p for p in _walk(folder / sub) if _FILE_TEMPORARY.match(p.name)]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info("removed %d temporary files left by an interrupted run in %s", len(stale), folder)
    shard_folders = _stale_shard_folders(folder)
    for path in shard_folders:
        shutil.rmtree(path, ignore_errors=True)
    if shard_folders:
        log.info("removed %d --workers scratch folders left by a killed run in %s", len(shard_folders), folder)
    return stale + shard_folders


def _stale_shard_folders(folder: Path) -> list[Path]:
    """``.shards-<pid>`` folders (``predict --workers``) whose process is dead: a live one, even
    if its PID was reused by another program, is left alone."""
    found = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for path in entries:
        match = _SHARD_FOLDER.match(path.name)
        if match and path.is_dir() and not path.is_symlink() and not _process_alive(int(match.group(1))):
            found.append(path)
    return found


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists under another user, or cannot tell: keep its folder
    return True


def _children(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    except OSError:
        return []


def _walk(folder: Path) -> list[Path]:
    found = []
    for root, _, files in os.walk(folder):  # does not follow symlinked folders
        found += [Path(root) / name for name in files]
    return [p for p in found if not p.is_symlink()]


class OutputManifest:
    """The overlay / plot files of wholebody runs in one folder (module docstring).

    Paths are stored relative to the folder, POSIX style.  ``expect`` records files before they
    are written; ``wrote`` marks one as written by this run; ``finish`` deletes the others.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / MANIFEST_NAME
        self.known: set[str] = self._read()
        self.written: set[str] = set()

    def _read(self) -> set[str]:
        try:
            entries = orjson.loads(self.path.read_bytes()).get("files", [])
        except FileNotFoundError:
            return set()
        except (OSError, orjson.JSONDecodeError, AttributeError) as err:
            log.warning("%s: unreadable (%s); files of earlier runs will not be cleaned up", self.path, err)
            return set()
        return {e for e in entries if isinstance(e, str) and self._is_ours(e)}

    @staticmethod
    def _is_ours(relative: str) -> bool:
        """Only plain paths under our output subfolders, so a doctored manifest deletes nothing else."""
        parts = Path(relative).parts
        return len(parts) >= 2 and parts[0] in FILE_FOLDERS and ".." not in parts and not Path(relative).is_absolute()

    def _relative(self, path: str | os.PathLike) -> str:
        return Path(path).relative_to(self.folder).as_posix()

    def expect(self, paths: Iterable[str | os.PathLike]) -> None:
        """Record files this run may write, before writing them (survives kill -9)."""
        new = {self._relative(p) for p in paths} - self.known
        if new:
            self.known |= new
            self._save(self.known)

    def wrote(self, path: str | os.PathLike) -> None:
        self.written.add(self._relative(path))

    def finish(self) -> list[Path]:
        """The run ended normally: delete listed files it did not write; the manifest becomes its files."""
        removed = []
        for relative in sorted(self.known - self.written):
            path = self.folder / relative
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed.append(path)
        self.known = set(self.written)
        self._save(self.known)
        if removed:
            log.info("removed %d overlay/plot files of earlier runs from %s", len(removed), self.folder)
        return removed

    def keep_track(self) -> None:
        """The run was stopped: list what it wrote (e.g. plots) so that a later run can remove it."""
        if self.written - self.known:
            self.known |= self.written
            try:
                self._save(self.known)
            except OSError as err:  # a full disk: the files stay, unlisted
                log.warning("%s", err)

    def _save(self, files: set[str]) -> None:
        atomic_write_bytes(self.path, orjson.dumps({"files": sorted(files)}, option=orjson.OPT_INDENT_2))
