"""``wholebody train dope``: the DOPE-specific options and runner (wired in by ``cli/train.py``).

Example (CPU, tiny, fixtures)::

    wholebody train dope --tiny --source cocowb=coco_wholebody/test_coco_wholebody.json \\
        --source h36m=h36m/test_h36m_body3d.npz --teacher experts --out runs/dope

Writes under --out: teacher.json (the experts' people per image, computed once), last.pt and
log.jsonl.  Sources are ``KIND=PATH``: cocowb, h36m, h36m_coco (ANN.json,CAMERAS.pkl), h3wb, rhd,
300w, images (folders / videos without labels).
"""

from __future__ import annotations

import argparse
import os
import sys

from wholebody.data.errors import WholebodyError


def add_dope_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("DOPE (architecture 'dope')")
    group.add_argument("--source", action="append", default=[], metavar="KIND=PATH",
                       help="training data, repeatable: cocowb=, h36m=, h36m_coco=ANN,CAMS, h3wb=, rhd=, 300w=, images=")
    group.add_argument("--layout", choices=("wholebody", "paper"), default="wholebody",
                       help="part layout: COCO-WholeBody 23/21/68 (default) or the paper's 13/21/84")
    group.add_argument("--teacher", choices=("experts", "none"), default="experts",
                       help="run the MediaPipe part experts on images not in the teacher cache (default) or not")
    group.add_argument("--teacher-cache", metavar="JSON", help="expert people per image (default <out>/teacher.json)")
    group.add_argument("--min-expert-score", type=float, default=0.5, help="expert parts used as ground truth (Eq. 1)")
    group.add_argument("--rois-per-image", type=int, default=512, help="RoIs sampled per image and part")
    group.add_argument("--min-size", type=int, default=None, help="input shorter side (default 800, tiny 256)")
    group.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    group.add_argument("--cache-images", action="store_true", help="keep decoded images in memory (small sets)")


def run_dope(args: argparse.Namespace) -> int:
    from wholebody.train.dope.train import DopeTrainConfig, train_dope

    if not args.source:
        print("wholebody train dope: give at least one --source KIND=PATH", file=sys.stderr)
        return 2
    config = DopeTrainConfig(
        sources=args.source, out=args.out, tiny=args.tiny, layout=args.layout,
        teacher_cache=args.teacher_cache, teacher=None if args.teacher == "none" else args.teacher,
        min_expert_score=args.min_expert_score, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        warmup_steps=args.warmup_steps, rois_per_image=args.rois_per_image, seed=args.seed, device=args.device,
        amp={"auto": None, "on": True, "off": False}[args.amp], checkpoint_every=args.checkpoint_every,
        max_steps=args.max_steps, log_every=args.log_every, resume=args.resume, threads=args.threads,
        cache_images=args.cache_images, min_size=args.min_size, pretrained=tuple(args.pretrained or ()),
        max_size=None if args.min_size is None else int(args.min_size * 1.6667),
        channels_last=getattr(args, "channels_last", False),
    )
    try:
        result = train_dope(config)
    except (WholebodyError, ValueError) as err:
        print(f"wholebody train dope: {err}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: one summary, from rank 0
        return 0
    last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
    print(f"trained {result.steps} steps; last loss {last}; {len(result.skipped)} bad records/images skipped")
    print(f"checkpoint: {args.out}/last.pt")
    return 0
