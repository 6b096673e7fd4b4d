"""DOPE's exported ONNX graphs, run the way a deployment runs them, equal ``DOPE.forward``.

The export's own parity check compares the graphs with the export's wrappers; a wrapper that
pools the wrong region would pass it.  Here the reference is the model itself, ``model([image])``,
and the ONNX side is assembled from its pieces: transform -> ``<stem>.rpn.onnx`` -> anchor
decoding and ``select_proposals`` -> ``<stem>.heads.onnx`` -> ``decode_poses`` -> original pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wholebody.models.dope.network import dope_tiny
from wholebody.models.dope.export import export_dope_onnx, head_output_names
from wholebody.models.dope.heads import decode_poses
from wholebody.models.dope.layout import PART_NAMES

onnxruntime = pytest.importorskip("onnxruntime", reason="the ONNX export is checked with onnxruntime (extra 'onnx')")
torch.set_num_threads(1)


def onnx_forward(model, rpn, heads, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """``DOPE.forward`` for one (3, H, W) image in [0, 1], with both networks run by onnxruntime."""
    batch, (geometry,) = model.prepare([image])
    features, objectness, deltas = rpn.run(None, {"images": batch.numpy()})
    anchors = model.rpn.anchor_generator(tuple(batch.shape[-2:]), tuple(features.shape[-2:]), torch.device("cpu"),
                                         torch.float32)
    decoded = model.rpn.box_coder.decode(torch.from_numpy(deltas[0]), anchors)
    boxes, probabilities = model.rpn.select_proposals(decoded, torch.from_numpy(objectness[0]), geometry.resized_size)
    outputs = dict(zip(head_output_names(), heads.run(None, {"features": features, "boxes": boxes.numpy()})))
    result = {"boxes": geometry.to_original(boxes), "objectness": probabilities}
    for part in PART_NAMES:
        pose2d, pose3d = decode_poses(boxes, torch.from_numpy(outputs[f"{part}_deltas"]), model.anchor_poses(part))
        result[f"{part}_scores"] = torch.from_numpy(outputs[f"{part}_logits"]).softmax(dim=-1)
        result[f"{part}_pose2d"] = geometry.to_original(pose2d)
        result[f"{part}_pose3d"] = pose3d
    return result


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = dope_tiny().eval()
    for part in PART_NAMES:  # non-zero anchor poses, so pose decoding is exercised
        model.set_anchor_poses(part, torch.rand_like(model.anchor_poses(part)))
    rpn_path, heads_path = export_dope_onnx(model, tmp_path_factory.mktemp("onnx") / "dope.onnx")
    options = {"providers": ["CPUExecutionProvider"]}
    return model, onnxruntime.InferenceSession(str(rpn_path), **options), onnxruntime.InferenceSession(str(heads_path), **options)


@pytest.mark.parametrize("size, seed", [((200, 300), 0), ((333, 250), 1)])
def test_onnx_pipeline_equals_the_model(exported, size, seed):
    model, rpn, heads = exported
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(3, *size, generator=generator)
    want = model([image])[0]
    got = onnx_forward(model, rpn, heads, image)
    assert len(want["boxes"]) > 10  # proposals were selected, so the heads really ran
    assert set(got) == set(want)
    np.testing.assert_allclose(got["boxes"].numpy(), want["boxes"].numpy(), atol=1e-2)  # original pixels
    np.testing.assert_allclose(got["objectness"].numpy(), want["objectness"].numpy(), atol=1e-4)
    for part in PART_NAMES:
        np.testing.assert_allclose(got[f"{part}_scores"].numpy(), want[f"{part}_scores"].numpy(), atol=1e-4)
        np.testing.assert_allclose(got[f"{part}_pose2d"].numpy(), want[f"{part}_pose2d"].numpy(), atol=2e-2)
        np.testing.assert_allclose(got[f"{part}_pose3d"].numpy(), want[f"{part}_pose3d"].numpy(), atol=1e-4)
