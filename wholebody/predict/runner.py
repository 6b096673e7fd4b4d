"""The ``wholebody predict`` loop: decode ahead, estimate, track and smooth (video), write behind.

Still images are decoded by a thread pool a few images ahead of the estimator, which runs on
the calling thread; overlays and plots are written by a second pool.  A video is decoded by a
reader thread, and its overlay video is encoded by one writer thread (frames stay in order).

Failures never stop the batch: a bad image, a video that will not open, a broken video frame,
or an estimator error on one input is reported through ``report(where, reason)``, recorded in
``images.json``, and counted in :attr:`RunSummary.failed`.  Only an estimator that cannot be
built at all (:class:`EstimatorUnavailable`) ends the run.  The estimator is built on the first
image that decodes, so a batch of bad files never loads a model.  An image less than
:data:`wholebody.types.MIN_IMAGE_SIDE` pixels wide or high has 0 people (no person fits; every estimator says the same).
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from wholebody.data.errors import ImageError, WholebodyError
from wholebody.data.images import DEFAULT_MAX_PIXELS, read_image
from wholebody.predict.background import map_ahead, read_ahead
from wholebody.predict.outputs import PredictionOutputs
from wholebody.predict.plan import WorkItem
from wholebody.predict.sequence import FrameSequence, SequenceOptions, estimate_with_carry
from wholebody.types import Person, too_small_for_people

log = logging.getLogger(__name__)


class EstimatorUnavailable(WholebodyError):
    """The estimator could not be built; nothing can be processed."""


@dataclass
class RunOptions(SequenceOptions):
    """Switches of one run (CLI flags of the same names); the video ones are ``SequenceOptions``'."""

    threads: int = 2
    max_pixels: int = DEFAULT_MAX_PIXELS
    progress: bool = False
    detect_every: int = 1  # video: run the person detector on every Nth frame (carry_over.follow_boxes between)


@dataclass
class RunSummary:
    """Counts of one run; ``failed`` maps each failed input's name to its first reason."""

    images: int = 0
    videos: int = 0
    frames: int = 0
    people: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class PredictRun:
    """Process work items in order (see module docstring)."""

    def __init__(self, estimator_factory: Callable[[], Callable], outputs: PredictionOutputs, options: RunOptions,
                 report: Callable[[str, str], None]) -> None:
        self._factory, self._estimator = estimator_factory, None
        self.outputs, self.options, self._report = outputs, options, report
        self.summary = RunSummary()
        self._last_id = 0

    def run(self, items: Sequence[WorkItem]) -> RunSummary:
        # Sequential ids start above any fixed (--coco) id, so the two kinds never collide.
        self._last_id = max((item.image_id for item in items if item.image_id is not None), default=0)
        batch: list[WorkItem] = []
        for item in list(items) + [None]:  # None flushes the last batch of images
            if item is not None and item.source.kind != "video":
                batch.append(item)
                continue
            if batch:
                self._run_images(batch)
                batch = []
            if item is not None:
                self._run_video(item)
        return self.summary

    # -- shared helpers -------------------------------------------------------------------
    def _next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def _fail(self, item: WorkItem, reason: str, image_id: int | None = None, frame: int | None = None) -> None:
        """Report a failure (stderr), record it in images.json and count its input as failed."""
        where = str(item.source.path) if frame is None else f"{item.source.path} frame {frame}"
        self._report(where, reason)
        self.summary.failed.setdefault(item.source.name, reason)
        self.outputs.add_failure(item, reason, image_id, frame)

    def _estimate(self, image: np.ndarray, item: WorkItem, image_id: int, frame: int | None = None,
                  follow: tuple[np.ndarray, np.ndarray] | None = None,
                  carry: tuple[np.ndarray, ...] | None = None) -> list[Person] | None:
        """The estimator's people for ``image`` (with the item's boxes, or else the ``follow``
        boxes and scores, if any), or None if it failed.  ``carry``: the previous frame's
        people (``carry_over.CarryOver``: boxes, scores, body angles, track ids), for an estimator
        that re-crops people its detector misses (``accepts_carry``)."""
        if too_small_for_people(image):  # also here, so that such images never build the estimator
            return []
        if self._estimator is None:
            try:
                self._estimator = self._factory()
            except Exception as err:
                raise EstimatorUnavailable(f"cannot build the estimator: {err}") from err
        try:
            if item.boxes is not None:
                return list(self._estimator(image, person_boxes=item.boxes, person_scores=item.box_scores))
            if follow is not None:
                return list(self._estimator(image, person_boxes=follow[0], person_scores=follow[1]))
            return estimate_with_carry(self._estimator, image, carry)
        except Exception as err:
            log.debug("estimator failed on %s", item.source.path, exc_info=True)
            self._fail(item, f"estimator failed: {type(err).__name__}: {err}", image_id, frame)
            return None

    def _decode(self, item: WorkItem) -> np.ndarray:
        if item.source.kind == "missing":
            raise ImageError(item.source.path, item.source.error or "not found")
        return read_image(item.source.path, max_pixels=self.options.max_pixels)

    # -- still images ---------------------------------------------------------------------
    def _run_images(self, items: list[WorkItem]) -> None:
        from tqdm import tqdm

        threads = max(self.options.threads, 1)
        with (
            tqdm(total=len(items), unit="img", disable=not self.options.progress or len(items) < 2,
                 file=sys.stderr) as bar,
            ThreadPoolExecutor(threads, thread_name_prefix="decode") as pool,
        ):
            for item, future in map_ahead(self._decode, items, pool, depth=threads + 1):
                bar.update(1)
                image_id = item.image_id if item.image_id is not None else self._next_id()
                try:
                    image = future.result()
                except ImageError as err:
                    self._fail(item, err.reason, image_id)
                    continue
                people = self._estimate(image, item, image_id)
                if people is not None:
                    self.outputs.add(image_id, item, image, people)
                    self.summary.images += 1
                    self.summary.people += len(people)

    # -- videos ---------------------------------------------------------------------------
    def _run_video(self, item: WorkItem) -> None:
        from wholebody.data.video import VideoReader

        broken: deque[tuple[int, str]] = deque()  # filled by the reader thread, drained here
        try:
            reader = VideoReader(item.source.path, on_broken=lambda index, reason: broken.append((index, reason)))
        except ImageError as err:
            self._fail(item, err.reason)
            return
        self.summary.videos += 1
        with reader:
            frames_done = self._run_frames(item, reader, broken)
        self.summary.frames += frames_done
        if frames_done == 0 and item.source.name not in self.summary.failed:
            self._fail(item, "no frame could be decoded")

    def _run_frames(self, item: WorkItem, reader, broken: deque) -> int:
        """Estimate, track, smooth and write every frame of ``reader``; returns the frames done."""
        from tqdm import tqdm

        from wholebody.carry_over import follow_boxes

        options, fps = self.options, reader.info.fps
        sequence = FrameSequence(fps, options)

        def overlay_failed(label: str, err: BaseException) -> None:
            self._fail(item, f"overlay video {label}: {type(err).__name__}: {err}")

        frames_done = 0
        follow, followed = None, 0  # boxes from the last frame's people; frames since a detection
        with (
            tqdm(total=reader.info.frame_count or None, unit="frame", desc=item.source.name,
                 disable=not options.progress, file=sys.stderr) as bar,
            self.outputs.overlay_video(item, fps, overlay_failed) as overlay,
        ):
            for frame_index, frame in read_ahead(iter(reader), depth=4):
                self._drain_broken(item, broken)
                bar.update(1)
                image_id = self._next_id()
                reuse = follow is not None and followed < options.detect_every
                people = self._estimate(frame, item, image_id, frame_index, follow if reuse else None,
                                        sequence.carry)
                followed = followed + 1 if reuse else 1
                follow = None
                if people is None:
                    sequence.missed()
                    continue
                if options.detect_every > 1 and people:
                    follow = follow_boxes(people, options.score_thr)
                sequence.update(people, frame_index)
                self.outputs.add(image_id, item, frame, people, frame=frame_index)
                overlay.add(frame, people)
                frames_done += 1
                self.summary.people += len(people)
            self._drain_broken(item, broken)
        return frames_done

    def _drain_broken(self, item: WorkItem, broken: deque) -> None:
        while broken:
            index, reason = broken.popleft()
            self._fail(item, reason, frame=index)
