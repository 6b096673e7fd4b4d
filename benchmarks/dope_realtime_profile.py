"""DOPE real-time mode, profiled: where one inference spends its operators, kernels and host syncs.

One ResNet-50 DOPE (random weights, anchor poses spread over the box) in the paper's real-time
mode (shorter side 400 px, 50 proposals, fp16 on a GPU, fp32 on a CPU) on a fixture photo
(``WHOLEBODY_FIXTURES`` or ../shared/fixtures; a random image without them), in three variants
measured in one run: ``plain``, ``fused`` (batch norms folded into the convolutions) and
``fused+nhwc`` (plus channels-last).  Per variant:

* ``network_ms`` / ``post_ms``: median ms of the network and of pose NMS (or PPI) on its output;
* ``norm_calls``: batch-norm modules run by one forward (each is its own pass over a feature map);
* ``ops``: aten operators of one inference, ``kernels``: CUDA kernel launches (CUDA only);
* ``network_syncs`` / ``post_syncs``: host syncs (``train.host_syncs``: device->host copies on
  CUDA; operators that need a device value on a CPU, which cannot see ``.cpu()`` copies).

Usage: ``python benchmarks/dope_realtime_profile.py [--device cuda] [--tiny] [--method nms|ppi] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from wholebody.models.dope.infer import DopeEstimator, image_tensor
from wholebody.models.dope.layout import PART_NAMES
from wholebody.models.dope.network import dope_resnet50, dope_tiny
from wholebody.models.dope.post import detect_parts
from wholebody.nn.blocks import FrozenBatchNorm2d
from wholebody.train.host_syncs import count_host_syncs

FIXTURES = Path(os.environ.get("WHOLEBODY_FIXTURES", Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"))
VARIANTS = {"plain": {}, "fused": {"fuse_bn": True}, "fused+nhwc": {"fuse_bn": True, "channels_last": True}}


def photo() -> np.ndarray:
    """A fixture photo (RGB uint8), or a random 480x640 image without the fixtures."""
    path = FIXTURES / "coco_wholebody" / "000000196141.jpg"
    if path.is_file():
        from wholebody.data.images import read_image

        return np.array(read_image(path))
    return np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def build(tiny: bool, device: torch.device, options: dict) -> DopeEstimator:
    torch.manual_seed(0)
    model = (dope_tiny() if tiny else dope_resnet50()).to(device)
    for part in PART_NAMES:
        k, j = model.num_anchor_poses[part], model.layout.num_joints(part)
        model.set_anchor_poses(part, torch.rand(k, j, 5) * torch.tensor([1, 1, 0.3, 0.3, 0.3]))
    return DopeEstimator(model, realtime=True, **options)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def norm_calls(model: nn.Module, run) -> int:
    """Batch-norm module calls during ``run()``."""
    calls = []
    hooks = [m.register_forward_hook(lambda *_: calls.append(1)) for m in model.modules()
             if isinstance(m, (nn.BatchNorm2d, FrozenBatchNorm2d))]
    run()
    for hook in hooks:
        hook.remove()
    return len(calls)


class Variant:
    """One estimator and the two halves of its inference: the network, and NMS / PPI on its output."""

    def __init__(self, estimator: DopeEstimator, image: np.ndarray, method: str) -> None:
        self.model, self.method = estimator.model, method
        self.tensor = image_tensor(image)
        self.times: dict[str, list[float]] = {"network": [], "post": []}

    def network(self) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.model([self.tensor])[0]

    def post(self, out: dict[str, torch.Tensor]):
        return detect_parts(out, PART_NAMES, self.model.hand_classes_per_side, self.method)

    def time_once(self, device: torch.device) -> None:
        _sync(device)
        tic = time.perf_counter()
        out = self.network()
        _sync(device)
        self.times["network"].append(time.perf_counter() - tic)
        tic = time.perf_counter()
        self.post(out)
        self.times["post"].append(time.perf_counter() - tic)

    def profile(self, device: torch.device) -> dict:
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities) as prof:
            out = self.network()
            self.post(out)
            _sync(device)
        events = prof.events()
        report = {f"{k}_ms": round(1000 * float(np.median(v)), 2) for k, v in self.times.items()}
        report["proposals"] = int(len(out["boxes"]))
        report["norm_calls"] = norm_calls(self.model, self.network)
        report["ops"] = sum(e.name.startswith("aten::") for e in events)
        if device.type == "cuda":
            report["kernels"] = sum(len(getattr(e, "kernels", ())) for e in events)
        report["network_syncs"] = count_host_syncs(self.network, device)[0]
        report["post_syncs"] = count_host_syncs(lambda: self.post(out), device)[0]
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tiny", action="store_true", help="the test-size DOPE (a quick run on a CPU)")
    parser.add_argument("--method", choices=("nms", "ppi"), default="nms")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    image = photo()
    variants = {name: Variant(build(args.tiny, device, options), image, args.method) for name, options in VARIANTS.items()}
    for variant in variants.values():  # warm-up (cuDNN autotune, allocator)
        variant.post(variant.network())
    for _ in range(args.repeats):  # taking turns: a busy machine slows every variant alike
        for variant in variants.values():
            variant.time_once(device)
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "model": "tiny" if args.tiny else "resnet50", "mode": "realtime", "method": args.method,
              "image": list(image.shape[:2]), "variants": {name: v.profile(device) for name, v in variants.items()}}
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
