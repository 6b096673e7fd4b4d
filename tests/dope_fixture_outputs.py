"""Network outputs of a tiny random DOPE on two fixture photos, for the post-processing parity tests."""

from __future__ import annotations

import numpy as np
import torch

FIXTURE_PHOTOS = ("000000196141.jpg", "000000197388.jpg")


def tiny_dope_outputs(fixtures_dir):
    """Yield ``(model, output)`` of a seeded ``dope_tiny`` on each of ``FIXTURE_PHOTOS``; its anchor
    poses are spread over the box, so that poses differ per class (random weights would give
    nearly one pose for all)."""
    from wholebody.data.images import read_image
    from wholebody.models.dope.layout import PART_NAMES
    from wholebody.models.dope.network import dope_tiny

    torch.manual_seed(0)
    model = dope_tiny(min_size=192, max_size=288).eval()
    for part in PART_NAMES:
        k, j = model.num_anchor_poses[part], model.layout.num_joints(part)
        model.set_anchor_poses(part, torch.rand(k, j, 5) * torch.tensor([1, 1, 0.3, 0.3, 0.3]))
    for name in FIXTURE_PHOTOS:
        image = read_image(fixtures_dir / "coco_wholebody" / name)
        yield model, model([torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255])[0]
