"""ImageNet initialisation: published backbone checkpoints loaded into our plain-torch networks.

Supported files (read with ``torch.load(weights_only=True)``, so nothing in them is executed):

* torchvision's ResNet-50 (``resnet50-*.pth``; keys ``conv1``, ``bn1``, ``layer1.0.conv1`` ...,
  ``fc``) -> DOPE's backbone.  Our ``nn.resnet`` uses the same names.
* HRNet-W32 / HRNetV2-W18 ImageNet classifiers, with the HRNet-Image-Classification naming
  (``conv1, bn1, conv2, bn2, layer1, transition1, stage2.0.branches..., stage2.0.fuse_layers...``),
  which timm's ``hrnet_w32`` / ``hrnet_w18`` checkpoints share key for key -> HRNet-133's backbone,
  and for ZoomNet: W32 -> FeatureNet + BodyNet, W18 -> the HRNets of both part heads.

ZoomNet's FeatureNet is the W32 stem plus its first bottleneck (``layer1.0``) and BodyNet starts
at ``layer1.1``, so together they are exactly one HRNet-W32.  The part heads start at stage 1 on
their fused crop: the W18 stem is not used.  Newly added layers (heatmap heads, the part heads'
fusion conv, DOPE's RPN and pose heads) keep their random initialisation.

Strict: every tensor of a backbone must be filled with a tensor of the same shape, and every key
of the file must be used, except the ones a backbone does not have by design (classifier heads
``fc``, ``classifier``, ``incre_modules``, ``downsamp_modules``, ``final_layer``; the W18 stem for
the part heads; fuse rows of a module that keeps only the highest-resolution output).  Anything
else stops the run with a :class:`PretrainedError` naming the file and the keys.  BatchNorm's
``num_batches_tracked`` counters are optional on both sides (old checkpoints lack them).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from wholebody.data.errors import WholebodyError

log = logging.getLogger(__name__)

CLASSIFIER_PREFIXES = ("fc.", "classifier.", "incre_modules.", "downsamp_modules.", "final_layer.")
WRAPPER_KEYS = ("state_dict", "model", "state_dict_ema")
SHOW_KEYS = 12  # keys listed per problem in an error message


class PretrainedError(WholebodyError, ValueError):
    """A ``--pretrained`` file that cannot initialise the network; the message names file and keys."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


def read_published_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict in a published checkpoint file (unwrapped from ``state_dict``/``model``,
    ``module.`` prefixes of DataParallel saves removed).  Raises :class:`PretrainedError`."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedError(path, "no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign, truncated or unsafe files
        if "weights only" in str(err).lower():  # torch's hint to retry unsafely is not ours to give
            reason = "torch.load(weights_only=True) refused it: not plain tensors, or not a checkpoint at all"
        else:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else "unreadable"
        raise PretrainedError(path, f"not a PyTorch checkpoint of tensors ({type(err).__name__}: {reason})") from None
    for key in WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise PretrainedError(path, "holds no state dict (a mapping of parameter names to tensors)")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


# ---- our key names -> published key names ----------------------------------------------------
def hrnet_published_name(ours: str, layer1_offset: int = 0) -> str | None:
    """Published HRNet name of a key of our ``nn.hrnet.HRNet`` (relative to the HRNet), or None.

    ``layer1_offset`` shifts stage-1 block indices (ZoomNet's BodyNet starts at ``layer1.1``).
    """
    if m := re.fullmatch(r"stem\.([01])\.([01])\.(.+)", ours):
        return f"{'conv' if m[2] == '0' else 'bn'}{int(m[1]) + 1}.{m[3]}"
    if m := re.fullmatch(r"stages\.0\.0\.branches\.0\.(\d+)\.(.+)", ours):
        return f"layer1.{int(m[1]) + layer1_offset}.{m[2]}"
    if m := re.fullmatch(r"transitions\.(\d+)\.paths\.(.+)", ours):
        return f"transition{m[1]}.{m[2]}"
    if m := re.fullmatch(r"stages\.(\d+)\.(\d+)\.(branches|fuse\.paths)\.(.+)", ours):
        part = "branches" if m[3] == "branches" else "fuse_layers"
        return f"stage{int(m[1]) + 1}.{m[2]}.{part}.{m[4]}"
    return None


def feature_net_published_name(ours: str) -> str | None:
    """ZoomNet's FeatureNet = the HRNet stem (conv1/bn1, conv2/bn2) + the first bottleneck."""
    if m := re.fullmatch(r"conv([12])\.([01])\.(.+)", ours):
        return f"{'conv' if m[2] == '0' else 'bn'}{m[1]}.{m[3]}"
    if ours.startswith("bottleneck."):
        return "layer1.0." + ours[len("bottleneck."):]
    return None


@dataclass
class BackboneSpec:
    """One published backbone and where it goes: ``parts`` maps a module prefix of our model
    (``"body."``) to the translator of the keys below it; ``unused`` says which published keys
    the design leaves out (returns the reason); ``shape_key`` tells files of one width from another
    (which of ZoomNet's two files is which)."""

    name: str
    parts: dict[str, Callable[[str], str | None]]
    unused: Callable[[str], str | None]
    shape_key: tuple[str, int] | None = None  # (published key, its out channels) telling W32 from W18


def _classifier_or(extra: Callable[[str], str | None] = lambda key: None) -> Callable[[str], str | None]:
    def unused(key: str) -> str | None:
        return "ImageNet classifier" if key.startswith(CLASSIFIER_PREFIXES) else extra(key)
    return unused


def _single_output_fuse_rows(net: nn.Module) -> Callable[[str], str | None]:
    """Published fuse rows our HRNet does not build (its last module keeps one output)."""
    rows = {f"stage{s + 1}.{m}": len(module.fuse.paths) for s, stage in enumerate(net.stages)
            for m, module in enumerate(stage) if module.fuse is not None}

    def unused(key: str) -> str | None:
        m = re.match(r"(stage\d\.\d+)\.fuse_layers\.(\d+)\.", key)
        if m and m[1] in rows and int(m[2]) >= rows[m[1]]:
            return "lower-resolution outputs the pose network does not use"
        return None
    return unused


def backbone_specs(model: nn.Module, arch: str) -> list[BackboneSpec]:
    """The published backbones ``model`` (of architecture ``arch``) takes."""
    if arch == "hrnet133":
        return [BackboneSpec("HRNet-W32", {"backbone.": hrnet_published_name},
                             _classifier_or(_single_output_fuse_rows(model.backbone)), ("transition1.0.0.weight", 32))]
    if arch == "zoomnet":
        body = lambda key: hrnet_published_name(key, layer1_offset=1)  # noqa: E731
        stem = lambda key: "the part heads start at stage 1" if re.match(r"(conv|bn)[12]\.", key) else None  # noqa: E731
        return [
            BackboneSpec("HRNet-W32", {"features.": feature_net_published_name, "body.": body},
                         _classifier_or(_single_output_fuse_rows(model.body)), ("transition1.0.0.weight", 32)),
            BackboneSpec("HRNetV2-W18", {"face_head.backbone.": hrnet_published_name,
                                         "hand_head.backbone.": hrnet_published_name},
                         _classifier_or(stem), ("transition1.0.0.weight", 18)),
        ]
    if arch == "dope":
        return [BackboneSpec("ResNet-50", {"backbone.": lambda key: key}, _classifier_or())]
    raise ValueError(f"no ImageNet initialisation is defined for architecture {arch!r}")


# ---- matching and loading ----------------------------------------------------------------------
@dataclass
class Match:
    """How one published state dict fits one :class:`BackboneSpec` of a model."""

    filled: dict[str, str] = field(default_factory=dict)  # our key -> published key
    missing: list[str] = field(default_factory=list)  # our backbone keys the file lacks (as published names)
    wrong_shape: list[str] = field(default_factory=list)  # "key: ours (..) vs file (..)"
    unexpected: list[str] = field(default_factory=list)  # file keys the backbone has no place for
    unused: dict[str, int] = field(default_factory=dict)  # reason -> count of file keys left out by design

    @property
    def ok(self) -> bool:
        return not (self.missing or self.wrong_shape or self.unexpected)


def _optional(key: str) -> bool:
    return key.endswith("num_batches_tracked")


def match_spec(spec: BackboneSpec, ours: dict[str, torch.Tensor], published: dict[str, torch.Tensor]) -> Match:
    """Pair our backbone keys with the published ones (no tensor is copied)."""
    match = Match()
    used = set()
    for key, tensor in ours.items():
        for prefix, translate in spec.parts.items():
            if not key.startswith(prefix):
                continue
            name = translate(key[len(prefix):])
            if name is None:
                match.missing.append(f"{key} (no published counterpart)")
            elif name not in published:
                if not _optional(name):
                    match.missing.append(name)
            elif published[name].shape != tensor.shape:
                match.wrong_shape.append(f"{name}: network {tuple(tensor.shape)} vs file {tuple(published[name].shape)}")
                used.add(name)
            else:
                match.filled[key] = name
                used.add(name)
            break
    for name in published:
        if name in used or _optional(name):
            continue
        reason = spec.unused(name)
        if reason is None:
            match.unexpected.append(name)
        else:
            match.unused[reason] = match.unused.get(reason, 0) + 1
    return match


def _listing(title: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOW_KEYS]) + (f", ... ({len(keys) - SHOW_KEYS} more)" if len(keys) > SHOW_KEYS else "")
    return f"{len(keys)} {title}: {shown}"


def describe_mismatch(spec: BackboneSpec, match: Match) -> str:
    parts = [_listing(title, keys) for title, keys in (
        ("missing keys", match.missing), ("keys of another shape", match.wrong_shape),
        ("unexpected keys", match.unexpected)) if keys]
    return f"does not fit the network's {spec.name} backbone ({'; '.join(parts)})"


def _identify(spec: BackboneSpec, published: dict[str, torch.Tensor]) -> bool:
    if spec.shape_key is None:
        return True
    key, channels = spec.shape_key
    return key in published and published[key].shape[0] == channels


@dataclass
class PretrainedReport:
    """What ``load_pretrained`` did: per backbone the file, the count filled and the keys left out."""

    loaded: list[tuple[str, str, int, dict[str, int]]]  # (backbone, file, tensors filled, unused reasons)
    fresh: list[str]  # our top-level modules that keep their random initialisation

    def lines(self) -> list[str]:
        out = [f"{name} <- {path}: {count} tensors" + "".join(f"; {n} keys unused ({why})" for why, n in unused.items())
               for name, path, count, unused in self.loaded]
        if self.fresh:
            out.append("newly initialised: " + ", ".join(self.fresh))
        return out


def load_pretrained(model: nn.Module, architecture: str, paths: list[str | os.PathLike]) -> PretrainedReport:
    """Fill ``model``'s backbones from published ImageNet checkpoints (module docstring).

    ``paths``: one file per backbone of the architecture (ZoomNet: HRNet-W32 and HRNetV2-W18,
    in any order).  Raises :class:`PretrainedError` naming the file and the mismatched keys.
    """
    specs = backbone_specs(model, architecture)
    config = getattr(model, "config", None)
    if "tiny" in {getattr(config, name, None) for name in ("backbone", "body_backbone", "part_backbone")}:
        raise PretrainedError(", ".join(map(str, paths)), "ImageNet checkpoints fit the full-size network only "
                                                          "(drop --tiny)")
    ours = model.state_dict()
    files = [(str(p), read_published_state(p)) for p in paths]
    names = " and ".join(s.name for s in specs)
    if len(files) != len(specs):
        where = ", ".join(p for p, _ in files) or "(none)"
        raise PretrainedError(where, f"{architecture} takes {len(specs)} ImageNet checkpoint(s), {names}; "
                                     f"got {len(files)}")
    assigned: dict[int, tuple[str, dict, Match]] = {}
    for path, published in files:
        candidates = [i for i, s in enumerate(specs) if i not in assigned and _identify(s, published)]
        if not candidates:  # no width matches: report against the first backbone still free
            candidates = [i for i in range(len(specs)) if i not in assigned]
        index = candidates[0]
        match = match_spec(specs[index], ours, published)
        if not match.ok:
            raise PretrainedError(path, describe_mismatch(specs[index], match))
        assigned[index] = (path, published, match)
    state = {}
    for index, (path, published, match) in assigned.items():
        for key, name in match.filled.items():
            state[key] = published[name].to(ours[key].dtype)
    incompatible = model.load_state_dict(state, strict=False)
    assert not incompatible.unexpected_keys, incompatible.unexpected_keys  # keys come from the model itself
    covered = tuple(prefix for spec in specs for prefix in spec.parts)
    fresh = sorted({".".join(key.split(".")[:2]) for key, _ in model.named_parameters() if not key.startswith(covered)})
    report = PretrainedReport([(specs[i].name, path, len(match.filled), match.unused)
                               for i, (path, _, match) in sorted(assigned.items())], fresh)
    for line in report.lines():
        log.info("ImageNet initialisation: %s", line)
    return report


def published_state_dict(model: nn.Module, architecture: str) -> list[dict[str, torch.Tensor]]:
    """The inverse: each backbone of ``model`` under its published key names (one dict per spec)."""
    out = []
    for spec in backbone_specs(model, architecture):
        state = {}
        for key, tensor in model.state_dict().items():
            for prefix, translate in spec.parts.items():
                name = translate(key[len(prefix):]) if key.startswith(prefix) else None
                if name is not None:
                    state.setdefault(name, tensor.detach().clone())
                    break
        out.append(state)
    return out
