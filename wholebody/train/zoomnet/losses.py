"""Heatmap losses: mean squared error with per-keypoint target weights (mmpose's KeypointMSELoss).

Every term is 0.5 x the squared error averaged over pixels, weighted per keypoint (0 for
unlabelled / invalid points), then averaged over all keypoints of the batch, so the loss scale
does not depend on how many points happen to be labelled.  ZoomNet adds up four such terms:
body+foot heatmaps, part-box maps, face heads and hand heads (equal weights; Adam is insensitive
to a common scale and the terms have similar magnitudes by construction).
"""

from __future__ import annotations

import torch


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """pred/target (B, K, h, w), weight (B, K) -> scalar."""
    per_point = (pred.float() - target.float()).square().mean(dim=(-2, -1))
    return 0.5 * (per_point * weight.float()).mean()


def zoomnet_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Loss terms of ZoomNet and their sum under ``"total"``."""
    terms = {
        "body": weighted_mse(outputs["body"], targets["body"], targets["body_weight"]),
        "boxes": weighted_mse(outputs["boxes"], targets["boxes"], targets["boxes_weight"]),
        "face": weighted_mse(outputs["face"], targets["face"], targets["face_weight"]),
        "hands": weighted_mse(outputs["lefthand"], targets["lefthand"], targets["lefthand_weight"])
        + weighted_mse(outputs["righthand"], targets["righthand"], targets["righthand_weight"]),
    }
    terms["total"] = sum(terms.values())
    return terms


def hrnet133_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    loss = weighted_mse(outputs["wholebody"], targets["wholebody"], targets["wholebody_weight"])
    return {"wholebody": loss, "total": loss}


LOSSES = {"zoomnet": zoomnet_loss, "hrnet133": hrnet133_loss}
