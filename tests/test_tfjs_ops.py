"""TensorFlow op semantics of wholebody.experts.runtime.tfjs_ops, checked against numpy arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wholebody.experts.runtime.tfjs_graph import Node
from wholebody.experts.runtime.tfjs_ops import OPS, same_pads

rng = np.random.default_rng(0)


def call(op: str, args, **attrs):
    node = Node(name=f"test/{op}", op=op, inputs=[], attrs=attrs)
    return OPS[op](node, [a if isinstance(a, torch.Tensor) else torch.as_tensor(np.ascontiguousarray(a)) for a in args])


def t(values, dtype=np.float32):
    return torch.from_numpy(np.asarray(values, dtype=dtype))


def conv_reference(x, w, stride, pads, depthwise=False):
    """Naive NHWC correlation after explicit (top, bottom), (left, right) zero padding."""
    (top, bottom), (left, right) = pads
    x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw = w.shape[:2]
    out_h, out_w = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    cout = w.shape[2] * w.shape[3] if depthwise else w.shape[3]
    y = np.zeros((x.shape[0], out_h, out_w, cout))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]  # N kh kw C
            if depthwise:  # out channel c * mult + m
                y[:, i, j] = np.einsum("nhwc,hwcm->ncm", patch, w).reshape(x.shape[0], -1)
            else:
                y[:, i, j] = np.einsum("nhwc,hwco->no", patch, w)
    return y


def test_same_padding_puts_the_odd_pixel_after():
    assert same_pads(5, 3, 2) == (1, 1)  # out 3: total 2
    assert same_pads(4, 3, 2) == (0, 1)  # out 2: total 1, extra pixel at the bottom/right
    assert same_pads(6, 1, 2) == (0, 0)
    assert same_pads(7, 3, 1, dilation=2) == (2, 2)


@pytest.mark.parametrize("size,stride", [(6, 2), (7, 2), (5, 1)])
def test_conv2d_same_matches_tf_asymmetric_padding(size, stride):
    x = rng.normal(size=(1, size, size + 1, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    got = call("Conv2D", [x, w], strides=[1, stride, stride, 1], padding="SAME").numpy()
    pads = (same_pads(size, 3, stride), same_pads(size + 1, 3, stride))
    np.testing.assert_allclose(got, conv_reference(x, w, stride, pads), rtol=1e-4, atol=1e-4)


def test_fused_conv2d_bias_relu6_and_valid_padding():
    x = rng.normal(size=(2, 5, 5, 2)).astype(np.float32) * 4
    w = rng.normal(size=(3, 3, 2, 3)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    got = call("_FusedConv2D", [x, w, bias], strides=[1, 1, 1, 1], padding="VALID",
               fused_ops=["BiasAdd", "Relu6"]).numpy()
    want = np.clip(conv_reference(x, w, 1, ((0, 0), (0, 0))) + bias, 0, 6)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_fused_conv2d_prelu_uses_its_extra_argument():
    x = rng.normal(size=(1, 4, 4, 2)).astype(np.float32)
    w = rng.normal(size=(1, 1, 2, 3)).astype(np.float32)
    bias, alpha = np.zeros(3, np.float32), np.array([0.1, 0.2, 0.3], np.float32)
    got = call("_FusedConv2D", [x, w, bias, alpha], strides=[1, 1, 1, 1], padding="SAME",
               fused_ops=["BiasAdd", "Prelu"]).numpy()
    pre = conv_reference(x, w, 1, ((0, 0), (0, 0)))
    np.testing.assert_allclose(got, np.where(pre >= 0, pre, pre * alpha), rtol=1e-4, atol=1e-5)


def test_depthwise_conv_with_channel_multiplier_and_fused_relu():
    x = rng.normal(size=(1, 6, 6, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 2)).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32)
    pads = (same_pads(6, 3, 2), same_pads(6, 3, 2))
    plain = call("DepthwiseConv2dNative", [x, w], strides=[1, 2, 2, 1], padding="SAME").numpy()
    np.testing.assert_allclose(plain, conv_reference(x, w, 2, pads, depthwise=True), rtol=1e-4, atol=1e-4)
    fused = call("FusedDepthwiseConv2dNative", [x, w, bias], strides=[1, 2, 2, 1], padding="SAME",
                 fused_ops=["BiasAdd", "Relu"]).numpy()
    np.testing.assert_allclose(fused, np.maximum(plain + bias, 0), rtol=1e-4, atol=1e-4)


def test_fused_matmul_transpose_and_bias():
    a, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    bias = rng.normal(size=5).astype(np.float32)
    got = call("_FusedMatMul", [a, b, bias], transpose_b=True, fused_ops=["BiasAdd", "Relu"]).numpy()
    np.testing.assert_allclose(got, np.maximum(a @ b.T + bias, 0), rtol=1e-5, atol=1e-5)


def test_max_pool_same_pads_with_minus_infinity():
    x = -1 - rng.random(size=(1, 4, 4, 2)).astype(np.float32)  # all negative: zero padding would show
    got = call("MaxPool", [x], ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME").numpy()
    want = np.full((1, 2, 2, 2), -np.inf)
    for i in range(2):
        for j in range(2):  # SAME 4->2: pads (0, 1), windows start at 0 and 2
            want[0, i, j] = x[0, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(0, 1))
    np.testing.assert_allclose(got, want)


def bilinear_reference(x, out_h, out_w, align_corners, half_pixel):
    """TF ResizeBilinear, written from its definition (clamped source coordinates)."""
    in_h, in_w = x.shape[1:3]

    def coords(n_out, n_in):
        o = np.arange(n_out, dtype=np.float64)
        if align_corners and n_out > 1:
            return o * (n_in - 1) / (n_out - 1)
        return (o + 0.5) * n_in / n_out - 0.5 if half_pixel else o * n_in / n_out

    ys, xs = coords(out_h, in_h), coords(out_w, in_w)
    y0 = np.clip(np.floor(ys), 0, in_h - 1).astype(int)
    x0 = np.clip(np.floor(xs), 0, in_w - 1).astype(int)
    y1, x1 = np.minimum(y0 + 1, in_h - 1), np.minimum(x0 + 1, in_w - 1)
    fy = np.clip(ys - np.floor(ys), 0, 1) * (ys >= 0)
    fx = np.clip(xs - np.floor(xs), 0, 1) * (xs >= 0)
    top = x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y0][:, :, x1] * fx[None, None, :, None]
    bottom = x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y1][:, :, x1] * fx[None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bottom * fy[None, :, None, None]


@pytest.mark.parametrize("align,half", [(False, False), (False, True), (True, False)])
@pytest.mark.parametrize("size", [(8, 10), (3, 4)])
def test_resize_bilinear_modes(align, half, size):
    x = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    got = call("ResizeBilinear", [x, np.array(size, np.int32)], align_corners=align, half_pixel_centers=half)
    np.testing.assert_allclose(got.numpy(), bilinear_reference(x, *size, align, half), rtol=1e-5, atol=1e-5)


def test_resize_nearest_modes():
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)
    size = np.array([1, 8], np.int32)
    legacy = call("ResizeNearestNeighbor", [x, size]).numpy().ravel()
    np.testing.assert_array_equal(legacy, [0, 0, 1, 1, 2, 2, 3, 3])
    aligned = call("ResizeNearestNeighbor", [x, np.array([1, 3], np.int32)], align_corners=True).numpy().ravel()
    np.testing.assert_array_equal(aligned, [0, 2, 3])  # round(0, 1.5, 3)
    down = call("ResizeNearestNeighbor", [x, np.array([1, 2], np.int32)], half_pixel_centers=True).numpy().ravel()
    np.testing.assert_array_equal(down, [1, 3])  # floor((o + 0.5) * 2)


def test_strided_slice_masks_follow_numpy_indexing():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    s = lambda b, e, st, **m: call("StridedSlice", [x, np.array(b), np.array(e), np.array(st)], **m).numpy()
    np.testing.assert_array_equal(s([0, 1, 0, 2], [0, 3, 0, 5], [1, 1, 1, 2], begin_mask=0b0101, end_mask=0b0101),
                                  x[:, 1:3, :, 2:5:2])
    np.testing.assert_array_equal(s([1, 0], [2, 0], [1, 1], shrink_axis_mask=0b01, begin_mask=0b10, end_mask=0b10),
                                  x[1, :])
    np.testing.assert_array_equal(s([0, 0, -1], [0, 0, 0], [1, 1, 1], new_axis_mask=0b010, begin_mask=0b001,
                                    end_mask=0b001, shrink_axis_mask=0b100), x[:, None, -1])
    np.testing.assert_array_equal(s([0, 1], [0, 3], [1, 1], ellipsis_mask=0b01), x[..., 1:3])


def test_gather_ops_topk_argmax():
    params = rng.normal(size=(4, 5, 3)).astype(np.float32)
    idx = np.array([[3, 0], [1, 1]], np.int32)
    np.testing.assert_array_equal(call("GatherV2", [params, idx, np.int32(1)]).numpy(), np.take(params, idx, axis=1))
    nd = np.array([[0, 4], [3, 2]], np.int32)
    np.testing.assert_array_equal(call("GatherNd", [params, nd]).numpy(), params[nd[:, 0], nd[:, 1]])
    values, indices = call("TopKV2", [params.reshape(4, 15), np.int32(3)])
    np.testing.assert_array_equal(indices.numpy(), np.argsort(-params.reshape(4, 15), axis=1)[:, :3])
    assert indices.dtype == torch.int32
    np.testing.assert_array_equal(values.numpy(), -np.sort(-params.reshape(4, 15), axis=1)[:, :3])
    arg = call("ArgMax", [params, np.int32(2)], output_type="DT_INT32")
    np.testing.assert_array_equal(arg.numpy(), params.argmax(axis=2))


def test_shape_and_layout_ops():
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(call("Reshape", [x, np.array([3, -1])]).numpy(), x.reshape(3, -1))
    np.testing.assert_array_equal(call("Transpose", [x, np.array([2, 0, 1])]).numpy(), x.transpose(2, 0, 1))
    np.testing.assert_array_equal(call("ConcatV2", [x, x * 2, np.int32(-1)]).numpy(), np.concatenate([x, 2 * x], -1))
    np.testing.assert_array_equal(call("Pack", [x, x], axis=1).numpy(), np.stack([x, x], 1))
    assert [u.shape for u in call("Unpack", [x], axis=2)] == [(2, 3)] * 4
    parts = call("Split", [np.int32(1), x], num_split=3)
    np.testing.assert_array_equal(parts[2].numpy(), x[:, 2:3])
    assert call("Squeeze", [x[:, :1, None]], squeeze_dims=[1]).shape == (2, 1, 4)
    assert call("ExpandDims", [x, np.int32(-1)]).shape == (2, 3, 4, 1)
    np.testing.assert_array_equal(call("Tile", [x, np.array([1, 2, 1])]).numpy(), np.tile(x, (1, 2, 1)))
    np.testing.assert_array_equal(call("Shape", [x], out_type="DT_INT32").numpy(), [2, 3, 4])
    assert int(call("Size", [x])) == 24
    np.testing.assert_array_equal(call("Fill", [np.array([2, 2]), np.float32(7)]).numpy(), np.full((2, 2), 7))
    np.testing.assert_allclose(call("Range", [np.float32(0), np.float32(2), np.float32(0.5)], Tidx="DT_FLOAT").numpy(),
                               np.arange(0, 2, 0.5))
    padded = call("Pad", [x, np.array([[0, 0], [1, 2], [0, 1]])]).numpy()
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (1, 2), (0, 1))))
    image = rng.normal(size=(1, 4, 4, 2)).astype(np.float32)
    mirrored = call("MirrorPad", [image, np.array([[0, 0], [1, 1], [2, 0], [0, 0]])], mode="REFLECT").numpy()
    np.testing.assert_array_equal(mirrored, np.pad(image, ((0, 0), (1, 1), (2, 0), (0, 0)), mode="reflect"))


def test_elementwise_reductions_and_casts():
    a = np.array([-7, -3, 3, 7], np.int32)
    b = np.array([2, 2, -2, 2], np.int32)
    np.testing.assert_array_equal(call("FloorDiv", [a, b]).numpy(), a // b)
    np.testing.assert_array_equal(call("FloorMod", [a, b]).numpy(), np.mod(a, b))
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(call("Mean", [x, np.array([1, 2])], keep_dims=True).numpy(),
                               x.mean(axis=(1, 2), keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(call("Sum", [x, np.int32(0)]).numpy(), x.sum(0), rtol=1e-6)
    np.testing.assert_array_equal(call("Max", [x, np.int32(-1)]).numpy(), x.max(-1))
    np.testing.assert_allclose(call("SquaredDifference", [x, x[::-1]]).numpy(), (x - x[::-1]) ** 2, rtol=1e-6)
    np.testing.assert_allclose(call("Relu6", [x * 10]).numpy(), np.clip(x * 10, 0, 6))
    np.testing.assert_allclose(call("Sigmoid", [x]).numpy(), 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(call("AddN", [x, x, x]).numpy(), 3 * x, rtol=1e-6)
    np.testing.assert_allclose(call("Reciprocal", [x]).numpy(), 1 / x, rtol=1e-6)
    cast = call("Cast", [np.array([1.7, -1.7], np.float32)], DstT="DT_INT32")
    assert cast.dtype == torch.int32 and cast.tolist() == [1, -1]  # TF truncates toward zero
    rows = call("Select", [np.array([True, False]), np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)])
    np.testing.assert_array_equal(rows.numpy(), [[1, 1, 1], [0, 0, 0]])
    both = call("LogicalAnd", [call("Greater", [x, np.float32(0)]), call("Less", [x, np.float32(1)])])
    np.testing.assert_array_equal(both.numpy(), (x > 0) & (x < 1))


def test_unsupported_attribute_values_are_named():
    with pytest.raises(NotImplementedError, match="test/Conv2D.*NCHW"):
        call("Conv2D", [np.zeros((1, 3, 3, 1), np.float32), np.zeros((1, 1, 1, 1), np.float32)],
             data_format="NCHW", strides=[1, 1, 1, 1], padding="SAME")
    with pytest.raises(NotImplementedError, match="fused op 'Elu'"):
        call("_FusedConv2D", [np.zeros((1, 3, 3, 1), np.float32), np.zeros((1, 1, 1, 1), np.float32),
                              np.zeros(1, np.float32)], strides=[1, 1, 1, 1], padding="SAME",
             fused_ops=["BiasAdd", "Elu"])
