"""Everything ``wholebody predict`` writes under its output folder.

Layout of ``DIR``:

* ``results.json``: COCO-WholeBody results list, one record per person
  (:func:`wholebody.data.results.person_to_result`), with ``file_name`` and, for video, ``frame``.
* ``results_3d.json``: ``{"coordinate_frames": {...}, "people": [...]}``, one record per person
  in the same order, 3D per part in metres (:data:`wholebody.data.results.FRAMES_3D`).
* ``images.json``: one record per image or video frame processed: ``id`` (the ``image_id`` of
  its people), ``file_name``, ``frame`` (video), ``width``, ``height``, ``num_people``; a failed
  input has ``error`` instead.  An image with nobody in it has ``num_people: 0`` and no results.
* ``overlays/<stem>.png`` per image and ``overlays/<stem>.mp4`` per video, mirroring the input's
  relative path; ``plots3d/<stem>_person<k>.png`` per person with 3D (images only).

The three JSON files are streamed into temporary files and renamed into place only when the
run ends normally; after a crash or Ctrl-C, earlier outputs are left as they were.  Overlays
and plots are written in the background, each one atomically.  With a ``manifest``
(:class:`wholebody.predict.outdir.OutputManifest`) every overlay and plot is recorded before
it is written, and closing the outputs deletes the overlays and plots of
earlier runs that this run did not write again, so ``overlays/`` matches ``results.json``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from wholebody.data.interrupts import interrupts_held
from wholebody.data.images import write_image
from wholebody.data.results import JsonListWriter, open_results_3d, person_to_result, person_to_result_3d
from wholebody.data.video import VideoWriter
from wholebody.predict.background import BackgroundTasks
from wholebody.predict.outdir import OutputManifest
from wholebody.predict.plan import WorkItem
from wholebody.types import Person


def _write_overlay(path: Path, image: np.ndarray, people: Sequence[Person], score_thr: float,
                   written: Callable[[Path], None]) -> None:
    from wholebody.viz.overlay import draw_people

    write_image(path, draw_people(image, people, score_thr))
    written(path)


def _write_plot(path: Path, person: Person, title: str, score_thr: float, written: Callable[[Path], None]) -> None:
    from wholebody.viz.plot3d import plot_person_3d

    plot_person_3d(person, path, title=title, score_thr=score_thr)
    written(path)


class PredictionOutputs:
    """Streams results to ``out_dir`` (layout in the module docstring)."""

    def __init__(self, out_dir: str | Path, tasks: BackgroundTasks, overlay: bool = True, plot3d: bool = False,
                 score_thr: float = 0.3, manifest: OutputManifest | None = None,
                 extra_writers: Sequence = ()) -> None:
        self.out_dir = Path(out_dir)
        self.extra_writers = list(extra_writers)  # e.g. OpenPoseWriter: ``add(item, people, frame)``
        self.tasks, self.overlay, self.plot3d, self.score_thr = tasks, overlay, plot3d, score_thr
        self.manifest = manifest
        self.committed = False  # True once the JSON files are in place
        self.people_written = 0
        self._writers = []
        try:
            self._results = self._open(JsonListWriter(self.out_dir / "results.json"))
            self._results_3d = self._open(open_results_3d(self.out_dir / "results_3d.json"))
            self._images = self._open(JsonListWriter(self.out_dir / "images.json"))
        except BaseException:
            self.abort()
            raise

    def _open(self, writer: JsonListWriter) -> JsonListWriter:
        self._writers.append(writer)
        return writer

    def add(self, image_id: int, item: WorkItem, image: np.ndarray, people: Sequence[Person],
            frame: int | None = None) -> None:
        """Record one image (or one video frame, with ``frame``) and its people."""
        extra = {"file_name": item.source.name} | ({} if frame is None else {"frame": frame})
        for person in people:
            self._results.append(person_to_result(person, image_id, **extra))
            self._results_3d.append(person_to_result_3d(person, image_id, **extra))
        self.people_written += len(people)
        height, width = image.shape[:2]
        self._images.append({"id": image_id, **extra, "width": width, "height": height, "num_people": len(people)})
        for writer in self.extra_writers:
            writer.add(item, people, frame)
        if frame is not None:
            return  # video overlays go through video_writer(); no per-frame plots
        if self.overlay:
            path = self.overlay_path(item)
            self._expect([path])
            self.tasks.submit(str(path), _write_overlay, path, image, people, self.score_thr, self._wrote)
        if self.plot3d:
            plots = {self.out_dir / "plots3d" / f"{item.output_stem}_person{k}.png": (k, person)
                     for k, person in enumerate(people) if any(v is not None for v in person.keypoints_3d.values())}
            self._expect(list(plots))  # listed before written, so a kill -9 leaves none unlisted
            for path, (k, person) in plots.items():
                title = f"{item.source.name}, person {k} (metres, camera axes)"
                self.tasks.submit(str(path), _write_plot, path, person, title, self.score_thr, self._wrote)

    def overlay_path(self, item: WorkItem) -> Path:
        """Where the overlay of ``item`` goes (PNG for an image, MP4 for a video)."""
        suffix = ".mp4" if item.source.kind == "video" else ".png"
        return self.out_dir / "overlays" / f"{item.output_stem}{suffix}"

    def _expect(self, paths: Sequence[Path]) -> None:
        if self.manifest is not None:
            self.manifest.expect(paths)

    def _wrote(self, path: Path) -> None:
        if self.manifest is not None:
            self.manifest.wrote(path)

    def add_failure(self, item: WorkItem, reason: str, image_id: int | None = None, frame: int | None = None) -> None:
        """Record an input (or a video frame) that could not be processed."""
        record = {"id": image_id, "file_name": item.source.name} | ({} if frame is None else {"frame": frame})
        self._images.append(record | {"error": reason})

    def overlay_video(self, item: WorkItem, fps: float, on_error: Callable[[str, BaseException], None]) -> OverlayVideo:
        """The overlay video of a video item (a no-op with overlays off); use it as a context manager."""
        path = self.overlay_path(item)
        if self.overlay:
            self._expect([path])
        return OverlayVideo(path if self.overlay else None, fps, self.score_thr, on_error, self._wrote)

    def close(self) -> None:
        """Finish the background writes, then move the JSON files into place: all three are
        written to disk first, so a full disk leaves all three as they were, not a mix."""
        self.tasks.wait()
        for writer in self._writers:
            writer.finish()
        with interrupts_held():  # Ctrl-C / SIGTERM wait until all three are renamed
            for writer in self._writers:
                writer.close()
            self.committed = True
        if self.manifest is not None:
            self.manifest.finish()

    def abort(self) -> None:
        """Drop the unfinished JSON files (earlier outputs stay as they were)."""
        for writer in self._writers:
            writer.abort()
        if self.manifest is not None:
            self.manifest.keep_track()


class OverlayVideo:
    """Draws and encodes a video's overlay frames on one background thread, in order.

    The first failure is passed to ``on_error`` and ends the overlay (the partial file is
    dropped); the video's results are unaffected.  With ``path`` None it does nothing.
    Leaving the ``with`` block normally finishes the file; with an exception, drops it.
    """

    def __init__(self, path: Path | None, fps: float, score_thr: float,
                 on_error: Callable[[str, BaseException], None], written: Callable[[Path], None] = lambda path: None
                 ) -> None:
        self.failed = False
        self._written = written
        self._score_thr, self._on_error = score_thr, on_error
        self._writer = None if path is None else VideoWriter(path, fps)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="encode")
        self._tasks = BackgroundTasks(self._thread, max_pending=4, on_error=self._failed)

    def _failed(self, label: str, error: BaseException) -> None:
        if not self.failed:
            self._on_error(label, error)
        self.failed = True

    def add(self, frame: np.ndarray, people: Sequence[Person]) -> None:
        if self._writer is not None and not self.failed:
            self._tasks.submit(str(self._writer.path), _encode_frame, self._writer, frame, people, self._score_thr)

    def __enter__(self) -> "OverlayVideo":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._tasks.wait()
        self._thread.shutdown()
        if self._writer is None:
            return
        if exc_type is None and not self.failed:
            self._writer.close()
            self._written(self._writer.path)
        else:
            self._writer.abort()


def _encode_frame(writer: VideoWriter, frame: np.ndarray, people: Sequence[Person], score_thr: float) -> None:
    from wholebody.viz.overlay import draw_people

    writer.write(draw_people(frame, people, score_thr))
