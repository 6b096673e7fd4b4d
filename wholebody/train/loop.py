"""The training loop for ZoomNet and the HRNet-133 baseline (one readable file).

``train(TrainConfig(...))`` builds the model, data, Adam and the step schedule, then for each
epoch: draws the epoch's sample order (seeded by seed + epoch, sharded over processes), runs
forward/backward under bf16 autocast where the device supports it, logs loss terms, writes
``last.pt`` atomically every ``checkpoint_every`` steps and at the end of the epoch, and runs the
evaluation hook every ``eval_every`` epochs (AP with our evaluator, logged and kept in
``metrics``).  Logs go to ``<out>/log.jsonl`` (one JSON object per line) and the logger.

Resuming (``resume=<checkpoint>``) restores model, optimizer, scheduler, epoch and position in
the epoch, so the next step sees the same batch with the same weights: the continuation is
identical to an uninterrupted run.  A checkpoint of another architecture or format version is
refused (``CheckpointError``).

Multi-GPU: launched by ``torchrun``, each process reads RANK / WORLD_SIZE / LOCAL_RANK from the
environment, joins the process group (NCCL on GPUs, Gloo on CPU) and wraps the model in
DistributedDataParallel; rank 0 alone writes checkpoints, logs and evaluates.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import torch
import torch.distributed as dist

from wholebody.data.errors import OutputError
from wholebody.models.pretrained import load_pretrained
from wholebody.models.registry import build_model
from wholebody.nn.speed import channels_last_input, compile_model, to_channels_last
from wholebody.models.checkpoints import load_checkpoint, save_checkpoint
from wholebody.train.zoomnet.dataset import TopDownDataset, collate, load_training_set
from wholebody.train.zoomnet.evaluate import evaluate_model, format_stats
from wholebody.train.zoomnet.losses import LOSSES
from wholebody.train.zoomnet.targets import step_inputs
from wholebody.models.zoomnet.transforms import AugmentConfig

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Settings of one run; defaults follow mmpose's COCO-WholeBody HRNet recipe (brief B6)."""

    architecture: str
    annotations: str
    images: str
    out: str
    tiny: bool = False
    input_size: tuple[int, int] | None = None  # crop (height, width); None = the model's default
    epochs: int = 210
    batch_size: int = 64  # per process
    lr: float = 5e-4
    lr_steps: tuple[float, ...] = (170 / 210, 200 / 210)  # fractions of the run; lr x 0.1 at each
    warmup_steps: int = 500
    augment: bool = True  # False: plain crops (ZoomNet part boxes are still jittered)
    seed: int = 0
    workers: int = 0
    device: str | None = None  # None: cuda if available else cpu
    amp: bool | None = None  # bf16 autocast; None: on for CUDA devices with bf16 support
    checkpoint_every: int = 1000  # steps
    eval_every: int = 10  # epochs (0: only at the end)
    val_annotations: str | None = None  # default: evaluate on the training file
    val_images: str | None = None
    max_steps: int | None = None  # stop early (tests)
    log_every: int = 50
    resume: str | None = None
    threads: int | None = None
    pretrained: tuple[str, ...] = ()  # published ImageNet checkpoints (models.pretrained); not on resume
    channels_last: bool = False  # NHWC weights and crops (nn.speed); faster bf16 convs on GPUs
    compile: str | None = None  # torch.compile mode for the training forward/backward (nn.speed)


@dataclass
class TrainResult:
    steps: int = 0
    losses: list[float] = field(default_factory=list)  # total loss of every step run here
    metrics: dict = field(default_factory=dict)  # last evaluation
    skipped: list[str] = field(default_factory=list)  # bad records/images, with path and record id


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank); joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def lr_factor(step: int, steps_per_epoch: int, epochs: int, warmup: int, lr_steps) -> float:
    """Linear warm-up from 0.001 over ``warmup`` steps, then x0.1 at each ``lr_steps`` fraction."""
    warm = 1.0 if step >= warmup else 0.001 + (1 - 0.001) * step / warmup
    epoch = step // max(steps_per_epoch, 1)
    decays = sum(epoch >= int(round(f * epochs)) for f in lr_steps)
    return warm * 0.1**decays


def epoch_order(num_samples: int, seed: int, epoch: int, rank: int, world: int) -> list[int]:
    """This process's sample order for an epoch: a seeded permutation, padded and sharded."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(num_samples, generator=generator).tolist()
    total = math.ceil(num_samples / world) * world
    order += order[: total - num_samples]  # equal shards keep processes in step
    return order[rank::world]


def add_skipped(skipped: list[str], messages) -> None:
    """Add skip messages, each bad image or record once: an unreadable image is met again in
    every epoch and in evaluation ("PATH: reason (record 7)" / "PATH: reason (records [7, 8])"),
    and must count once in the skip total."""
    seen = {_skip_key(m) for m in skipped}
    for message in messages:
        key = _skip_key(message)
        if key not in seen:
            seen.add(key)
            skipped.append(message)


def _skip_key(message: str) -> str:
    return message.split(" (record", 1)[0]


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def prepare_run(threads: int | None, device_name: str | None, amp: bool | None, out: str | Path):
    """What every trainer sets up first: (rank, world size, device, bf16 autocast on?, output folder).

    Under torchrun each process takes the GPU of its local rank; ``amp`` None means bf16
    autocast wherever the device supports it (CUDA with bf16).
    """
    rank, world, local_rank = _distributed()
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(device_name or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if amp is None:
        amp = device.type == "cuda" and torch.cuda.is_bf16_supported()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return rank, world, device, amp, out


def count_steps_per_epoch(num_samples: int, world: int, batch_size: int) -> int:
    """Batches per epoch for one process when ``world`` processes split the samples."""
    return math.ceil(math.ceil(num_samples / world) / batch_size)


def optimization(params, steps_per_epoch: int, config, resume_state: dict | None):
    """Adam + the warm-up / step schedule of ``lr_factor``, and where training stands.

    ``config`` needs ``lr``, ``epochs``, ``warmup_steps``, ``lr_steps`` and ``resume``.  With
    ``resume_state`` the optimizer, scheduler and torch RNG are restored, so the run continues
    exactly.  Returns (optimizer, scheduler, (epoch, batch_in_epoch, step)).
    """
    params = list(params)
    # On CUDA the fused Adam updates every tensor in a few kernels instead of several per tensor
    # (the unfused update was 22 % of a ZoomNet step's GPU time on an H200); same arithmetic.
    fused = bool(params) and all(p.is_cuda for p in params)
    optimizer = torch.optim.Adam(params, lr=config.lr, fused=fused or None)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(
        step, steps_per_epoch, config.epochs, config.warmup_steps, config.lr_steps))
    position = (0, 0, 0)
    if resume_state:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        position = (resume_state["epoch"], resume_state["batch_in_epoch"], resume_state["step"])
        torch.set_rng_state(resume_state["rng"]["torch"])
        log.info("resumed %s at epoch %d, batch %d (step %d)", config.resume, *position)
    return optimizer, scheduler, position


def train(config: TrainConfig) -> TrainResult:
    """Run (or resume) training; returns the losses, the last evaluation and the skip list."""
    rank, world, device, amp, out = prepare_run(config.threads, config.device, config.amp, config.out)

    resume_state = load_checkpoint(config.resume, config.architecture) if config.resume else None
    torch.manual_seed(config.seed)  # the same initial weights for the same seed (and on every rank)
    model = build_model(config.architecture, config=resume_state["config"] if resume_state else None,
                        tiny=config.tiny, input_size=config.input_size)
    if config.pretrained and not resume_state:  # before the data: a wrong file fails fast
        load_pretrained(model, config.architecture, list(config.pretrained))
    elif config.pretrained:
        log.info("resuming: the checkpoint's weights win over --pretrained")
    model = model.to(device)
    if config.channels_last:
        to_channels_last(model)
    data = load_training_set(config.annotations, config.images)
    val_data = load_training_set(config.val_annotations, config.val_images or config.images) \
        if config.val_annotations else data
    augment = AugmentConfig() if config.augment else AugmentConfig.part_jitter_only()
    dataset = TopDownDataset(data, config.architecture, model.config, augment, config.seed)
    if resume_state:
        model.load_state_dict(resume_state["model"])
    steps_per_epoch = count_steps_per_epoch(len(dataset), world, config.batch_size)
    optimizer, scheduler, (epoch, batch_in_epoch, step) = optimization(
        model.parameters(), steps_per_epoch, config, resume_state)
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if world > 1 else model
    if config.compile:  # checkpoints and evaluation keep using the plain ``model``
        net = compile_model(net, config.compile)
    loss_fn = LOSSES[config.architecture]
    result = TrainResult()
    add_skipped(result.skipped, data.skipped)

    def checkpoint(path: Path) -> None:
        if rank == 0:
            save_checkpoint(path, {
                "architecture": config.architecture, "config": model.config.to_dict(), "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
                "batch_in_epoch": batch_in_epoch, "step": step, "rng": _rng_state(), "metrics": result.metrics,
                "train_config": asdict(config)})

    def write_log(record: dict) -> None:
        if rank == 0:
            try:
                with open(out / "log.jsonl", "ab") as f:
                    f.write(orjson.dumps(record) + b"\n")
            except OSError as err:  # a full disk: "OUT/log.jsonl: no space left on device", not a traceback
                raise OutputError.from_os_error(str(out / "log.jsonl"), err) from err

    while epoch < config.epochs:
        dataset.set_epoch(epoch)
        order = epoch_order(len(dataset), config.seed, epoch, rank, world)[batch_in_epoch * config.batch_size:]
        loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, sampler=order, collate_fn=collate,
                                             num_workers=config.workers, pin_memory=device.type == "cuda")
        net.train()
        tic = time.perf_counter()
        for batch in loader:
            if batch["skipped"]:
                add_skipped(result.skipped, batch["skipped"])
            if batch["size"]:
                # uint8 crops and labels cross to the device; float crops and heatmaps are made there
                images, targets = step_inputs(batch, config.architecture, model.config, device)
                if config.channels_last:
                    images = channels_last_input(images)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    outputs = net(images, rois=targets["rois"]) if config.architecture == "zoomnet" else net(images)
                terms = loss_fn(outputs, targets)
                optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                optimizer.step()
                result.losses.append(float(terms["total"].detach()))
            lr = optimizer.param_groups[0]["lr"]  # the rate this step used
            scheduler.step()
            step, batch_in_epoch = step + 1, batch_in_epoch + 1
            if rank == 0 and batch["size"] and (step % config.log_every == 0 or step == 1):
                rate = batch["size"] * world / max(time.perf_counter() - tic, 1e-9)
                record = {"step": step, "epoch": epoch, "lr": lr, "images_per_s": rate,
                          **{k: float(v.detach()) for k, v in terms.items()}}
                log.info("step %d epoch %d loss %.6f lr %.2e %.1f img/s", step, epoch, record["total"], record["lr"], rate)
                write_log(record)
            tic = time.perf_counter()
            if step % config.checkpoint_every == 0:
                checkpoint(out / "last.pt")
            if config.max_steps is not None and step >= config.max_steps:
                break
        if config.max_steps is not None and step >= config.max_steps:
            if batch_in_epoch >= steps_per_epoch:  # stopped on an epoch boundary
                epoch, batch_in_epoch = epoch + 1, 0
            checkpoint(out / "last.pt")
            break
        epoch, batch_in_epoch = epoch + 1, 0
        last = epoch == config.epochs
        if rank == 0 and ((config.eval_every and epoch % config.eval_every == 0) or last):
            # Flip test only helps a network that was trained on mirrored crops.
            report = evaluate_model(model, val_data, flip_test=config.augment)
            result.metrics = {"epoch": epoch, "step": step, "stats": report.stats}
            add_skipped(result.skipped, report.skipped)
            log.info("evaluation after epoch %d: %s", epoch, format_stats(report.stats))
            write_log({"step": step, "epoch": epoch, "eval": report.stats})
        checkpoint(out / "last.pt")
    result.steps = step
    if world > 1:  # every process skipped bad samples of its own shard: count them all
        gathered: list[list[str]] = [[] for _ in range(world)]
        dist.all_gather_object(gathered, result.skipped)
        result.skipped = []
        for part in gathered:
            add_skipped(result.skipped, part)
        dist.destroy_process_group()
    if result.skipped:
        log.warning("%d bad records/images were skipped (first: %s)", len(result.skipped), result.skipped[0])
    if rank == 0:
        write_log({"summary": {"steps": step, "skipped": len(result.skipped), "skipped_items": result.skipped[:100],
                               "metrics": result.metrics}})
    return result
