"""DOPE end to end: RGB image -> network -> PPI (or NMS) -> whole-body ``Person`` list.

``DopeEstimator(model)(image)`` takes an (H, W, 3) uint8 RGB array and returns ``Person``
objects (133 keypoints in original pixels, 3D per part in metres), like the part experts, so the
``predict`` verb can use either.  ``detect`` returns the per-part detections before assembly
(also for the paper layout, whose head point and 84-point face have no 133 slot).
"""

from __future__ import annotations

import numpy as np
import torch

from wholebody.models.dope.network import DOPE
from wholebody.models.dope.assembly import assemble
from wholebody.models.dope.layout import PART_NAMES
from wholebody.models.dope.post import PartDetection, detect_parts
from wholebody.types import Person, too_small_for_people


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float in [0, 1]."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).float() / 255


class DopeEstimator:
    """A DOPE model plus its post-processing.

    Args:
        model: a trained ``DOPE`` (put in eval mode here).
        method: ``"nms"`` (default; the better of the two on crowded COCO images, see
            ``models.dope.post``) or ``"ppi"`` (the paper's pose-proposal integration).
        part_kwargs: per part, threshold overrides for PPI / NMS.
        realtime: the paper's real-time mode (400 px, 50 proposals, fp16 on GPU).
        keep_unassigned: hands and faces attached to no body become people of their own.
        channels_last: NHWC convolutions (``DOPE.set_channels_last``; faster fp16/bf16 on GPUs).
        fuse_bn: fold the frozen batch norms into the convolutions (``DOPE.fuse_batch_norms``;
            changes ``model`` in place, which then no longer trains).
    """

    def __init__(self, model: DOPE, method: str = "nms", part_kwargs: dict[str, dict] | None = None,
                 realtime: bool = False, keep_unassigned: bool = True, channels_last: bool = False,
                 fuse_bn: bool = False) -> None:
        self.model = model.eval()
        self.method = method
        self.part_kwargs = part_kwargs or {}
        self.keep_unassigned = keep_unassigned
        if fuse_bn:  # in float32, before real-time mode halves the weights
            self.model.fuse_batch_norms()
        if channels_last:
            self.model.set_channels_last()
        if realtime:
            self.model.set_realtime(True)

    @torch.no_grad()
    def detect(self, images: list[np.ndarray]) -> list[dict[str, list[PartDetection]]]:
        """Per image, per part (body, hand, face), the detections after PPI / NMS."""
        outputs = self.model([image_tensor(im) for im in images])
        return [detect_parts(out, PART_NAMES, self.model.hand_classes_per_side, self.method, self.part_kwargs)
                for out in outputs]

    def __call__(self, image: np.ndarray, person_boxes: np.ndarray | None = None,
                 person_scores: np.ndarray | None = None) -> list[Person]:
        """Whole-body people of one image, sorted by descending score.

        DOPE finds its own people: ``person_boxes`` / ``person_scores`` (the experts' interface)
        are accepted and not used.
        """
        image_tensor(image)  # the shape and type check, before the size rule
        if too_small_for_people(image):
            return []  # the 1-pixel rule (wholebody.types.MIN_IMAGE_SIDE), as in predict
        detections = self.detect([image])[0]
        people = assemble(detections, self.model.layout, keep_unassigned=self.keep_unassigned)
        return sorted(people, key=lambda p: -p.score)
