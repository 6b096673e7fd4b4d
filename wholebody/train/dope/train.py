"""Training DOPE by distilling part experts: data, pseudo-labels, anchor poses, the loop.

``train_dope(DopeTrainConfig(...))``:

1. loads every source (``data.adapters.sources``), bad records logged and skipped;
2. gets the experts' people per image from the teacher cache (running the teacher on images
   not yet cached when ``teacher`` is given) and builds the Eq. 1 pseudo ground truth;
3. fits the anchor poses (k-means, ``models.anchor_poses``) on it, unless resuming;
4. runs Adam with the shared step schedule (``train.loop.lr_factor``) over seeded epoch orders
   (``train.loop.epoch_order``), bf16 autocast on GPUs that support it, and writes ``last.pt``
   atomically (model, anchor poses, optimizer, scheduler, epoch, position, RNG); ``resume``
   continues exactly where that checkpoint stopped.

An image that cannot be read is logged with its path and record and left out of its batch;
the counts are in the result and in the final ``log.jsonl`` line.  Multi-process runs
(``torchrun``) average gradients with all-reduce; rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import orjson
import torch
import torch.distributed as dist

from wholebody.data.adapters.sample import Sample
from wholebody.data.adapters.sources import load_source, read_sample_image
from wholebody.data.errors import WholebodyError
from wholebody.models.dope.anchor_poses import fit_anchor_poses, fit_hand_anchor_poses
from wholebody.models.dope.network import DOPE, build_dope, dope_resnet50, dope_tiny
from wholebody.models.dope.layout import PART_NAMES
from wholebody.models.pretrained import load_pretrained
from wholebody.models.checkpoints import load_checkpoint, save_checkpoint
from wholebody.train.dope.pseudo import combine, load_teacher_cache, run_teacher, sample_key
from wholebody.train.dope.step import ImageLabels, StepConfig, anchor_training_data, compute_losses
from wholebody.train.loop import _rng_state, count_steps_per_epoch, epoch_order, optimization, prepare_run

log = logging.getLogger(__name__)
ARCHITECTURE = "dope"


@dataclass
class DopeTrainConfig:
    """Settings of one DOPE run."""

    sources: list[str]
    out: str
    tiny: bool = False
    tiny_width: int = 8  # base planes of the tiny backbone
    layout: str = "wholebody"
    teacher_cache: str | None = None  # JSON of expert people per image; default <out>/teacher.json
    teacher: str | None = None  # "experts": run wholebody.experts on uncached images
    min_expert_score: float = 0.5
    epochs: int = 20
    batch_size: int = 2  # images per process
    lr: float = 1e-4
    lr_steps: tuple[float, ...] = (0.75,)
    warmup_steps: int = 100
    rois_per_image: int = 512
    seed: int = 0
    device: str | None = None
    amp: bool | None = None
    checkpoint_every: int = 500
    max_steps: int | None = None
    log_every: int = 20
    resume: str | None = None
    threads: int | None = None
    cache_images: bool = False  # keep decoded images in memory (small data sets)
    min_size: int | None = None
    max_size: int | None = None
    pretrained: tuple[str, ...] = ()  # torchvision's ResNet-50 ImageNet file (models.pretrained); not on resume
    channels_last: bool = False  # NHWC convolutions (DOPE.set_channels_last): faster bf16 on GPUs


@dataclass
class DopeTrainResult:
    steps: int = 0
    losses: list[float] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    model: DOPE | None = None


def load_training_data(config: DopeTrainConfig, teacher: Callable | None = None
                       ) -> tuple[list[Sample], list[ImageLabels], list[str]]:
    """Samples with images, their Eq. 1 labels, and the skip messages of bad records/images."""
    skipped: list[str] = []
    samples = [s for spec in config.sources for s in load_source(spec, config.layout, errors=skipped)]
    samples = [s for s in samples if s.image_path is not None]
    cache_path = config.teacher_cache or str(Path(config.out) / "teacher.json")
    if teacher is None and config.teacher == "experts":
        from wholebody.experts import WholeBodyEstimator

        teacher = WholeBodyEstimator()
    if teacher is not None:
        people, bad = run_teacher(samples, teacher, cache_path, read_sample_image)
        skipped += bad
    elif os.path.exists(cache_path):
        people = load_teacher_cache(cache_path)
    else:
        log.warning("no teacher cache at %s and no teacher: training on the real labels only", cache_path)
        people = {}
    from wholebody.models.dope.layout import get_layout

    layout = get_layout(config.layout)
    labels = [ImageLabels(combine(s, people.get(sample_key(s), []), layout, config.min_expert_score), s.labelled_parts)
              for s in samples]
    return samples, labels, skipped


def fit_model_anchor_poses(model: DOPE, labels: list[ImageLabels], seed: int = 0) -> None:
    """k-means anchor poses of every part from the pseudo ground truth, stored in the model."""
    for part in PART_NAMES:
        data = anchor_training_data(labels, part)
        k = model.num_anchor_poses[part]
        if not data:
            log.warning("no %s instances to fit anchor poses on: they stay at the box centre", part)
            joints = model.layout.num_joints(part)
            anchors = np.concatenate([np.full((k, joints, 2), 0.5), np.zeros((k, joints, 3))], axis=-1)
        elif part == "hand":
            anchors = fit_hand_anchor_poses(data["pose2d"], data["visible2d"], data["pose3d"], data["visible3d"],
                                            data["is_right"], k, seed)
        else:
            anchors = fit_anchor_poses(data["pose2d"], data["visible2d"], data["pose3d"], data["visible3d"], k, seed)
        model.set_anchor_poses(part, anchors)


class ImageLoader:
    """(3, H, W) float [0, 1] tensors of samples, optionally kept in memory."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.cache: dict[int, torch.Tensor] = {}

    def __call__(self, index: int, sample: Sample) -> torch.Tensor:
        if index in self.cache:
            return self.cache[index]
        image = torch.from_numpy(np.array(read_sample_image(sample), copy=True)).permute(2, 0, 1).float() / 255
        if self.keep:
            self.cache[index] = image
        return image


def average_gradients(params: list[torch.nn.Parameter], world: int) -> None:
    """Mean of every gradient over the processes, in one all-reduce.

    A parameter without a gradient on this process (a part with no loss term in its batch)
    contributes zeros, so every process joins the same collective with the same buffer size.
    """
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p in params:
        p.grad = flat[offset:offset + p.numel()].view_as(p).clone()
        offset += p.numel()


def new_model(config: DopeTrainConfig) -> DOPE:
    sizes = {k: v for k, v in (("min_size", config.min_size), ("max_size", config.max_size)) if v}
    return dope_tiny(config.layout, width=config.tiny_width, **sizes) if config.tiny else dope_resnet50(config.layout, **sizes)


def train_dope(config: DopeTrainConfig, teacher: Callable | None = None) -> DopeTrainResult:
    """Run (or resume) DOPE training (module docstring)."""
    rank, world, device, amp, out = prepare_run(config.threads, config.device, config.amp, config.out)
    resume_state = load_checkpoint(config.resume, ARCHITECTURE) if config.resume else None
    model = build_dope(resume_state["config"]) if resume_state else new_model(config)
    if config.pretrained and not resume_state:  # before the (slow) teacher labels: a wrong file fails fast
        load_pretrained(model, ARCHITECTURE, list(config.pretrained))
    samples, labels, skipped = load_training_data(config, teacher)
    if not samples:
        raise WholebodyError(f"no training images in {config.sources}")
    if resume_state:
        model.load_state_dict(resume_state["model"])
    else:
        fit_model_anchor_poses(model, labels, config.seed)
    model.to(device).train()
    if config.channels_last:
        model.set_channels_last()
    params = [p for p in model.parameters() if p.requires_grad]  # frozen BatchNorm stays out
    steps_per_epoch = count_steps_per_epoch(len(samples), world, config.batch_size)
    optimizer, scheduler, (epoch, batch_in_epoch, step) = optimization(params, steps_per_epoch, config, resume_state)
    step_config = StepConfig(rois_per_image=config.rois_per_image)
    loader = ImageLoader(config.cache_images)
    result = DopeTrainResult(skipped=list(skipped), model=model)

    def checkpoint() -> None:
        if rank == 0:
            save_checkpoint(out / "last.pt", {
                "architecture": ARCHITECTURE, "config": model.config.to_dict(), "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
                "batch_in_epoch": batch_in_epoch, "step": step, "rng": _rng_state(), "train_config": asdict(config)})

    def write_log(record: dict) -> None:
        if rank == 0:
            with open(out / "log.jsonl", "ab") as handle:
                handle.write(orjson.dumps(record) + b"\n")

    done = False
    while epoch < config.epochs and not done:
        order = epoch_order(len(samples), config.seed, epoch, rank, world)
        while batch_in_epoch < steps_per_epoch:
            tic = time.perf_counter()
            indices = order[batch_in_epoch * config.batch_size:(batch_in_epoch + 1) * config.batch_size]
            images, batch_labels = [], []
            for i in indices:
                try:
                    images.append(loader(i, samples[i]))
                    batch_labels.append(labels[i])
                except WholebodyError as err:
                    message = f"{samples[i].image_path} (record {samples[i].record}): {err}"
                    log.warning("skipping unreadable image %s", message)
                    result.skipped.append(message)
            terms = None
            if images:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    terms = compute_losses(model, images, batch_labels, step_config)
                optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                if world > 1:
                    average_gradients(params, world)
                optimizer.step()
                result.losses.append(float(terms["total"].detach()))
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            step, batch_in_epoch = step + 1, batch_in_epoch + 1
            if terms is not None and (step % config.log_every == 0 or step == 1):
                rate = len(images) * world / max(time.perf_counter() - tic, 1e-9)
                record = {"step": step, "epoch": epoch, "lr": lr, "images_per_s": rate,
                          **{k: float(v.detach()) for k, v in terms.items()}}
                log.info("step %d epoch %d loss %.4f lr %.2e %.2f img/s", step, epoch, record["total"], lr, rate)
                write_log(record)
            if step % config.checkpoint_every == 0:
                checkpoint()
            if config.max_steps is not None and step >= config.max_steps:
                done = True
                break
        if batch_in_epoch >= steps_per_epoch:
            epoch, batch_in_epoch = epoch + 1, 0
        checkpoint()
    result.steps = step
    write_log({"summary": {"steps": step, "skipped": len(result.skipped), "skipped_items": result.skipped[:100]}})
    if result.skipped:
        log.warning("%d bad records/images were skipped (first: %s)", len(result.skipped), result.skipped[0])
    return result

