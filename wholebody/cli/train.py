"""Train one of three architectures: zoomnet (ZoomNet), hrnet133 (the one-stage HRNet-133
baseline) on a COCO-WholeBody annotation file, or dope (DOPE, body/hand/face 2D+3D) on the
--source datasets.

Writes under --out: last.pt (checkpoint, rewritten atomically), log.jsonl (loss, lr, images/s,
evaluation AP per part, and a final summary with the count of skipped bad records / images).
Multi-GPU: `torchrun --nproc_per_node=N -m wholebody train ...` (batch size is per process).
Exit status: 0 on success, 1 when the data or a checkpoint cannot be used or another run is
writing to --out (message on stderr; a lock left by a killed run is taken over).
Ctrl-C or SIGTERM stops training with one line saying which checkpoint to resume from and how
(exit status 130 / 143); checkpoints are only ever replaced whole, so the last one is intact.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from wholebody.data.errors import WholebodyError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("architecture", choices=("zoomnet", "hrnet133", "dope"), help="network to train: zoomnet (ZoomNet), hrnet133 (HRNet-133 baseline) or dope (DOPE)")
    parser.add_argument("--data", metavar="ANN.json", help="COCO-WholeBody training annotations (zoomnet, hrnet133)")
    parser.add_argument("--images", metavar="DIR", help="folder the annotations' file_name is relative to (zoomnet, hrnet133)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (checkpoint, logs)")
    parser.add_argument("--tiny", action="store_true", help="the test-size network (CPU-friendly)")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="crop size (default 384 288, tiny: 256 192)")
    parser.add_argument("--epochs", type=int, default=None, help="default: 210 (zoomnet, hrnet133) / 20 (dope)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images per process (default: 64 (zoomnet, hrnet133) / 2 (dope))")
    parser.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: 5e-4 / 1e-4 for dope)")
    parser.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps (default: 500 / 100 for dope)")
    parser.add_argument("--no-augment", action="store_true",
                        help="plain crops, no flip/rotation/scale/half-body (ZoomNet part boxes are still jittered)")
    parser.add_argument("--resume", metavar="CKPT", help="continue from this checkpoint (same architecture)")
    parser.add_argument("--pretrained", nargs="+", metavar="PATH", default=None,
                        help="ImageNet initialisation from published checkpoints: hrnet133 an HRNet-W32 file; "
                             "zoomnet HRNet-W32 and HRNetV2-W18 files (official or timm naming); dope torchvision's "
                             "resnet50-*.pth (wholebody.models.pretrained)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--workers", type=int, default=0, help="data loading processes (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--amp", choices=("auto", "on", "off"), default="auto",
                        help="bf16 autocast (auto: on for CUDA devices that support bf16)")
    parser.add_argument("--channels-last", action="store_true",
                        help="NHWC memory format for weights and crops (zoomnet, hrnet133, dope; faster bf16 on GPUs)")
    parser.add_argument("--compile", nargs="?", const="default", default=None,
                        choices=("default", "reduce-overhead", "max-autotune"),
                        help="torch.compile the training step's network (zoomnet, hrnet133; mode default: %(const)s)")
    parser.add_argument("--eval-every", type=int, default=10, help="evaluate every N epochs (0: at the end only)")
    parser.add_argument("--val-data", metavar="ANN.json", help="evaluation annotations (default: the training file)")
    parser.add_argument("--val-images", metavar="DIR", help="evaluation images folder (default: --images)")
    parser.add_argument("--checkpoint-every", type=int, default=1000, help="steps between checkpoints")
    parser.add_argument("--log-every", type=int, default=50, help="steps between log lines")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    from wholebody.cli.train_dope import add_dope_arguments

    add_dope_arguments(parser)


# Per-architecture defaults of the shared optimisation flags: ZoomNet's are the paper's (Adam
# 5e-4, batch 64 per GPU, 210 epochs); DOPE's are DopeTrainConfig's (two full-size images per
# process already fill a GPU, and a batch of 64 would be a surprise on a CPU).
TOP_DOWN_DEFAULTS = {"epochs": 210, "batch_size": 64, "lr": 5e-4, "warmup_steps": 500}


def _dope_defaults() -> dict:
    from wholebody.train.dope.train import DopeTrainConfig

    fields = DopeTrainConfig.__dataclass_fields__
    return {name: fields[name].default for name in TOP_DOWN_DEFAULTS}


def fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Give the optimisation flags left unset their architecture's default (in place)."""
    defaults = _dope_defaults() if args.architecture == "dope" else TOP_DOWN_DEFAULTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def run(args: argparse.Namespace) -> int:
    from wholebody.data.folder_lock import OutputFolderBusy, OutputFolderLock
    from wholebody.data.interrupts import interrupt_name, interrupt_status, interrupts_as_exceptions

    # One run per --out, as for predict; under torchrun only rank 0 writes there, so only it locks
    # (the other ranks would otherwise find the folder busy with their own job).
    lock = OutputFolderLock(args.out) if int(os.environ.get("RANK", "0")) == 0 else None
    try:
        if lock is not None:
            lock.acquire()
    except OutputFolderBusy as err:
        print(f"wholebody train: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"wholebody train: cannot write to --out {args.out}: {err}", file=sys.stderr)
        return 1
    try:
        with interrupts_as_exceptions():
            return _run(args)
    except KeyboardInterrupt as interrupt:
        print(f"wholebody train: {interrupt_name(interrupt)}; {_resume_hint(args)}", file=sys.stderr)
        return interrupt_status(interrupt)
    finally:
        if lock is not None:
            lock.release()


def _resume_hint(args: argparse.Namespace) -> str:
    """Where the last checkpoint is and the command that continues from it."""
    checkpoint = Path(args.out) / "last.pt"
    if not checkpoint.is_file():
        if not args.resume:
            return f"no checkpoint was written yet to {args.out}; run the same command again to start over"
        checkpoint = Path(args.resume)
    return f"last checkpoint: {checkpoint}; to continue, run the same command with --resume {checkpoint}"


def _run(args: argparse.Namespace) -> int:
    fill_defaults(args)
    if args.architecture == "dope":
        from wholebody.cli.train_dope import run_dope

        return run_dope(args)
    if not args.data or not args.images:
        print(f"wholebody train {args.architecture}: --data and --images are required", file=sys.stderr)
        return 2
    from wholebody.train.loop import TrainConfig, train

    config = TrainConfig(
        architecture=args.architecture, annotations=args.data, images=args.images, out=args.out, tiny=args.tiny,
        input_size=tuple(args.input_size) if args.input_size else None, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps, augment=not args.no_augment,
        seed=args.seed, workers=args.workers, device=args.device,
        amp={"auto": None, "on": True, "off": False}[args.amp], checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every, val_annotations=args.val_data, val_images=args.val_images,
        log_every=args.log_every, resume=args.resume, threads=args.threads, pretrained=tuple(args.pretrained or ()),
        channels_last=args.channels_last, compile=args.compile,
    )
    try:
        result = train(config)
    except (WholebodyError, ValueError) as err:  # ValueError: e.g. a --compile mode this device lacks
        print(f"wholebody train: {err}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: one summary, from rank 0
        return 0
    stats = result.metrics.get("stats", {})
    summary = "  ".join(f"{part} AP {v['AP']:.3f}" for part, v in stats.items())
    print(f"trained {result.steps} steps; last loss {result.losses[-1] if result.losses else float('nan'):.6f}; "
          f"{len(result.skipped)} bad records/images skipped")
    if summary:
        print(summary)
    print(f"checkpoint: {args.out}/last.pt")
    return 0
