"""Top-down inference with ZoomNet or the HRNet-133 baseline: person boxes -> 133 keypoints each.

For each person box (original pixels, COCO ``[x, y, w, h]``) the crop is the box padded x1.25
to the model's aspect ratio; the model runs with flip test, heatmaps are decoded to sub-pixel
positions and mapped back through the crop's inverse affine.  The instance score is mmpose's
rescoring: box score x the mean of the keypoint scores above 0.2 (0 if none is).
"""

from __future__ import annotations

import numpy as np
import torch

from wholebody.models.zoomnet.network import PART_BOXES
from wholebody.models.zoomnet.decode import heatmaps_to_keypoints
from wholebody.models.zoomnet.flip_test import HeatmapPredictor
from wholebody.models.zoomnet.transforms import apply_affine, crop_matrix, box_to_center_size, invert_affine, warp_image
from wholebody.types import Person, too_small_for_people

RESCORE_THRESHOLD = 0.2


def rescore(box_score: float, keypoint_scores: np.ndarray) -> float:
    """mmpose's ``bbox_keypoint`` score: box score x mean of the keypoint scores > 0.2."""
    confident = keypoint_scores[keypoint_scores > RESCORE_THRESHOLD]
    return float(box_score * confident.mean()) if confident.size else 0.0


def crop_people(image: np.ndarray, boxes_xywh: np.ndarray, input_size: tuple[int, int]) -> tuple[torch.Tensor, np.ndarray]:
    """Crops (N, 3, H, W) float 0..255 and their original->crop matrices (N, 2, 3)."""
    aspect = input_size[1] / input_size[0]
    crops, matrices = [], []
    for box in np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4):
        center, size = box_to_center_size(box, aspect)
        matrix = crop_matrix(center, size, 0.0, input_size)
        crops.append(warp_image(image, matrix, input_size))
        matrices.append(matrix)
    if not crops:
        return torch.zeros((0, 3, *input_size)), np.zeros((0, 2, 3))
    return torch.stack(crops), np.stack(matrices)


@torch.no_grad()
def predict_crops(model: torch.nn.Module, crops: torch.Tensor, matrices: np.ndarray, flip_test: bool = True,
                  method: str = "default", batch_size: int = 32, bf16: bool = False,
                  predictor: torch.nn.Module | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Keypoints (N, 133, 3) in original pixels (scores clipped to 0..1), and for ZoomNet the part
    boxes (N, 3, 4) ``x1, y1, x2, y2`` in original pixels (the RoIs shrunk by the RoI enlargement).
    ``bf16``: the network under bf16 autocast; heatmaps are decoded in float32.  ``predictor``:
    what turns crops into heatmaps (e.g. a compiled ``HeatmapPredictor``); by default
    ``HeatmapPredictor(model, flip_test)``, which runs the flip test in one batched pass of 2 x
    ``batch_size`` crops."""
    model.eval()
    device = next(model.parameters()).device
    predictor = HeatmapPredictor(model, flip_test) if predictor is None else predictor
    keypoints, boxes = [], []
    for start in range(0, len(crops), batch_size):
        batch = crops[start:start + batch_size].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            outputs = predictor(batch)
        outputs = {name: value.float() for name, value in outputs.items()}
        keypoints.append(heatmaps_to_keypoints(outputs, model.architecture, model.stride, method).cpu().double().numpy())
        if "rois" in outputs:
            boxes.append(outputs["rois"].cpu().double().numpy())
    if not keypoints:
        return np.zeros((0, 133, 3)), None
    keypoints = np.concatenate(keypoints)
    keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
    for i, matrix in enumerate(matrices):
        keypoints[i, :, :2] = apply_affine(keypoints[i, :, :2], invert_affine(matrix))
    if not boxes:
        return keypoints, None
    rois = np.concatenate(boxes)
    centre, half = (rois[..., :2] + rois[..., 2:]) / 2, (rois[..., 2:] - rois[..., :2]) / 2
    half = half / getattr(model.config, "roi_enlarge", 1.0)
    part_boxes = np.zeros_like(rois)
    for i, matrix in enumerate(matrices):  # corners back to the original image, then their extent
        inverse = invert_affine(matrix)
        for p in range(rois.shape[1]):
            corners = centre[i, p] + half[i, p] * np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]])
            mapped = apply_affine(corners, inverse)
            part_boxes[i, p] = np.concatenate([mapped.min(axis=0), mapped.max(axis=0)])
    return keypoints, part_boxes


def predict_people(model: torch.nn.Module, image: np.ndarray, boxes_xywh: np.ndarray, box_scores=None,
                   flip_test: bool = True, method: str = "default", bf16: bool = False,
                   predictor: torch.nn.Module | None = None) -> list[Person]:
    """Whole-body keypoints of every person box in an (H, W, 3) uint8 RGB image."""
    boxes_xywh = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    box_scores = np.ones(len(boxes_xywh)) if box_scores is None else np.asarray(box_scores, dtype=np.float64)
    crops, matrices = crop_people(image, boxes_xywh, tuple(model.config.input_size))
    keypoints, part_boxes = predict_crops(model, crops, matrices, flip_test, method, bf16=bf16, predictor=predictor)
    people = []
    for i, box in enumerate(boxes_xywh):
        person = Person(keypoints=keypoints[i], score=rescore(box_scores[i], keypoints[i, :, 2]), bbox=box.copy(),
                        box_score=float(box_scores[i]))
        if part_boxes is not None:
            for p, part in enumerate(PART_BOXES):
                x1, y1, x2, y2 = part_boxes[i, p]
                person.part_boxes[part] = np.array([x1, y1, x2 - x1, y2 - y1])
        person.fill_part_scores()
        people.append(person)
    return people


class TopDownEstimator:
    """``wholebody predict``'s estimator protocol for a ZoomNet / HRNet-133 checkpoint.

    ``estimator(image, person_boxes=None, person_scores=None)`` -> people sorted by score.
    Without boxes the default expert pipeline's person detector supplies them (created on first
    use); ``person_keypoints`` is accepted for protocol compatibility and ignored.  ``flip_test``
    None: on when the checkpoint was trained with flip augmentation.  Speed options
    (``nn.speed``): ``fuse_bn`` folds batch norms into the convs (same heatmaps to float rounding),
    ``channels_last`` uses NHWC weights and crops, ``bf16`` runs the network under bf16 autocast,
    ``compile`` a ``torch.compile`` mode for the whole heatmap prediction, flip test included
    (``HeatmapPredictor``; ``"reduce-overhead"`` = one CUDA graph per batch size, CUDA devices only).
    ``cudnn_benchmark`` (CUDA): turns cuDNN autotuning on, which pays off here because crops have a
    fixed size: each new batch size (number of people, x2 with the flip test) is tuned once, on its
    first run (slow), then runs the fastest kernels.  The flag is global to the process
    (``torch.backends.cudnn.benchmark``): it stays on for every other network of the process too,
    which hurts those whose input shapes change at every call (DOPE training, whose RoI counts
    vary), hence off by default.
    """

    def __init__(self, checkpoint: str, device: str = "cpu", flip_test: bool | None = None, method: str = "default",
                 detector=None, num_threads: int = 1, fuse_bn: bool = False, channels_last: bool = False,
                 bf16: bool = False, compile: str | None = None, cudnn_benchmark: bool = False) -> None:
        from wholebody.nn.speed import compile_model, fuse_conv_bn, set_cudnn_benchmark, to_channels_last
        from wholebody.models.checkpoints import load_checkpoint, model_from_state, trained_with_flips

        state = load_checkpoint(checkpoint)
        self.model = model_from_state(state, checkpoint, device)
        if fuse_bn:
            fuse_conv_bn(self.model)
        if channels_last:
            to_channels_last(self.model)
        self.flip_test = trained_with_flips(state) if flip_test is None else flip_test
        self.predictor = HeatmapPredictor(self.model.eval(), self.flip_test, channels_last)
        if compile:  # attribute reads (config, stride, architecture) pass through to the predictor
            self.predictor = compile_model(self.predictor, compile)
        if cudnn_benchmark:
            set_cudnn_benchmark(torch.device(device))
        self.method, self.bf16 = method, bf16
        self._detector, self.num_threads = detector, num_threads

    def __call__(self, image: np.ndarray, person_boxes=None, person_scores=None, person_keypoints=None) -> list[Person]:
        if too_small_for_people(image):
            return []  # the 1-pixel rule (wholebody.types.MIN_IMAGE_SIDE), as in predict
        if person_boxes is None:
            from wholebody.experts.detect.detections import as_detections
            from wholebody.experts.detect.people import default_person_detector

            if self._detector is None:
                self._detector = default_person_detector(self.num_threads)
            detections = as_detections(self._detector(image))
            person_boxes, person_scores = detections.boxes, detections.scores
        boxes = np.asarray(person_boxes, dtype=np.float64).reshape(-1, 4)
        keep = (boxes[:, 2] > 1) & (boxes[:, 3] > 1)
        scores = np.ones(len(boxes)) if person_scores is None else np.asarray(person_scores, dtype=np.float64)
        people = predict_people(self.model, image, boxes[keep], scores[keep], self.flip_test, self.method, self.bf16,
                                self.predictor)
        return sorted(people, key=lambda p: -p.score)
