"""RoIAlign: hand-computed bilinear cases, a slow loop written from torchvision's algorithm,
gradients, and ONNX export with a variable number of boxes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wholebody.nn.roi_align import RoIAlign, roi_align, roi_align_per_image

torch.set_num_threads(1)


def bilinear_reference(fmap: np.ndarray, y: float, x: float) -> np.ndarray:
    """torchvision's bilinear_interpolate for one (C, H, W) map at cell-index position (y, x)."""
    _, height, width = fmap.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(fmap.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= height - 1:
        y0 = y1 = height - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= width - 1:
        x0 = x1 = width - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * fmap[:, y0, x0] + (1 - ly) * lx * fmap[:, y0, x1]
            + ly * (1 - lx) * fmap[:, y1, x0] + ly * lx * fmap[:, y1, x1])


def roi_align_reference(features, rois, out_h, out_w, scale, sampling_ratio, aligned):
    """A slow per-box, per-bin, per-sample loop of torchvision's CPU RoIAlign."""
    features, rois = np.asarray(features, np.float64), np.asarray(rois, np.float64)
    out = np.zeros((len(rois), features.shape[1], out_h, out_w))
    offset = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        sx, sy = x1 * scale - offset, y1 * scale - offset
        w, h = x2 * scale - offset - sx, y2 * scale - offset - sy
        if not aligned:
            w, h = max(w, 1.0), max(h, 1.0)
        bin_h, bin_w = h / out_h, w / out_w
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(h / out_h)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(w / out_w)
        count = max(grid_h * grid_w, 1)
        for ph in range(out_h):
            for pw in range(out_w):
                acc = np.zeros(features.shape[1])
                for iy in range(grid_h):
                    y = sy + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                    for ix in range(grid_w):
                        x = sx + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                        acc += bilinear_reference(features[int(b)], y, x)
                out[k, :, ph, pw] = acc / count
    return out


def linear_map() -> torch.Tensor:
    """A 4x4 map whose value at cell (row y, column x) is 10 y + x: bilinear sampling is exact."""
    ys, xs = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    return (10 * ys + xs)[None, None]


def test_hand_computed_aligned_and_legacy_bins():
    rois = torch.tensor([[0.0, 1.0, 1.0, 3.0, 3.0]])
    # aligned: bin centres at pixel-corner x = 1.5, 2.5 -> cell positions 1, 2 -> 10 y + x.
    aligned = roi_align(linear_map(), rois, 2, 1.0, 2, aligned=True)[0, 0]
    assert torch.allclose(aligned, torch.tensor([[11.0, 12.0], [21.0, 22.0]]), atol=1e-5)
    # legacy: no half-cell shift -> cell positions 1.5, 2.5.
    legacy = roi_align(linear_map(), rois, 2, 1.0, 2, aligned=False)[0, 0]
    assert torch.allclose(legacy, torch.tensor([[16.5, 17.5], [26.5, 27.5]]), atol=1e-5)


def test_spatial_scale_maps_image_boxes_to_cells():
    # A box of image pixels (4, 4)-(12, 12) on a stride-4 map covers cells 1..3 as above.
    rois = torch.tensor([[0.0, 4.0, 4.0, 12.0, 12.0]])
    out = roi_align(linear_map(), rois, 2, 0.25, 2, aligned=True)[0, 0]
    assert torch.allclose(out, torch.tensor([[11.0, 12.0], [21.0, 22.0]]), atol=1e-5)


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [2, 1, -1])
def test_matches_reference_loop_including_borders(aligned, sampling_ratio):
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 9, 11, generator=gen)
    rois = torch.tensor([
        [1, 2.0, 3.0, 30.0, 25.0],    # inside
        [0, -6.0, -5.0, 10.0, 12.0],  # crosses the top-left border
        [1, 35.0, 28.0, 50.0, 45.0],  # mostly outside: far samples are zero
        [0, 7.3, 9.1, 8.0, 9.5],      # smaller than a cell
        [0, 0.0, 0.0, 44.0, 36.0],    # the whole map
    ])
    got = roi_align(features, rois, (3, 4), 0.25, sampling_ratio, aligned)
    want = roi_align_reference(features.numpy(), rois.numpy(), 3, 4, 0.25, sampling_ratio, aligned)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5)


def test_per_image_layout_equals_flat_rois():
    features = torch.randn(2, 4, 8, 8)
    boxes = torch.tensor([[[0.0, 0, 16, 16], [8, 4, 30, 20]], [[2, 2, 10, 30], [0, 0, 32, 32]]])
    per_image = roi_align_per_image(features, boxes, 5, 0.25, 2, True)
    flat = torch.cat([torch.tensor([[0.0], [0.0], [1.0], [1.0]]), boxes.reshape(4, 4)], dim=1)
    assert torch.allclose(per_image.reshape(4, 4, 5, 5), roi_align(features, flat, 5, 0.25, 2, True), atol=1e-6)


def test_gradient_matches_finite_differences():
    features = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 0.5, 1.0, 4.5, 4.0], [0, -0.7, 2.0, 3.0, 6.2]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: roi_align(f, rois, 3, 1.0, 2, True), (features,))


def test_empty_box_list():
    assert roi_align(torch.randn(1, 3, 4, 4), torch.zeros(0, 5), 2, 1.0, 2, True).shape == (0, 3, 2, 2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_onnx_export_with_variable_box_count(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    module = RoIAlign(4, 0.5, 2, aligned=True).eval()
    features = torch.randn(1, 3, 10, 12)
    path = tmp_path / "roi_align.onnx"
    torch.onnx.export(module, (features, torch.tensor([[0, 1.0, 2.0, 9.0, 11.0]] * 2)), str(path), dynamo=False,
                      opset_version=17, input_names=["features", "rois"], output_names=["crops"],
                      dynamic_axes={"rois": {0: "num_boxes"}, "crops": {0: "num_boxes"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for count in (1, 5):
        rois = torch.cat([torch.zeros(count, 1), torch.rand(count, 2) * 10, 10 + torch.rand(count, 2) * 12], dim=1)
        (got,) = session.run(None, {"features": features.numpy(), "rois": rois.numpy()})
        np.testing.assert_allclose(got, module(features, rois).numpy(), atol=1e-5)
