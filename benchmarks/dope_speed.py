"""DOPE speed: ms/image of the full mode and the paper's real-time mode, and training images/s.

Full mode: shorter side 800 px (longer <= 1333), 1000 proposals, fp32.  Real-time mode: shorter
side 400 px, 50 proposals, fp16 on a GPU (fp32 on CPU).  The network is a ResNet-50 DOPE with
random weights and anchor poses at the box centre: the work per image does not depend on the
weights except in post-processing, which is timed separately (NMS and PPI on the raw outputs).
The paper reports 100 ms (full) and 28 ms (real-time) per image on a T4 GPU.

cuDNN autotuning is on by default on CUDA (``--cudnn-benchmark off`` to compare): every timed
forward sees the same image size, as in a video, and issue 15's figures were measured with it on.
Without it cuDNN's heuristics pick the kernels, which can be much slower for fp16 at batch 1.

Usage: ``python benchmarks/dope_speed.py [--device cuda] [--repeats 10] [--train-steps 10] [--cudnn-benchmark on|off]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from wholebody.models.dope.network import dope_resnet50
from wholebody.models.dope.layout import PART_NAMES
from wholebody.models.dope.post import detect_parts


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_inference(model, image: torch.Tensor, repeats: int, device: torch.device) -> dict[str, float]:
    """Median ms/image of the network and of each post-processing (NMS, PPI) on its output."""
    network, post = [], {"nms": [], "ppi": []}
    with torch.no_grad():
        model([image])  # warm-up (cuDNN autotune, allocator)
        for _ in range(repeats):
            _sync(device)
            tic = time.perf_counter()
            out = model([image])[0]
            _sync(device)
            network.append(time.perf_counter() - tic)
            for method, times in post.items():
                tic = time.perf_counter()
                detect_parts(out, PART_NAMES, model.hand_classes_per_side, method)
                times.append(time.perf_counter() - tic)
    return {"network_ms": round(1000 * float(np.median(network)), 1), "proposals": int(len(out["boxes"]))} | {
        f"{method}_ms": round(1000 * float(np.median(times)), 1) for method, times in post.items()}


def time_training(model, steps: int, batch: int, device: torch.device) -> float:
    """Images/s of training steps on random images with one random body label each (bf16 on GPU)."""
    from wholebody.data.adapters.sample import PartInstance
    from wholebody.train.dope.pseudo import PseudoLabels
    from wholebody.train.dope.step import ImageLabels, compute_losses

    rng = np.random.default_rng(0)
    pose = np.stack([np.linspace(100, 300, 23), np.linspace(50, 450, 23)], 1)
    label = ImageLabels(PseudoLabels([PartInstance("body", pose, np.ones(23, bool), rng.normal(0, 0.2, (23, 3)),
                                                   np.ones(23, bool), box=np.array([80.0, 10.0, 320.0, 490.0]))], []),
                        frozenset({"body", "hand", "face"}))
    images = [torch.rand(3, 480, 640) for _ in range(batch)]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-5)
    amp = device.type == "cuda" and torch.cuda.is_bf16_supported()
    model.train()
    elapsed = 0.0
    for step in range(steps + 1):
        _sync(device)
        tic = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = compute_losses(model, images, [label] * batch)["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync(device)
        if step:  # the first step warms up
            elapsed += time.perf_counter() - tic
    model.eval()
    return steps * batch / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--train-steps", type=int, default=10, help="0 skips the training measurement")
    parser.add_argument("--batch", type=int, default=2, help="training images per step")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cudnn-benchmark", choices=("on", "off"), default="on", help="cuDNN autotuning on CUDA")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = args.cudnn_benchmark == "on"
    torch.manual_seed(0)
    model = dope_resnet50().to(device).eval()
    for part in PART_NAMES:
        anchors = model.anchor_poses(part)
        model.set_anchor_poses(part, torch.cat([torch.full((*anchors.shape[:2], 2), 0.5),
                                                torch.zeros((*anchors.shape[:2], 3))], -1))
    image = torch.rand(3, 480, 640)
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {args.threads} thread(s)",
              "cudnn_benchmark": args.cudnn_benchmark if device.type == "cuda" else None,
              "image": "640x480", "full": time_inference(model, image, args.repeats, device)}
    if args.train_steps:
        report["train_images_per_s"] = round(time_training(model, args.train_steps, args.batch, device), 2)
    model.set_realtime(True)
    report["realtime"] = time_inference(model, image, args.repeats, device) | {"half": model.use_half}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
