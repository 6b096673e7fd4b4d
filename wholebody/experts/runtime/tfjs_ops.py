"""TensorFlow op semantics in torch, for the TF.js graph executor (``tfjs_graph``).

Tensors keep TensorFlow's layout: images are NHWC.  Convolutions view an NHWC tensor as a
channels-last NCHW tensor (a free ``permute``), so no copies are made around each layer.

Each op is ``fn(node, args) -> Tensor | tuple[Tensor, ...]``; ``node.attrs`` holds the decoded
GraphDef attributes and ``node.cache`` keeps per-node prepared constants (torch-layout weights).
Only the ops used by the graphs the project runs are here (CenterNet, MoveNet-MultiPose), plus a
few close relatives; anything else is reported by the executor with the op and node name.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

TF_DTYPES = {
    "DT_FLOAT": torch.float32, "DT_INT32": torch.int32, "DT_INT64": torch.int64,
    "DT_BOOL": torch.bool, "DT_HALF": torch.float16, "DT_UINT8": torch.uint8,
}


def _ints(t: torch.Tensor) -> list[int]:
    """A shape/axis argument tensor as Python ints (scalars give a one-item list)."""
    return [int(v) for v in t.reshape(-1).tolist()]


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) for one spatial axis.

    The output has ceil(size / stride) samples; when the total padding is odd, the extra
    pixel goes *after* (bottom/right), unlike torch's symmetric ``padding=``.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _spatial_pads(node, x_nhwc: torch.Tensor, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int):
    padding = node.attrs.get("padding", "VALID")
    if padding == "SAME":  # int(): under ONNX tracing sizes are tensors; padding must stay constant
        return same_pads(int(x_nhwc.shape[1]), kh, sh, dh), same_pads(int(x_nhwc.shape[2]), kw, sw, dw)
    if padding == "VALID":
        return (0, 0), (0, 0)
    if padding == "EXPLICIT":
        p = node.attrs["explicit_paddings"]  # 4 (before, after) pairs in NHWC order
        return (p[2], p[3]), (p[4], p[5])
    raise ValueError(f"node {node.name!r}: unsupported padding {padding!r}")


def _check_nhwc(node) -> None:
    fmt = node.attrs.get("data_format", "NHWC")
    if fmt != "NHWC":
        raise NotImplementedError(f"node {node.name!r} ({node.op}): data_format {fmt!r}, only NHWC is supported")


def _conv(node, x: torch.Tensor, weight: torch.Tensor, bias, groups: int) -> torch.Tensor:
    """NHWC conv with TF padding; ``weight`` is torch OIHW."""
    _check_nhwc(node)
    _, sh, sw, _ = node.attrs.get("strides", [1, 1, 1, 1])
    _, dh, dw, _ = node.attrs.get("dilations", [1, 1, 1, 1])
    kh, kw = int(weight.shape[2]), int(weight.shape[3])
    (top, bottom), (left, right) = _spatial_pads(node, x, kh, kw, sh, sw, dh, dw)
    xc = x.permute(0, 3, 1, 2)
    if top == bottom and left == right:
        y = F.conv2d(xc, weight, bias, (sh, sw), (top, left), (dh, dw), groups)
    else:
        y = F.conv2d(F.pad(xc, (left, right, top, bottom)), weight, bias, (sh, sw), 0, (dh, dw), groups)
    return y.permute(0, 2, 3, 1)


def _activation(node, y: torch.Tensor, names: list[str], extra: list[torch.Tensor]) -> torch.Tensor:
    """Apply the activation part of a fused op (names after BiasAdd)."""
    for name in names:
        if name == "Relu":
            y = torch.relu(y)
        elif name == "Relu6":
            y = torch.clamp(y, 0.0, 6.0)
        elif name == "Prelu":
            alpha = extra[0]
            y = torch.where(y >= 0, y, y * alpha)
        elif name == "LeakyRelu":
            y = F.leaky_relu(y, node.attrs.get("leakyrelu_alpha", 0.2))
        elif name == "Sigmoid":
            y = torch.sigmoid(y)
        else:
            raise NotImplementedError(f"node {node.name!r} ({node.op}): unsupported fused op {name!r}")
    return y


def _fused(node, args, y_fn):
    """Shared body of _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul."""
    fused = list(node.attrs.get("fused_ops", []))
    extra = list(args[2:])
    bias = None
    if fused and fused[0] == "BiasAdd":
        bias, extra, fused = extra[0], extra[1:], fused[1:]
    elif fused and fused[0] == "FusedBatchNorm":
        raise NotImplementedError(f"node {node.name!r} ({node.op}): fused FusedBatchNorm is not supported")
    return _activation(node, y_fn(bias), fused, extra)


def conv2d(node, args):
    x, w = args[0], args[1]
    weight = node.cache.get("w")
    if weight is None:  # TF HWIO -> torch OIHW, once per node
        weight = node.cache["w"] = w.permute(3, 2, 0, 1).contiguous()
    groups = int(x.shape[3]) // int(weight.shape[1])
    if node.op == "Conv2D":
        return _conv(node, x, weight, None, groups)
    return _fused(node, args, lambda bias: _conv(node, x, weight, bias, groups))


def depthwise_conv2d(node, args):
    x, w = args[0], args[1]
    weight = node.cache.get("w")
    if weight is None:  # TF [kh, kw, in, mult] -> torch [in * mult, 1, kh, kw]; out channel c*mult+m
        kh, kw, cin, mult = w.shape
        weight = node.cache["w"] = w.reshape(kh, kw, cin * mult).permute(2, 0, 1).unsqueeze(1).contiguous()
    groups = int(x.shape[3])
    if node.op == "DepthwiseConv2dNative":
        return _conv(node, x, weight, None, groups)
    return _fused(node, args, lambda bias: _conv(node, x, weight, bias, groups))


def fused_matmul(node, args):
    a, b = args[0], args[1]
    if node.attrs.get("transpose_a", False):
        a = a.transpose(-1, -2)
    if node.attrs.get("transpose_b", False):
        b = b.transpose(-1, -2)
    if node.op == "MatMul":
        return a @ b
    return _fused(node, args, lambda bias: a @ b if bias is None else a @ b + bias)


def max_pool(node, args):
    _check_nhwc(node)
    x = args[0]
    _, kh, kw, _ = node.attrs["ksize"]
    _, sh, sw, _ = node.attrs["strides"]
    (top, bottom), (left, right) = _spatial_pads(node, x, kh, kw, sh, sw, 1, 1)
    xc = F.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom), value=-math.inf)
    return F.max_pool2d(xc, (kh, kw), (sh, sw)).permute(0, 2, 3, 1)


def _source_coords(out_size: int, in_size: int, align_corners: bool, half_pixel: bool, device) -> torch.Tensor:
    """TF resize: the input coordinate sampled by each output pixel (before clamping)."""
    out = torch.arange(out_size, dtype=torch.float32, device=device)
    if align_corners and out_size > 1:
        return out * ((in_size - 1) / (out_size - 1))
    scale = in_size / out_size
    return (out + 0.5) * scale - 0.5 if half_pixel else out * scale


def resize_bilinear(node, args):
    x, size = args[0], _ints(args[1])
    align, half = node.attrs.get("align_corners", False), node.attrs.get("half_pixel_centers", False)
    xc = x.permute(0, 3, 1, 2)
    if align or half:  # torch's align_corners=False is TF's half-pixel rule (both clamp at 0)
        return F.interpolate(xc, size=size, mode="bilinear", align_corners=align).permute(0, 2, 3, 1)
    # TF1 legacy rule (neither flag): source = out * in/out, no half-pixel shift; separable lerp.
    for axis, (n_out, n_in) in zip((2, 3), zip(size, map(int, xc.shape[2:]))):
        src = _source_coords(n_out, n_in, False, False, x.device)
        lo = src.floor().clamp(0, n_in - 1).long()
        hi = (lo + 1).clamp(max=n_in - 1)
        frac = (src - lo.float()).reshape([-1 if d == axis else 1 for d in range(4)])
        a, b = xc.index_select(axis, lo), xc.index_select(axis, hi)
        xc = a + (b - a) * frac
    return xc.permute(0, 2, 3, 1)


def resize_nearest(node, args):
    x, size = args[0], _ints(args[1])
    align, half = node.attrs.get("align_corners", False), node.attrs.get("half_pixel_centers", False)
    for axis, (n_out, n_in) in zip((1, 2), zip(size, map(int, x.shape[1:3]))):
        if align and n_out > 1:
            idx = (torch.arange(n_out, device=x.device) * ((n_in - 1) / (n_out - 1))).round()
        else:
            idx = torch.arange(n_out, dtype=torch.float32, device=x.device)
            idx = ((idx + (0.5 if half else 0.0)) * (n_in / n_out)).floor()
        x = x.index_select(axis, idx.clamp(0, n_in - 1).long())
    return x


def strided_slice(node, args):
    x, begin, end, strides = args[0], _ints(args[1]), _ints(args[2]), _ints(args[3])
    a = node.attrs
    index = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if a.get("ellipsis_mask", 0) & bit:
            index.append(Ellipsis)
        elif a.get("new_axis_mask", 0) & bit:
            index.append(None)
        elif a.get("shrink_axis_mask", 0) & bit:
            index.append(b)
        else:
            if s <= 0:
                raise NotImplementedError(f"node {node.name!r} (StridedSlice): stride {s} (only positive strides)")
            index.append(slice(None if a.get("begin_mask", 0) & bit else b,
                               None if a.get("end_mask", 0) & bit else e, s))
    return x[tuple(index)]


def gather_v2(node, args):
    params, indices, axis = args[0], args[1].long(), _ints(args[2])[0]
    if node.attrs.get("batch_dims", 0) != 0:
        raise NotImplementedError(f"node {node.name!r} (GatherV2): batch_dims != 0")
    axis %= params.dim()
    picked = params.index_select(axis, indices.reshape(-1))
    return picked.reshape(params.shape[:axis] + indices.shape + params.shape[axis + 1:])


def gather_nd(node, args):
    params, indices = args[0], args[1].long()
    depth = indices.shape[-1]
    return params[tuple(indices[..., i] for i in range(depth))]


def reduce(fn):
    def op(node, args):
        axes = _ints(args[1])
        if not axes:
            return args[0]
        return fn(args[0], dim=axes, keepdim=node.attrs.get("keep_dims", False))
    return op


def arg_max(node, args):
    dtype = TF_DTYPES[node.attrs.get("output_type", "DT_INT64")]
    return torch.argmax(args[0], dim=_ints(args[1])[0]).to(dtype)


def top_k(node, args):
    values, indices = torch.topk(args[0], _ints(args[1])[0], dim=-1, largest=True, sorted=True)
    return values, indices.to(torch.int32)


def select(node, args):
    cond, a, b = args
    if cond.dim() == 1 and a.dim() > 1:  # TF1 Select: a vector condition picks whole rows
        cond = cond.reshape([-1] + [1] * (a.dim() - 1))
    return torch.where(cond, a, b)


def floor_div(node, args):
    a, b = args
    if a.dtype.is_floating_point:
        return torch.floor(a / b)
    return torch.div(a, b, rounding_mode="floor")


def split(node, args):
    axis, x = _ints(args[0])[0], args[1]
    return tuple(torch.chunk(x, node.attrs["num_split"], dim=axis))


def squeeze(node, args):
    dims = node.attrs.get("squeeze_dims", [])
    x = args[0]
    if not dims:
        return x.squeeze()
    for d in sorted((d % x.dim() for d in dims), reverse=True):
        x = x.squeeze(d)
    return x


def cast(node, args):
    return args[0].to(TF_DTYPES[node.attrs["DstT"]])


def pad(node, args):
    x, pads = args[0], _ints(args[1])
    flat = []  # F.pad wants last axis first
    for d in reversed(range(x.dim())):
        flat += [pads[2 * d], pads[2 * d + 1]]
    if node.op == "MirrorPad":
        mode = node.attrs.get("mode", "REFLECT").lower()
        if mode != "reflect":
            raise NotImplementedError(f"node {node.name!r} (MirrorPad): mode {mode!r}")
        if x.dim() != 4 or any(flat[:2] + flat[6:]):
            raise NotImplementedError(f"node {node.name!r} (MirrorPad): only spatial padding of NHWC tensors")
        return F.pad(x.permute(0, 3, 1, 2), flat[2:6], mode="reflect").permute(0, 2, 3, 1)
    value = float(args[2]) if len(args) > 2 else 0.0
    return F.pad(x, flat, value=value)


def _shape_tensor(node, value, device) -> torch.Tensor:
    return torch.tensor(value, dtype=TF_DTYPES[node.attrs.get("out_type", "DT_INT32")], device=device)


def _binary(fn):
    return lambda node, args: fn(args[0], args[1])


def _unary(fn):
    return lambda node, args: fn(args[0])


OPS = {
    "Conv2D": conv2d, "_FusedConv2D": conv2d,
    "DepthwiseConv2dNative": depthwise_conv2d, "FusedDepthwiseConv2dNative": depthwise_conv2d,
    "MatMul": fused_matmul, "_FusedMatMul": fused_matmul,
    "MaxPool": max_pool,
    "ResizeBilinear": resize_bilinear, "ResizeNearestNeighbor": resize_nearest,
    "Add": _binary(torch.add), "AddV2": _binary(torch.add), "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul), "RealDiv": _binary(torch.div), "FloorDiv": floor_div,
    "FloorMod": _binary(torch.remainder), "Maximum": _binary(torch.maximum), "Minimum": _binary(torch.minimum),
    "SquaredDifference": _binary(lambda a, b: (a - b) * (a - b)),
    "Equal": _binary(torch.eq), "Less": _binary(torch.lt), "Greater": _binary(torch.gt),
    "GreaterEqual": _binary(torch.ge), "LogicalAnd": _binary(torch.logical_and),
    "AddN": lambda node, args: sum(args[1:], args[0]),
    "Relu": _unary(torch.relu), "Relu6": _unary(lambda x: torch.clamp(x, 0.0, 6.0)),
    "Sigmoid": _unary(torch.sigmoid), "Exp": _unary(torch.exp), "Abs": _unary(torch.abs),
    "Floor": _unary(torch.floor), "Reciprocal": _unary(torch.reciprocal),
    "Prelu": lambda node, args: torch.where(args[0] >= 0, args[0], args[0] * args[1]),
    "Mean": reduce(torch.mean), "Sum": reduce(torch.sum), "Max": reduce(torch.amax),
    "ArgMax": arg_max, "TopKV2": top_k, "Select": select,
    "ConcatV2": lambda node, args: torch.cat(args[:-1], dim=_ints(args[-1])[0]),
    "Pack": lambda node, args: torch.stack(args, dim=node.attrs.get("axis", 0)),
    "Unpack": lambda node, args: tuple(torch.unbind(args[0], dim=node.attrs.get("axis", 0))),
    "Split": split,
    "Reshape": lambda node, args: args[0].reshape(_ints(args[1])),
    "Transpose": lambda node, args: args[0].permute(_ints(args[1])),
    "ExpandDims": lambda node, args: args[0].unsqueeze(_ints(args[1])[0]),
    "Squeeze": squeeze,
    "Tile": lambda node, args: args[0].repeat(_ints(args[1])),
    "Fill": lambda node, args: torch.full(_ints(args[0]), args[1].item(), dtype=args[1].dtype, device=args[1].device),
    "Range": lambda node, args: torch.arange(args[0].item(), args[1].item(), args[2].item(), device=args[0].device,
                                             dtype=TF_DTYPES[node.attrs.get("Tidx", "DT_INT32")]),
    "Shape": lambda node, args: _shape_tensor(node, [int(d) for d in args[0].shape], args[0].device),
    "Size": lambda node, args: _shape_tensor(node, int(args[0].numel()), args[0].device),
    "Cast": cast,
    "StridedSlice": strided_slice, "GatherV2": gather_v2, "GatherNd": gather_nd,
    "Pad": pad, "PadV2": pad, "MirrorPad": pad,
    "Identity": lambda node, args: args[0],
}
