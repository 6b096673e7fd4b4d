"""Overfit check: a tiny ZoomNet trained on the 4 real COCO-WholeBody fixture images (12 people).

Proof that data loading, targets, the zoom-in heads, decoding and the evaluator agree end to
end: trained on ground-truth boxes without geometric augmentation, the network must reproduce
its own training labels, scored by ``wholebody.eval.cocoeval`` through
``wholebody.train.zoomnet.evaluate`` (ground-truth person boxes, rescoring; no flip test since the
network never sees a mirrored crop).  Evaluation uses the hand/face boxes ZoomNet decodes from
its own box maps, so training jitters the ground-truth part boxes given to the zoom-in heads
(as in real training); the crops themselves never change.

Usage: ``python benchmarks/overfit_zoomnet.py [--steps N] [--target-ap 0.9] [--seed S] [--save CKPT]``
Prints AP per part every ``--eval-every`` steps, stops once whole-body AP passes the target.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from wholebody.models.registry import build_model
from wholebody.train.zoomnet.dataset import TopDownDataset, collate, load_training_set
from wholebody.train.zoomnet.evaluate import evaluate_model, format_stats, mean_keypoint_error
from wholebody.models.checkpoints import save_checkpoint
from wholebody.train.zoomnet.losses import LOSSES
from wholebody.train.zoomnet.targets import step_inputs
from wholebody.models.zoomnet.transforms import AugmentConfig

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "coco_wholebody"


def overfit(arch: str = "zoomnet", steps: int = 600, target_ap: float = 0.9, eval_every: int = 50, lr: float = 2e-3,
            input_size: tuple[int, int] = (128, 96), width: int = 8, method: str = "dark", seed: int = 0,
            jitter: float = 0.1, save: str | None = None, fixtures: Path = FIXTURES) -> dict:
    """Train until whole-body AP >= ``target_ap`` or ``steps``; returns the run's figures.

    ``save``: also write the trained model as a checkpoint there (for ``wholebody predict``)."""
    torch.manual_seed(seed)
    data = load_training_set(fixtures / "test_coco_wholebody.json", fixtures)
    model = build_model(arch, tiny=True, input_size=input_size)
    if width != model.config.tiny_width:
        overrides = {"tiny_width": width} | ({"feature_channels": 2 * width} if arch == "zoomnet" else {})
        model = build_model(arch, config=model.config.to_dict() | overrides)
    # Plain crops; only ZoomNet's part boxes are jittered (new jitter every step: set_epoch(step)).
    augment = AugmentConfig.part_jitter_only(jitter)
    dataset = TopDownDataset(data, arch, model.config, augment, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = LOSSES[arch]
    history, start, reached = [], time.perf_counter(), None
    for step in range(1, steps + 1):
        dataset.set_epoch(step)
        batch = collate([dataset[i] for i in range(len(dataset))])
        images, targets = step_inputs(batch, arch, model.config, "cpu")
        model.train()
        outputs = model(images, rois=targets["rois"]) if arch == "zoomnet" else model(images)
        terms = loss_fn(outputs, targets)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            # No flip test: the network never saw a mirrored crop (no augmentation here).
            report = evaluate_model(model, data, flip_test=False, method=method)
            elapsed = time.perf_counter() - start
            history.append({"step": step, "seconds": elapsed, "loss": float(terms["total"].detach()), "stats": report.stats,
                            "mean_error_px": mean_keypoint_error(report, data)})
            logging.info("step %d (%.0f s) loss %.2e error %.2f px  %s", step, elapsed, history[-1]["loss"],
                         history[-1]["mean_error_px"], format_stats(report.stats))
            if report.wholebody_ap >= target_ap:
                reached = step
                break
    if save:
        save_checkpoint(save, {"architecture": arch, "config": model.config.to_dict(), "model": model.state_dict(),
                               "train_config": {"augment": False, "benchmark": "overfit_zoomnet"}})
    final = history[-1]
    return {"arch": arch, "input_size": list(input_size), "width": width, "params": sum(p.numel() for p in model.parameters()),
            "jitter": jitter, "reached_target_at_step": reached, "target_ap": target_ap, "steps": final["step"],
            "seconds": final["seconds"], "wholebody_ap": final["stats"]["wholebody"]["AP"],
            "ap_by_part": {p: v["AP"] for p, v in final["stats"].items()}, "history": history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="zoomnet", choices=("zoomnet", "hrnet133"))
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--target-ap", type=float, default=0.9)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--input-size", type=int, nargs=2, default=(128, 96))
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--decode", default="dark", choices=("default", "dark", "argmax"))
    parser.add_argument("--jitter", type=float, default=0.1, help="part-box jitter (shift and scale fraction)")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation and jitter seed")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--save", metavar="CKPT", help="write the trained model as a checkpoint")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    result = overfit(args.arch, args.steps, args.target_ap, args.eval_every, args.lr, tuple(args.input_size),
                     args.width, args.decode, args.seed, args.jitter, args.save)
    print(f"{result['arch']} tiny {result['input_size']}: whole-body AP {result['wholebody_ap']:.3f} after "
          f"{result['steps']} steps, {result['seconds']:.0f} s on {torch.get_num_threads()} thread(s); "
          + ", ".join(f"{p} {ap:.3f}" for p, ap in result["ap_by_part"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
