"""Keypoint benchmark formats: a layout plus how its benchmark scores it (sigmas, parts, areas).

A COCO-style keypoint file names its layout through the person category's ``keypoints`` list
(or only its length); :func:`detect_format` turns that into a :class:`KeypointFormat`.  The
sigmas are each benchmark's own evaluation values:

* COCO-17 / OCHuman: the COCO sigmas (also COCO-WholeBody's first 17).
* COCO-WholeBody 133: the official 133 sigmas, six parts (body, foot, face, hands, whole body).
* Halpe-136: the values of Halpe-FullBody's own ``cocoeval`` (COCO body, 0.08 head/neck/hip,
  0.089 feet, 0.015 face and hands), its parts body (first 20), foot, face, hand, whole body.
  Scored as xtcocotools scores one part (what the parity tests check); Halpe's own script
  differs in three ways kept out on purpose: it does not ignore crowd people, it drops a
  result only when all 136 scores are 0 (not per part), and it rounds points to float32.
* Halpe-26: the first 26 of those, parts body (20), foot, whole body.
* CrowdPose-14: crowdposetools' values; OKS and area ranges use box w*h*0.53 (its ground truth
  has no ``area``), the ignore rule reads ``num_keypoints``, and AP is also split by the image
  ``crowdIndex`` (easy < 0.2 <= medium < 0.8 <= hard, the thresholds its summarize passes).
* AI Challenger-14: the challenge's delta / 2; box w*h*0.53 as mmpose evaluates it.
* MPII-16 (COCO form): mmpose's MPII sigmas (adapted from COCO by mmpose).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from wholebody.schema import cocowb, others
from wholebody.schema.body_layouts import AIC14, CROWDPOSE14, EXTRA_POINT_NAMES, HALPE26, MPII16
from wholebody.schema.layout import KeypointLayout


@dataclass(frozen=True)
class KeypointFormat:
    """How one benchmark's COCO-style files are read and scored.

    Attributes:
        name: identifier (``--layout`` value), e.g. ``"coco17"``.
        title: human-readable name for tables and messages.
        layout: the keypoint layout of the ``keypoints`` arrays.
        sigmas: (K,) OKS sigmas (fractions of the object scale).
        eval_parts: evaluated part -> slice of points; each gets its 10 (or 9) stats.
        use_area: the OKS and the medium/large split use the person's ``area`` (pixels^2);
            False uses box w * h * 0.53 for both, as xtcocotools' ``use_area=False``.
        crowd_index: CrowdPose-style stats: ignore people by ``num_keypoints`` and split AP by
            the images' ``crowdIndex`` instead of the medium/large area ranges.
    """

    name: str
    title: str
    layout: KeypointLayout
    sigmas: np.ndarray
    eval_parts: dict[str, slice]
    use_area: bool = True
    crowd_index: bool = False

    def __post_init__(self) -> None:
        sigmas = np.asarray(self.sigmas, dtype=np.float64)
        sigmas.setflags(write=False)
        object.__setattr__(self, "sigmas", sigmas)
        if sigmas.shape != (self.layout.num_keypoints,):
            raise ValueError(f"{self.name}: {sigmas.shape[0]} sigmas for {self.layout.num_keypoints} points")

    @property
    def num_keypoints(self) -> int:
        return self.layout.num_keypoints


_COCO17_SIGMAS = cocowb.SIGMAS[:17]
_HALPE_SIGMAS = np.concatenate([_COCO17_SIGMAS, [0.08] * 3, [0.089] * 6, [0.015] * 110])
_ALL = "wholebody"

COCO_WHOLEBODY_FORMAT = KeypointFormat(
    "coco_wholebody", "COCO-WholeBody 133", cocowb.COCO_WHOLEBODY, cocowb.SIGMAS,
    dict(cocowb.PART_SLICES) | {_ALL: slice(0, 133)},
)
COCO17_FORMAT = KeypointFormat("coco17", "COCO-17 (also OCHuman)", others.COCO17, _COCO17_SIGMAS, {"body": slice(0, 17)})
HALPE136_FORMAT = KeypointFormat(
    "halpe136", "Halpe-FullBody 136", others.HALPE136, _HALPE_SIGMAS,
    {"body": slice(0, 20), "foot": slice(20, 26), "face": slice(26, 94), "hand": slice(94, 136), _ALL: slice(0, 136)},
)
HALPE26_FORMAT = KeypointFormat(
    "halpe26", "Halpe-26", HALPE26, _HALPE_SIGMAS[:26],
    {"body": slice(0, 20), "foot": slice(20, 26), _ALL: slice(0, 26)},
)
CROWDPOSE_FORMAT = KeypointFormat(
    "crowdpose14", "CrowdPose-14", CROWDPOSE14,
    np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89, .79, .79]) / 10.0,
    {"body": slice(0, 14)}, use_area=False, crowd_index=True,
)
AIC_FORMAT = KeypointFormat(
    "aic14", "AI Challenger-14", AIC14,
    [0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642,
     0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173],
    {"body": slice(0, 14)}, use_area=False,
)
MPII_FORMAT = KeypointFormat(
    "mpii16", "MPII-16 (COCO form)", MPII16,
    [0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026, 0.062, 0.072, 0.179, 0.179, 0.072, 0.062],
    {"body": slice(0, 16)},
)

FORMATS: dict[str, KeypointFormat] = {f.name: f for f in (
    COCO_WHOLEBODY_FORMAT, COCO17_FORMAT, HALPE136_FORMAT, HALPE26_FORMAT, CROWDPOSE_FORMAT, AIC_FORMAT, MPII_FORMAT,
)}
# Other spellings accepted by ``--layout``.
FORMAT_ALIASES: dict[str, str] = {
    "wholebody": "coco_wholebody", "coco-wholebody": "coco_wholebody", "coco": "coco17", "ochuman": "coco17",
    "halpe": "halpe136", "crowdpose": "crowdpose14", "aic": "aic14", "ai_challenger": "aic14", "mpii": "mpii16",
}


def format_by_name(name: str) -> KeypointFormat:
    """The format called ``name`` (or one of its aliases); ValueError listing them otherwise."""
    key = _normalise(name)
    key = FORMAT_ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(f"unknown layout {name!r}; supported: {supported_formats()}")
    return FORMATS[key]


def supported_formats() -> str:
    """One line listing every supported format: ``name (title, K points)``."""
    return "; ".join(f"{f.name} ({f.title}, {f.num_keypoints} points)" for f in FORMATS.values())


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def _canonical(name: str) -> str:
    key = _normalise(name)
    return EXTRA_POINT_NAMES.get(key, key)


def detect_format(names, count: int) -> KeypointFormat | None:
    """The format whose point names equal ``names`` (any case, '-' or ' ' for '_'), else the
    only format with ``count`` points; None when neither decides (e.g. 14 unnamed points)."""
    if names:
        # exact names first, then with the head-top / neck / mid-hip synonyms made equal
        # (e.g. an AIC file that calls its head top "head")
        for spelling in (_normalise, _canonical):
            wanted = tuple(spelling(n) for n in names)
            for fmt in FORMATS.values():
                if wanted == tuple(spelling(n) for n in fmt.layout.keypoints):
                    return fmt
    by_count = [f for f in FORMATS.values() if f.num_keypoints == count]
    return by_count[0] if len(by_count) == 1 else None


def _extra_name(layout: KeypointLayout, i: int) -> str | None:
    return EXTRA_POINT_NAMES.get(_normalise(layout.keypoints[i]))


def shared_points(source: KeypointLayout, target: KeypointLayout) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (source_index, target_index) of the points both layouts have.

    Points are the same when they map to the same COCO-WholeBody point, or (for points outside
    the 133 order) when :data:`EXTRA_POINT_NAMES` gives them the same name.
    """
    src, tgt = [], []
    inverse = source.from_wholebody_index()
    extras = {_extra_name(source, i): i for i in np.flatnonzero(source.to_wholebody < 0)}
    for j, wb in enumerate(target.to_wholebody):
        i = int(inverse[wb]) if wb >= 0 else extras.get(_extra_name(target, j), -1) if _extra_name(target, j) else -1
        if i >= 0:
            src.append(i)
            tgt.append(j)
    return np.asarray(src, dtype=np.int64), np.asarray(tgt, dtype=np.int64)


def subset_format(fmt: KeypointFormat, keep) -> KeypointFormat:
    """``fmt`` restricted to the points ``keep`` (sorted indices): names, sigmas, maps, flip
    pairs and links of the kept points; each part keeps its kept points, which stay contiguous
    because parts are slices and the order is kept.  Parts left with no point are dropped."""
    keep = np.asarray(keep, dtype=np.int64)
    if len(keep) == fmt.num_keypoints:
        return fmt
    rank = np.full(fmt.num_keypoints, -1, dtype=np.int64)
    rank[keep] = np.arange(len(keep))

    def pairs(links):
        return tuple((int(rank[a]), int(rank[b])) for a, b in links if rank[a] >= 0 and rank[b] >= 0)

    def cut(parts):
        out = {}
        for part, sl in parts.items():
            kept = rank[sl][rank[sl] >= 0]
            if len(kept):
                out[part] = slice(int(kept[0]), int(kept[-1]) + 1)
        return out

    layout = fmt.layout
    sub = KeypointLayout(
        name=f"{layout.name}[{len(keep)}]", keypoints=tuple(layout.keypoints[i] for i in keep), parts=cut(layout.parts),
        flip_pairs=pairs(layout.flip_pairs), skeleton=pairs(layout.skeleton), to_wholebody=layout.to_wholebody[keep],
    )
    return KeypointFormat(fmt.name, f"{fmt.title}, {len(keep)} of {fmt.num_keypoints} points", sub, fmt.sigmas[keep],
                          cut(fmt.eval_parts), fmt.use_area, fmt.crowd_index)
