"""Unlabelled images and videos -> samples with no labels (experts supply every part, Eq. 1).

Inputs are resolved by ``wholebody.data.inputs.iter_inputs`` (files, folders, globs).  A video
becomes one sample per ``video_stride``-th frame when its frame count is known from the header;
reading frames is left to the training data loader.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

from wholebody.data.adapters.sample import Sample
from wholebody.data.errors import ImageError
from wholebody.data.inputs import iter_inputs

log = logging.getLogger(__name__)


def load_unlabelled(paths: Sequence[str | os.PathLike], video_stride: int = 30) -> list[Sample]:
    """Samples for every image (and sampled video frame) under ``paths``; missing inputs are logged."""
    if video_stride < 1:
        raise ValueError(f"video_stride must be >= 1, got {video_stride}")
    samples = []
    for source in iter_inputs(paths):
        if source.kind == "missing":
            log.warning("skipping %s: %s", source.path, source.error)
        elif source.kind == "image":
            samples.append(Sample("unlabelled", source.name, source.path, None))
        else:
            from wholebody.data.video import VideoReader

            try:
                with VideoReader(source.path) as reader:
                    count = reader.info.frame_count
            except ImageError as err:
                log.warning("skipping video: %s", err)
                continue
            if count <= 0:
                log.warning("skipping video %s: unknown frame count", source.path)
            samples.extend(Sample("unlabelled", f"{source.name}#{i}", source.path, None, frame_index=i)
                           for i in range(0, count, video_stride))
    return samples
