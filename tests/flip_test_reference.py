"""The flip test as it was before it ran in one batched pass (commit 2a3f3d8), kept as a reference.

Two forwards per batch: the plain crops, then the mirrored crops (ZoomNet's mirrored pass takes
the plain pass's RoIs, mirrored).  ``test_flip_test.py`` checks that the one-pass prediction
(``wholebody.models.zoomnet.flip_test``) gives the same heatmaps, and
``benchmarks/topdown_speed_options.py`` (variant ``flip-2pass``) times it beside the one-pass one.
Frozen on purpose: the helpers are copied here, not imported, so that a change to the library's
flip helpers cannot change the reference too.
"""

from __future__ import annotations

import torch

from wholebody.schema import COCO_WHOLEBODY, PART_SLICES

NUM_BODY_FOOT = 23
FLIP_133 = torch.as_tensor(COCO_WHOLEBODY.flip_permutation())
FLIP_BODY_FOOT = FLIP_133[:NUM_BODY_FOOT]
FLIP_FACE = FLIP_133[PART_SLICES["face"]] - PART_SLICES["face"].start


def flip_back(heatmaps: torch.Tensor, permutation: torch.Tensor | None) -> torch.Tensor:
    flipped = heatmaps.flip(-1)
    return flipped if permutation is None else flipped[:, permutation.to(heatmaps.device)]


def mirror_rois(rois: torch.Tensor, width: float) -> torch.Tensor:
    mirrored = torch.stack([width - rois[..., 2], rois[..., 1], width - rois[..., 0], rois[..., 3]], dim=-1)
    return mirrored[:, [0, 2, 1]]


@torch.no_grad()
def predict_heatmaps_two_passes(model: torch.nn.Module, crops: torch.Tensor, flip_test: bool = True) -> dict[str, torch.Tensor]:
    """Run ``model`` (ZoomNet or HRNet133) on crops, averaging with the mirrored crop if ``flip_test``."""
    out = model(crops)
    if not flip_test:
        return out
    if model.architecture == "hrnet133":
        mirrored = model(crops.flip(-1))
        return {"wholebody": (out["wholebody"] + flip_back(mirrored["wholebody"], FLIP_133)) / 2}
    mirrored = model(crops.flip(-1), rois=mirror_rois(out["rois"], crops.shape[-1]))
    merged = dict(out)
    merged["body"] = (out["body"] + flip_back(mirrored["body"], FLIP_BODY_FOOT)) / 2
    merged["face"] = (out["face"] + flip_back(mirrored["face"], FLIP_FACE)) / 2
    merged["lefthand"] = (out["lefthand"] + flip_back(mirrored["righthand"], None)) / 2
    merged["righthand"] = (out["righthand"] + flip_back(mirrored["lefthand"], None)) / 2
    return merged
