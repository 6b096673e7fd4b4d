"""Multi-person detectors from TF.js graph models (MoveNet-MultiPose, CenterNet).

* ``MoveNetDetector`` (default): MoveNet MultiPose Lightning.  Up to 6 people per image, each
  with a box and the 17 COCO body keypoints (a useful prior for the body expert).
* ``CenterNetDetector``: MobileNetV3 CenterNet on COCO, person class only.  Up to 100 boxes,
  no keypoints; about 3x slower (fixed 512x512 input).

Images are ``(H, W, 3)`` uint8 RGB arrays; every output is in pixels of the ORIGINAL image (the
letterbox geometry is kept and undone).  Backends: ``torch`` (the ``runtime.tfjs_graph`` executor, CPU
or GPU, any input size) and ``onnx`` (onnxruntime on the ONNX files written by
``wholebody models prepare``; CPU, ~1.6x faster); ``auto`` picks onnx when its file exists.
Model files come from ``wholebody models prepare``; a missing one raises
``ModelNotPreparedError`` naming the file and the command.

Measured (``benchmarks/person_detector.py``; 2-core CPU, 1 thread, 640x480): MoveNet-256 finds
12/12 fixture people (IoU >= 0.5) in 25 ms (onnx) / 38 ms (torch); CenterNet 12/12 with one
extra box in 83 / 117 ms.  MoveNet's default threshold 0.1 keeps the weakest true fixture
person (heavily occluded, score 0.12) while images without people score <= 0.05.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from wholebody.experts.detect.boxes import letterbox, nms, xyxy_to_xywh
from wholebody.experts.runtime.models import PREPARE_COMMAND, ModelNotPreparedError, model_file, onnx_file
from wholebody.experts.runtime.tfjs_graph import GraphModel
from wholebody.experts.runtime.tfjs_onnx import OnnxRunner, export_onnx, onnxruntime_available

log = logging.getLogger(__name__)
BACKENDS = ("auto", "torch", "onnx")


@dataclass
class Detections:
    """People found in one image, best first.

    boxes: (n, 4) float ``[x, y, w, h]`` in original image pixels, clipped to the image.
    scores: (n,) person confidence in [0, 1].
    keypoints: (n, 17, 3) COCO-17 body points ``x, y`` (original pixels) and score in [0, 1],
        or None for a detector without keypoints.
    """

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.scores)


class PersonDetector:
    """Shared logic: model files, backends, thread count, thresholds and NMS.

    ``num_threads`` sets ``torch.set_num_threads`` (process-wide) and the onnxruntime session
    threads; by default onnxruntime uses ``torch.get_num_threads()`` (i.e. OMP_NUM_THREADS).
    """

    model_name = ""
    input_name = ""
    outputs: list[str] = []
    input_dtype = torch.float32
    dynamic_batch = False

    def __init__(self, model_dir=None, score_threshold: float = 0.2, nms_iou: float = 0.5,
                 num_threads: int | None = None, device: str = "cpu", backend: str = "auto"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        self.device = torch.device(device)
        if backend == "onnx" and self.device.type != "cpu":
            raise ValueError("the onnx backend runs on the CPU only; use backend='torch' for a GPU")
        self.model_dir, self.backend, self.num_threads = model_dir, backend, num_threads
        self.graph_path = model_file(self.model_name, model_dir)  # fail early when not prepared
        self.score_threshold, self.nms_iou = score_threshold, nms_iou
        self._graph: GraphModel | None = None
        self._runners: dict[tuple[int, int], OnnxRunner | None] = {}

    def __call__(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        raise NotImplementedError

    @classmethod
    def onnx_shapes(cls) -> list[tuple[int, int]]:
        """(width, height) input sizes that ``prepare`` exports to ONNX for the default settings."""
        return []

    def _runner(self, width: int, height: int) -> OnnxRunner | None:
        """The onnxruntime session for this input size, or None to use the torch executor."""
        if self.backend == "torch" or self.device.type != "cpu":
            return None
        key = (width, height)
        if key not in self._runners:
            path = onnx_file(self.model_name, width, height, self.model_dir)
            runner = None
            if path.is_file() and onnxruntime_available():
                runner = OnnxRunner(path, self.num_threads or torch.get_num_threads())
            elif self.backend == "onnx":
                why = "is missing" if not path.is_file() else "needs onnxruntime, which is not installed"
                raise ModelNotPreparedError(f"ONNX model {path} {why}: run `{PREPARE_COMMAND}`, "
                                            "or use backend='torch'")
            else:
                log.info("%s: no ONNX file %s, using the torch executor", self.model_name, path.name)
            self._runners[key] = runner
        return self._runners[key]

    def _forward(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """Run the graph on an NHWC batch; outputs are CPU tensors."""
        runner = self._runner(batch.shape[2], batch.shape[1])
        if runner is not None:
            return [torch.from_numpy(a) for a in runner.run(batch.numpy())]
        with torch.inference_mode():
            outputs = self.graph_model().run({self.input_name: batch.to(self.device)}, self.outputs)
        return [t.cpu() for t in outputs]

    def graph_model(self) -> GraphModel:
        """The torch executor of this detector's graph (loaded on first use)."""
        if self._graph is None:
            self._graph = GraphModel.load(self.graph_path, device=self.device)
        return self._graph

    def _finish(self, image_shape, boxes_xyxy: np.ndarray, scores: np.ndarray,
                keypoints: np.ndarray | None) -> Detections:
        """Threshold, clip to the image, NMS, convert to xywh (all in original pixels)."""
        h, w = image_shape[:2]
        boxes_xyxy = np.clip(boxes_xyxy, 0, [w, h, w, h])
        keep = (scores >= self.score_threshold) & np.all(boxes_xyxy[:, 2:] > boxes_xyxy[:, :2], axis=1)
        boxes_xyxy, scores = boxes_xyxy[keep], scores[keep]
        keypoints = keypoints[keep] if keypoints is not None else None
        order = nms(boxes_xyxy, scores, self.nms_iou)
        return Detections(xyxy_to_xywh(boxes_xyxy[order]), scores[order].astype(np.float64),
                          keypoints[order].astype(np.float64) if keypoints is not None else None)


class MoveNetDetector(PersonDetector):
    """MoveNet MultiPose Lightning; ``input_size`` is the long side of the input (multiple of 32).

    The image is letterboxed into one of three canvases: landscape ``S x 3S/4`` (rounded up to a
    multiple of 32), portrait (transposed) or square, so a handful of ONNX files covers all
    images.  256 is the model's native size; 320 finds more small or occluded people.
    """

    model_name = "movenet-multipose"
    input_name = "input"
    outputs = ["Identity:0"]
    input_dtype = torch.int32
    default_size = 256

    def __init__(self, model_dir=None, input_size: int = default_size, score_threshold: float = 0.1,
                 nms_iou: float = 0.5, num_threads: int | None = None, device: str = "cpu", backend: str = "auto"):
        if input_size % 32 or input_size < 64:
            raise ValueError(f"MoveNet input_size must be a multiple of 32 (>= 64), got {input_size}")
        super().__init__(model_dir, score_threshold, nms_iou, num_threads, device, backend)
        self.input_size = input_size

    @staticmethod
    def canvases(size: int) -> dict[str, tuple[int, int]]:
        short = math.ceil(size * 3 / 4 / 32) * 32
        return {"landscape": (size, short), "portrait": (short, size), "square": (size, size)}

    @classmethod
    def onnx_shapes(cls) -> list[tuple[int, int]]:
        return list(cls.canvases(cls.default_size).values())

    def input_shape(self, image_shape) -> tuple[int, int]:
        """(width, height) of the network input for an image of shape (H, W, ...)."""
        h, w = image_shape[:2]
        kind = "landscape" if w >= 1.15 * h else "portrait" if h >= 1.15 * w else "square"
        return self.canvases(self.input_size)[kind]

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        results = []
        for image in images:  # the graph's decoder squeezes the batch axis: one image per run
            tensor, geo = letterbox(image, *self.input_shape(image.shape))
            raw = self._forward(tensor.round().to(self.input_dtype))[0][0].numpy().astype(np.float64)  # (6, 56)
            size = np.array([geo.input_w, geo.input_h], dtype=np.float64)
            points = raw[:, :51].reshape(-1, 17, 3)  # y, x, score; normalised to the input
            xy = geo.to_original(points[:, :, [1, 0]] * size)
            keypoints = np.concatenate([xy, points[:, :, 2:3]], axis=2)
            corners = geo.to_original(raw[:, [52, 51, 54, 53]].reshape(-1, 2, 2) * size).reshape(-1, 4)
            results.append(self._finish(image.shape, corners, raw[:, 55], keypoints))
        return results


class CenterNetDetector(PersonDetector):
    """CenterNet (MobileNetV3, COCO) person boxes; the graph fixes the input at 512x512.

    Decoding is done here on the person heat-map only (the same arithmetic as the graph's own
    80-class decoder: 3x3 max-pool peaks, top 100, box = 4 * peak -/+ the 4 regressed distances),
    so persons are never crowded out by other classes and a batch runs as one forward pass.
    """

    model_name = "centernet"
    input_name = "tower_0/images"
    outputs = ["tower_0/wh", "tower_0/keypoints"]
    dynamic_batch = True
    input_size, stride, max_peaks = 512, 4, 100

    def __init__(self, model_dir=None, score_threshold: float = 0.3, nms_iou: float = 0.5,
                 num_threads: int | None = None, device: str = "cpu", backend: str = "auto",
                 keep_aspect: bool = True):
        super().__init__(model_dir, score_threshold, nms_iou, num_threads, device, backend)
        self.keep_aspect = keep_aspect

    @classmethod
    def onnx_shapes(cls) -> list[tuple[int, int]]:
        return [(cls.input_size, cls.input_size)]

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        if not images:
            return []
        prepared = [letterbox(image, self.input_size, self.input_size, self.keep_aspect) for image in images]
        wh, heat = self._forward(torch.cat([t for t, _ in prepared]))
        person = heat[..., 0]  # (B, 128, 128), already a probability
        peaks = person * (person == F.max_pool2d(person[:, None], 3, 1, 1)[:, 0])
        scores, index = torch.topk(peaks.flatten(1), self.max_peaks, dim=1)
        width = person.shape[2]
        cy, cx = (index // width).float() * self.stride, (index % width).float() * self.stride
        dist = torch.gather(wh.flatten(1, 2), 1, index[..., None].expand(-1, -1, 4))  # left, top, right, bottom
        corners = torch.stack([cx - dist[..., 0], cy - dist[..., 1], cx + dist[..., 2], cy + dist[..., 3]], -1)
        results = []
        for image, (_, geo), boxes, conf in zip(images, prepared, corners.numpy(), scores.numpy()):
            boxes = geo.to_original(boxes.reshape(-1, 2, 2)).reshape(-1, 4)
            results.append(self._finish(image.shape, boxes, conf.astype(np.float64), None))
        return results


DETECTORS = {"movenet": MoveNetDetector, "centernet": CenterNetDetector}


def make_person_detector(name: str = "movenet", **options) -> PersonDetector:
    """Build a detector by name (``movenet`` is the default: see the module docstring)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown person detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name](**options)


def export_onnx_models(model_dir=None, names: list[str] | None = None) -> list[Path]:
    """Write the ONNX files of every detector whose model is in ``names`` (install step)."""
    written = []
    for detector in DETECTORS.values():
        if names is not None and detector.model_name not in names:
            continue
        graph = GraphModel.load(model_file(detector.model_name, model_dir))
        generator = torch.Generator().manual_seed(0)
        for width, height in detector.onnx_shapes():
            example = torch.randint(0, 256, (1, height, width, 3), generator=generator)
            example = example.to(detector.input_dtype)
            written.append(export_onnx(graph, detector.input_name, detector.outputs, example,
                                       onnx_file(detector.model_name, width, height, model_dir),
                                       dynamic_batch=detector.dynamic_batch))
    return written
