"""DOPE: one network that detects bodies, hands and faces and regresses their 2D and 3D poses.

Architecture (Weinzaepfel et al., ECCV 2020, following the public test code):

    image -> ImageNet normalisation + resize (``models.dope.transform``)
          -> ResNet up to ``layer3`` (C4, stride 16)
          -> RPN (15 anchors per cell, ``nn.rpn``) -> proposals
          -> RoIAlign 7x7 (sampling 2, on C4) -> ``layer4`` -> global average pool
          -> per part (body, hand, face): classifier over K anchor poses + background and
             class-specific 2D+3D regression (``models.dope.heads``)

There is no box refinement: the RPN proposals are the output boxes.  ``forward`` returns the
raw per-proposal outputs of each image with every box and 2D pose in pixels of the *original*
image; ``models.dope.post`` turns them into detections and whole-body people.

Anchor poses live in buffers ``<part>_anchor_poses`` of shape (K, J, 5) (``anchor_poses``) and
are saved with the state dict.  Real-time mode (``set_realtime``) follows the paper: shorter
side 400 px, 50 proposals, half precision when the model is on a GPU.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from wholebody.models.config import StoredConfig
from wholebody.models.dope.heads import PosePredictor, decode_poses
from wholebody.models.dope.layout import PART_NAMES, DopeLayout, get_layout
from wholebody.models.dope.transform import Geometry, ImageTransform
from wholebody.nn.anchors import AnchorGenerator
from wholebody.nn.resnet import ResNet, resnet_tiny
from wholebody.nn.roi_align import roi_align, roi_align_per_image
from wholebody.nn.rpn import RegionProposalNetwork, RPNSettings
from wholebody.nn.speed import channels_last_input, fuse_conv_bn

C4_STRIDE = 16
ROI_SIZE = 7
ROI_SAMPLING = 2
REALTIME_MIN_SIZE = 400
REALTIME_PROPOSALS = 50


class DOPE(nn.Module):
    """The DOPE network (module docstring).

    Args:
        backbone: a ``nn.resnet.ResNet``; ``layer1..3`` make the feature map, ``layer4`` the RoI head.
        layout: ``"wholebody"`` (default) or ``"paper"`` (``models.dope.layout``).
        num_anchor_poses: classes per part (hands: both sides, even); default from the layout.
        min_size, max_size: input resize (shorter side, cap on the longer side), pixels.
        anchor_sizes: RPN anchor sizes in input pixels (aspect ratios 0.5, 1, 2).
        rpn_settings: proposal counts, NMS and matching parameters.
    """

    def __init__(self, backbone: ResNet, layout: str | DopeLayout = "wholebody",
                 num_anchor_poses: dict[str, int] | None = None, min_size: int = 800, max_size: int = 1333,
                 anchor_sizes: tuple[float, ...] = (32, 64, 128, 256, 512), rpn_settings: RPNSettings | None = None) -> None:
        super().__init__()
        self.layout = get_layout(layout)
        self.num_anchor_poses = dict(num_anchor_poses or self.layout.num_anchor_poses)
        if self.num_anchor_poses["hand"] % 2:
            raise ValueError(f"the hand branch needs an even number of classes (right + left), got {self.num_anchor_poses['hand']}")
        self.backbone = backbone
        self.transform = ImageTransform(min_size, max_size)
        self.rpn = RegionProposalNetwork(backbone.out_channels["layer3"], AnchorGenerator(anchor_sizes), rpn_settings)
        head_features = backbone.out_channels["layer4"]
        self.predictors = nn.ModuleDict({
            part: PosePredictor(head_features, self.num_anchor_poses[part], self.layout.num_joints(part)) for part in PART_NAMES
        })
        for part in PART_NAMES:
            shape = (self.num_anchor_poses[part], self.layout.num_joints(part), 5)
            self.register_buffer(f"{part}_anchor_poses", torch.zeros(shape))
        self.use_half = False
        self.channels_last = False  # set_channels_last
        self.config: DopeConfig | None = None  # set by build_dope; None for hand-assembled models

    # ---- building blocks, also used by training ------------------------------------------
    def anchor_poses(self, part: str) -> torch.Tensor:
        return getattr(self, f"{part}_anchor_poses")

    def set_anchor_poses(self, part: str, anchors) -> None:
        """Copy (K, J, 5) anchor poses (``anchor_poses.fit_*``) into the model."""
        buffer = self.anchor_poses(part)
        value = torch.as_tensor(anchors, dtype=buffer.dtype, device=buffer.device)
        if value.shape != buffer.shape:
            raise ValueError(f"{part} anchor poses must be {tuple(buffer.shape)}, got {tuple(value.shape)}")
        buffer.copy_(value)

    @property
    def hand_classes_per_side(self) -> int:
        """Hand classes below this index are right hands, the rest left hands."""
        return self.num_anchor_poses["hand"] // 2

    def prepare(self, images: list[torch.Tensor]) -> tuple[torch.Tensor, list[Geometry]]:
        """(3, H, W) RGB images in [0, 1] -> padded network input and per-image geometry."""
        dtype = torch.float16 if self.use_half else torch.float32
        device = next(self.parameters()).device
        return self.transform([image.to(device) for image in images], dtype)

    def set_channels_last(self, enabled: bool = True) -> "DOPE":
        """NHWC (channels-last) memory format for the backbone's convolutions, for training and
        inference; the network input and the RoI crops are converted on the way in.  On GPUs
        cuDNN's tensor-core kernels work in NHWC, so fp16/bf16 convolutions skip their layout
        transposes.  Outputs are those of the default format (to float rounding)."""
        self.channels_last = enabled
        # 4-D weights only: the backbone's and the RPN head's convolutions
        self.to(memory_format=torch.channels_last if enabled else torch.contiguous_format)
        return self

    def fuse_batch_norms(self) -> "DOPE":
        """Inference only: fold every frozen batch norm of the backbone into the convolution
        before it (``nn.speed.fuse_conv_bn``): 53 fewer passes over the feature maps of a
        ResNet-50, same outputs to float rounding.  Training needs the unfused model."""
        fuse_conv_bn(self.backbone)
        if self.channels_last:  # the fused convolutions are new tensors
            self.set_channels_last()
        return self

    def _memory_format(self, images: torch.Tensor) -> torch.Tensor:
        return channels_last_input(images) if self.channels_last else images

    def feature_map(self, batch: torch.Tensor) -> torch.Tensor:
        """Padded input (N, 3, H, W) -> C4 features (N, C, H/16, W/16)."""
        return self.backbone.forward_to_layer3(self._memory_format(batch))

    def roi_features(self, features: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
        """Pooled head features (R, F) of every box of every image (input pixels), image by image.

        RoIAlign runs in float32 (also in half mode) and is cast back, as in the reference code.
        """
        if len(boxes) == 1:  # one image: no batch-index column (keeps the ONNX graph's box count dynamic)
            crops = roi_align_per_image(features.float(), boxes[0].float()[None], ROI_SIZE, 1.0 / C4_STRIDE,
                                        ROI_SAMPLING, aligned=False)[0]
        else:
            rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i), device=b.device), b.float()], dim=1)
                              for i, b in enumerate(boxes)])
            crops = roi_align(features.float(), rois, ROI_SIZE, 1.0 / C4_STRIDE, ROI_SAMPLING, aligned=False)
        return self.backbone.layer4(self._memory_format(crops.to(features.dtype))).mean(dim=(2, 3))

    def roi_features_padded(self, features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Pooled head features (N, R, F) of padded per-image boxes (N, R, 4) in input pixels, in one pass."""
        crops = roi_align_per_image(features.float(), boxes.float(), ROI_SIZE, 1.0 / C4_STRIDE, ROI_SAMPLING, aligned=False)
        pooled = self.backbone.layer4(self._memory_format(crops.flatten(0, 1).to(features.dtype))).mean(dim=(2, 3))
        return pooled.view(*boxes.shape[:2], -1)

    def predict_parts(self, pooled: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """(R, F) -> part -> (logits (R, K + 1), deltas (R, K, 5J))."""
        return {part: self.predictors[part](pooled) for part in PART_NAMES}

    # ---- inference -------------------------------------------------------------------------
    @torch.no_grad()
    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """Raw per-proposal outputs for each image (float32, on the model's device).

        Returns, per image: ``boxes`` (N, 4) x1y1x2y2 original pixels, ``objectness`` (N,), and
        per part ``<part>_scores`` (N, K + 1) softmax probabilities (column 0 = background),
        ``<part>_pose2d`` (N, K, J, 2) original pixels, ``<part>_pose3d`` (N, K, J, 3) metres.
        """
        if self.training:
            raise RuntimeError("DOPE.forward is inference only; training uses wholebody.train.dope.step")
        batch, geometry = self.prepare(images)
        features = self.feature_map(batch)
        proposals, objectness, _ = self.rpn(features, tuple(batch.shape[-2:]), [g.resized_size for g in geometry])
        outputs = [{"boxes": g.to_original(p.float()), "objectness": o.float()} for p, o, g in zip(proposals, objectness, geometry)]
        if sum(len(p) for p in proposals) == 0:
            return [self._empty_parts(out) for out in outputs]
        pooled = self.roi_features(features, proposals)
        counts = [len(p) for p in proposals]
        for part, (logits, deltas) in self.predict_parts(pooled).items():
            scores = logits.float().softmax(dim=-1)
            for i, (out, boxes, g) in enumerate(zip(outputs, proposals, geometry)):
                rows = slice(sum(counts[:i]), sum(counts[: i + 1]))
                pose2d, pose3d = decode_poses(boxes, deltas[rows], self.anchor_poses(part))
                out[f"{part}_scores"] = scores[rows]
                out[f"{part}_pose2d"] = g.to_original(pose2d)
                out[f"{part}_pose3d"] = pose3d
        return outputs

    def _empty_parts(self, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        device = out["boxes"].device
        for part in PART_NAMES:
            k, j = self.num_anchor_poses[part], self.layout.num_joints(part)
            out[f"{part}_scores"] = torch.zeros((0, k + 1), device=device)
            out[f"{part}_pose2d"] = torch.zeros((0, k, j, 2), device=device)
            out[f"{part}_pose3d"] = torch.zeros((0, k, j, 3), device=device)
        return out

    def set_realtime(self, enabled: bool = True, min_size: int = REALTIME_MIN_SIZE,
                     proposals: int = REALTIME_PROPOSALS) -> None:
        """Paper's real-time mode: small input, few proposals, fp16 on a GPU (fp32 on CPU)."""
        if enabled:
            self._full_settings = getattr(self, "_full_settings", (self.transform.min_size, self.transform.max_size,
                                                                   self.rpn.settings.post_nms_top_n_test))
            ratio = self.transform.max_size / self.transform.min_size
            self.transform = ImageTransform(min_size, int(round(min_size * ratio)))
            self.rpn.settings.post_nms_top_n_test = proposals
            on_gpu = next(self.parameters()).device.type == "cuda"
            self.use_half = on_gpu
            if on_gpu:
                self.half()
        elif hasattr(self, "_full_settings"):
            min_size, max_size, top_n = self._full_settings
            self.transform = ImageTransform(min_size, max_size)
            self.rpn.settings.post_nms_top_n_test = top_n
            self.use_half = False
            self.float()


@dataclass
class DopeConfig(StoredConfig):
    """Everything needed to rebuild a DOPE network (stored in checkpoints as a plain dict)."""

    backbone: str = "resnet50"  # "resnet50" or "tiny"
    width: int = 64  # base planes of the backbone's first stage
    trainable_layers: int = 3  # resnet50: stages (from layer4 back) with trainable weights
    layout: str = "wholebody"
    num_anchor_poses: dict[str, int] = field(default_factory=lambda: {"body": 20, "hand": 10, "face": 10})
    min_size: int = 800
    max_size: int = 1333
    anchor_sizes: tuple[float, ...] = (32, 64, 128, 256, 512)
    rpn: dict = field(default_factory=lambda: asdict(RPNSettings()))


def build_dope(config: DopeConfig | dict) -> DOPE:
    """A fresh DOPE from its config (anchor poses zero until fitted or loaded)."""
    config = DopeConfig.from_dict(config) if isinstance(config, dict) else config
    if config.backbone == "resnet50":
        backbone = ResNet((3, 4, 6, 3), config.width, frozen_bn=True, trainable_layers=config.trainable_layers)
    elif config.backbone == "tiny":
        backbone = resnet_tiny(frozen_bn=True, width=config.width)
    else:
        raise ValueError(f"unknown DOPE backbone {config.backbone!r}; choose 'resnet50' or 'tiny'")
    model = DOPE(backbone, config.layout, config.num_anchor_poses, config.min_size, config.max_size,
                 config.anchor_sizes, RPNSettings(**config.rpn))
    model.config = config
    return model


def dope_resnet50(layout: str = "wholebody", num_anchor_poses: dict[str, int] | None = None,
                  min_size: int = 800, max_size: int = 1333, trainable_layers: int = 3) -> DOPE:
    """DOPE with a ResNet-50 (frozen batch norm; stem and ``layer1`` frozen by default)."""
    return build_dope(DopeConfig("resnet50", 64, trainable_layers, layout,
                                 dict(num_anchor_poses or get_layout(layout).num_anchor_poses), min_size, max_size))


def dope_tiny(layout: str = "wholebody", num_anchor_poses: dict[str, int] | None = None,
              min_size: int = 256, max_size: int = 384, width: int = 8) -> DOPE:
    """A test-size DOPE: one bottleneck per ResNet stage, ``width`` base planes, small input."""
    rpn = RPNSettings(pre_nms_top_n_train=600, post_nms_top_n_train=300, pre_nms_top_n_test=300, post_nms_top_n_test=100)
    return build_dope(DopeConfig("tiny", width, 5, layout, dict(num_anchor_poses or {"body": 4, "hand": 4, "face": 2}),
                                 min_size, max_size, rpn=asdict(rpn)))


def load_dope(path: str | os.PathLike, device: str = "cpu") -> DOPE:
    """A trained DOPE from a checkpoint (another architecture or version is refused), eval mode."""
    from wholebody.models.checkpoints import CheckpointError, load_checkpoint

    state = load_checkpoint(path, "dope")
    try:
        model = build_dope(DopeConfig.from_dict(state["config"]))
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, ValueError, TypeError) as err:
        raise CheckpointError(path, f"weights do not fit the stored DOPE config ({err})") from err
    return model.to(device).eval()
