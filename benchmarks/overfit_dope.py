"""Overfit check: a tiny DOPE trained on the fixture images with expert pseudo-labels.

End to end through the library: data adapters (COCO-WholeBody, Human3.6M, RHD, 300W fixtures),
pseudo-labelling by the MediaPipe part experts (cached in ``<out>/teacher.json``; ``--no-teacher``
trains on the real labels only), Eq. 1 pseudo ground truth, anchor-pose k-means, the training
loop with checkpoint/resume (the run is cut into chunks that each resume ``last.pt``), then
inference, PPI, whole-body assembly, and scoring:

* COCO-WholeBody AP per part on the 4 fixture images (``wholebody.eval.cocoeval``), with the
  NMS (default) and the PPI post-processing;
* Human3.6M: root-relative 3D error (MPJPE, mm) and PCKh@0.5 of the best body (PPI) on each of
  the 4 frames after every chunk, and the regression-only errors at the proposal that overlaps
  the ground truth most (``oracle_box_*``);
* the paper's metrics on the fixture samples with our metric functions: RHD 3D-PCK AUC
  (20-50 mm, scale/translation normalised), 300W / Menpo-style 3DA-2D error, PCKh@0.5 on the
  Human3.6M frames (head size from the neck-to-head-top segment, see ``pckh_h36m``).

Usage: ``python benchmarks/overfit_dope.py [--steps 3000] [--chunks 3] [--width 16] [--out /tmp/overfit_dope]``;
``... --steps N --extend`` continues a run (same ``--out``).  The README's figures come from
``--steps 6000 --chunks 3`` (about 1.5 h on one CPU core): whole-body AP 0.904 with NMS.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from wholebody.data.adapters.sources import load_source, read_sample_image
from wholebody.data.cocowb import load_ground_truth, load_results
from wholebody.data.results import person_to_result
from wholebody.eval.cocoeval import evaluate
from wholebody.models.dope.infer import DopeEstimator
from wholebody.models.dope.network import load_dope
from wholebody.train.dope.train import DopeTrainConfig, fit_model_anchor_poses, load_training_data, new_model, train_dope

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


def sources(fixtures: Path) -> list[str]:
    return [f"cocowb={fixtures / 'coco_wholebody' / 'test_coco_wholebody.json'}",
            f"h36m={fixtures / 'h36m' / 'test_h36m_body3d.npz'}",
            f"rhd={fixtures / 'rhd' / 'test_rhd.json'}",
            f"300w={fixtures / '300w' / 'test_300w.json'}"]


def coco_ap(estimator: DopeEstimator, fixtures: Path) -> dict[str, float]:
    gt_path = fixtures / "coco_wholebody" / "test_coco_wholebody.json"
    gt = load_ground_truth(gt_path)
    entries = []
    for image_id, image in gt.images.items():
        rgb = read_sample_image(type("S", (), {"image_path": gt_path.parent / image["file_name"], "frame_index": None,
                                               "record": image_id})())
        entries += [person_to_result(p, image_id) for p in estimator(rgb)]
    if not entries:
        return {}
    stats = evaluate(gt, load_results(entries, gt=gt)).stats
    return {part: round(values["AP"], 4) for part, values in stats.items()}


def best_bodies(estimator: DopeEstimator, samples) -> list:
    """Per sample, the highest-scoring body detection (or None)."""
    out = []
    for sample in samples:
        bodies = estimator.detect([read_sample_image(sample)])[0]["body"]
        out.append(bodies[0] if bodies else None)
    return out


def oracle_errors(model, samples) -> dict[str, float]:
    """Regression quality alone: 2D (px) and root-relative 3D (mm) error of the top class at the
    proposal that overlaps the ground-truth body box most (no classification, no PPI)."""
    from wholebody.eval.metrics3d import mpjpe
    from wholebody.models.dope.infer import image_tensor
    from wholebody.nn.nms import box_iou

    errors2d, errors3d = [], []
    for sample in samples:
        truth = sample.instances[0]
        with torch.no_grad():
            out = model.eval()([image_tensor(read_sample_image(sample))])[0]
        best = int(box_iou(out["boxes"], torch.as_tensor(truth.box[None], dtype=torch.float32))[:, 0].argmax())
        k = int(out["body_scores"][best, 1:].argmax())
        pose2d, pose3d = out["body_pose2d"][best, k].numpy(), out["body_pose3d"][best, k].numpy()
        errors2d.append(np.linalg.norm(pose2d - truth.pose2d, axis=1)[truth.visible2d].mean())
        errors3d.append(1000 * mpjpe(pose3d[None], truth.pose3d[None], truth.visible3d[None], root=model.layout.body_hips))
    return {"oracle_box_2d_px": round(float(np.mean(errors2d)), 1), "oracle_box_mpjpe_mm": round(float(np.mean(errors3d)), 1)}


def h36m_errors(estimator: DopeEstimator, samples) -> dict[str, float]:
    """Root-relative 3D MPJPE (mm) and PCKh@0.5 of the best body per Human3.6M frame, plus the
    regression-only errors at the best-overlapping proposal (:func:`oracle_errors`)."""
    from wholebody.eval.metrics2d import pckh
    from wholebody.eval.metrics3d import mpjpe

    errors3d, pred2d, gt2d, vis, head = [], [], [], [], []
    for sample, det in zip(samples, best_bodies(estimator, samples)):
        truth = sample.instances[0]
        if det is None:
            continue
        hips = estimator.model.layout.body_hips
        errors3d.append(mpjpe(det.pose3d[None], truth.pose3d[None], truth.visible3d[None], root=hips) * 1000)
        pred2d.append(det.pose2d)
        gt2d.append(truth.pose2d)
        vis.append(truth.visible2d)
        head.append(pckh_h36m(sample))
    oracle = oracle_errors(estimator.model, samples)
    if not errors3d:
        return {"detected": 0, **oracle}
    accuracy = pckh(np.stack(pred2d), np.stack(gt2d), np.stack(vis), np.array(head), exclude=())
    return {"detected": len(errors3d), "mpjpe_mm": round(float(np.mean(errors3d)), 1),
            "pckh@0.5": round(float(accuracy.mean), 4), **oracle}


def pckh_h36m(sample) -> float:
    """PCKh head size stand-in for a Human3.6M frame: 0.6 x the diagonal of the square whose side
    is 2 x the neck-base-to-head-top distance (an MPII-like head box; no MPII fixture exists)."""
    raw = np.load(FIXTURES / "h36m" / "test_h36m_body3d.npz")
    index = [str(n) for n in raw["imgname"]].index(sample.record)
    side = 2 * np.linalg.norm(raw["part"][index, 10, :2] - raw["part"][index, 9, :2])
    return float(0.6 * np.sqrt(2) * side)


def run(steps: int, chunks: int, out: Path, teacher: bool, min_size: int, lr: float, width: int,
        extend: bool = False, fixtures: Path = FIXTURES) -> dict:
    """Train to ``steps`` in ``chunks`` (each resumes the last), scoring after each.

    ``extend``: continue the run already in ``out`` (its ``last.pt``) up to ``steps``; the lr
    schedule is laid over the new total (back to ``lr``, x 0.1 for the last 20 %).
    """
    out.mkdir(parents=True, exist_ok=True)
    images = sum(len(load_source(spec)) for spec in sources(fixtures))
    epochs = -(-steps // -(-images // 2))  # the run ends after ``steps`` batches of 2; lr x 0.1 for the last 20 %
    config = DopeTrainConfig(sources(fixtures), str(out), tiny=True, tiny_width=width, teacher="experts" if teacher else None,
                             teacher_cache=str(out / "teacher.json") if teacher else str(out / "none.json"),
                             epochs=epochs, batch_size=2, lr=lr, lr_steps=(0.8,), warmup_steps=20, rois_per_image=128,
                             cache_images=True, checkpoint_every=10**9, log_every=50, threads=1,
                             min_size=min_size, max_size=int(min_size * 1.5))
    h36m = load_source(config.sources[1])
    samples, labels, skipped = load_training_data(config)
    report = {"images": len(samples), "skipped": skipped, "chunks": []}
    first_step = 0
    if extend:
        from wholebody.models.checkpoints import load_checkpoint

        first_step = int(load_checkpoint(out / "last.pt", "dope")["step"])
    else:
        initial = new_model(config)
        fit_model_anchor_poses(initial, labels, config.seed)
        report["chunks"].append({"step": 0, "h36m": h36m_errors(DopeEstimator(initial, method="ppi"), h36m)})
    start = time.perf_counter()
    for chunk in range(1, chunks + 1):
        config.max_steps = first_step + (steps - first_step) * chunk // chunks
        config.resume = str(out / "last.pt") if chunk > 1 or extend else None
        result = train_dope(config)
        shutil.copy(out / "last.pt", out / f"step{result.steps}.pt")  # kept for later analysis
        estimator = DopeEstimator(load_dope(out / "last.pt"), method="ppi")
        entry = {"step": result.steps, "loss": round(float(np.mean(result.losses[-20:])), 4),
                 "seconds": round(time.perf_counter() - start, 1), "h36m": h36m_errors(estimator, h36m),
                 "coco_ap_nms": coco_ap(DopeEstimator(estimator.model, method="nms"), fixtures),
                 "coco_ap_ppi": coco_ap(estimator, fixtures)}
        report["chunks"].append(entry)
        logging.info("%s", json.dumps(entry))
    report["paper_metrics"] = paper_metrics(estimator, fixtures)
    return report


def paper_metrics(estimator: DopeEstimator, fixtures: Path) -> dict:
    """RHD 3D AUC (20-50 mm) and 300W 3DA-2D on the fixtures, best detection per labelled part."""
    from wholebody.eval.metrics3d import pck3d_auc
    from wholebody.eval.metrics_face import menpo_error

    out = {}
    hands_pred, hands_gt = [], []
    for sample in load_source(f"rhd={fixtures / 'rhd' / 'test_rhd.json'}"):
        found = estimator.detect([read_sample_image(sample)])[0]["hand"]
        for truth in sample.instances:
            same_side = [d for d in found if d.is_right == truth.is_right]
            if same_side:
                hands_pred.append(same_side[0].pose3d)
                hands_gt.append(truth.pose3d)
    if hands_gt:
        out["rhd_auc_20_50"] = round(float(pck3d_auc(np.stack(hands_pred), np.stack(hands_gt)).auc_20_50), 4)
        out["rhd_hands_found"] = f"{len(hands_gt)}/3"
    faces_pred, faces_gt = [], []
    for sample in load_source(f"300w={fixtures / '300w' / 'test_300w.json'}"):
        found = estimator.detect([read_sample_image(sample)])[0]["face"]
        if found:
            faces_pred.append(found[0].pose2d)
            faces_gt.append(sample.instances[0].pose2d)
    if faces_gt:
        out["300w_3da2d"] = round(float(menpo_error(np.stack(faces_pred), np.stack(faces_gt)).mean), 4)
        out["300w_faces_found"] = f"{len(faces_gt)}/2"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/overfit_dope"))
    parser.add_argument("--no-teacher", action="store_true", help="real labels only (no MediaPipe experts)")
    parser.add_argument("--min-size", type=int, default=320)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--width", type=int, default=16, help="base planes of the tiny backbone")
    parser.add_argument("--extend", action="store_true", help="continue the run in --out up to --steps")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    report = run(args.steps, args.chunks, args.out, not args.no_teacher, args.min_size, args.lr, args.width, args.extend)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
