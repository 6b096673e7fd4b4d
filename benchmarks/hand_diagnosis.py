"""Where each hand of the photos was found or lost: every wrist slot, every hand candidate, every decision.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/hand_diagnosis.py [--overlays DIR] [PHOTO_STEM ...]

For each photo of ../shared/media/photos (or the ones named) and the default estimator, prints:

* per person (by nose) and side: the body wrist (x, y, score), its wrist crop (side in px, the hand
  model's presence), what the wrist search did (``HandAssembler.search_notes``: searched, or why not)
  and the hand box the person ends with;
* the whole-image palm boxes;
* every hand candidate after merging (presence, the model's P(right), landmark box, where it came
  from: wrist crop slots and / or a palm score) with its finite costs per (person, side) slot
  (``association.hand_pair_cost``; a slot missing from the list vetoed it) and the slot it went to.

``--overlays DIR`` also writes ``DIR/<stem>.png``: wrist crops (green: presence >= 0.5, red: below),
whole-image palm boxes (yellow), final hand boxes (white, labelled person index and side).
Pixel coordinates are original-image pixels; boxes are ``[x, y, w, h]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "photos"
SIDES = ("left", "right")


class RecordingAssembler:
    """Calls the estimator's ``HandAssembler`` and keeps what it was given: the bodies (not the
    part-only entries added after it), the wrist crop hands and the whole-image palm boxes."""

    def __init__(self, assembler) -> None:
        self.assembler = assembler
        self.people, self.crop_hands, self.palm_boxes = [], [], []

    def __call__(self, image, people, crop_hands, found=None) -> None:
        self.people, self.crop_hands = list(people), list(crop_hands)
        self.palm_boxes = [np.asarray(b) for b in found.palm_boxes] if found is not None else []
        self.assembler(image, people, crop_hands, found)


def _box(box) -> list[int] | None:
    return None if box is None else np.round(box).astype(int).tolist()


def report(recorder: RecordingAssembler) -> list[str]:
    """The lines printed for one photo (module docstring)."""
    from wholebody.experts.assemble.association import body_scale, hand_pair_cost
    from wholebody.experts.assemble.limbs import ELBOWS, WRISTS

    assembler, people = recorder.assembler, recorder.people
    crops = {(i, SIDES.index(side)): hand for i, side, hand in recorder.crop_hands}
    lines = []
    for i, person in enumerate(people):
        lines.append(f"person {i} nose {_box(person.keypoints[0, :2])} body scale {body_scale(person.keypoints):.0f} px")
        for s, side in enumerate(SIDES):
            wrist, crop = person.keypoints[WRISTS[s]], crops.get((i, s))
            seen = f"crop {crop.crop.side:.0f} px presence {crop.presence:.2f}" if crop is not None else "no crop"
            lines.append(f"  {side}: wrist {_box(wrist[:2])} score {wrist[2]:.2f}; {seen}; "
                         f"search: {assembler.search_notes.get((i, s), '-')}; box {_box(person.part_boxes.get(side + 'hand'))}")
    lines += [f"palm box (whole image) {_box(b)}" for b in recorder.palm_boxes]
    went = {h: slot for slot, h in assembler.taken.items()}
    for h, cand in enumerate(assembler.candidates):
        costs = {}
        for i, person in enumerate(people):
            for s in (0, 1):
                kp = person.keypoints
                cost = hand_pair_cost(cand.hand.points, cand.hand.right, s, kp[WRISTS[s], :2], kp[ELBOWS[s], :2],
                                      body_scale(kp), kp[WRISTS[s], 2])
                if np.isfinite(cost):
                    costs[f"{i}{SIDES[s][0]}"] = round(cost, 2)
        source = [f"{'crop' if crops.get((i, s)) is cand.hand else 'crop (or its wide crop)'} {i}{SIDES[s][0]}"
                  for i, s in sorted(cand.slots)]
        source += [f"palm {cand.palm_score:.2f}"] if cand.palm_score is not None else []
        slot = went.get(h)
        lines.append(f"hand {h}: presence {cand.hand.presence:.2f} P(right) {cand.hand.right:.2f} box "
                     f"{_box(cand.hand.box(0.0))} from {', '.join(source)}; costs {costs}; -> "
                     f"{'person %d %s' % (slot[0], SIDES[slot[1]]) if slot else 'nobody (output alone if palm-found)'}")
    return lines


def overlay(image: np.ndarray, recorder: RecordingAssembler) -> Image.Image:
    """Wrist crops, palm boxes and final hand boxes drawn on the photo."""
    out = Image.fromarray(image)
    draw = ImageDraw.Draw(out)
    width = max(2, image.shape[1] // 500)
    for i, side, hand in recorder.crop_hands:
        crop = hand.crop
        corners = crop.to_image(np.array([[0, 0], [crop.size, 0], [crop.size, crop.size], [0, crop.size]], float))
        draw.polygon([tuple(p) for p in corners], outline=(0, 220, 0) if hand.presence >= 0.5 else (230, 0, 0), width=width)
        draw.text(tuple(crop.center), f"{i}{side[0]} {hand.presence:.2f}", fill=(255, 255, 0))
    for x, y, w, h in recorder.palm_boxes:
        draw.rectangle([x, y, x + w, y + h], outline=(255, 220, 0), width=width)
    for i, person in enumerate(recorder.people):
        for side in SIDES:
            box = person.part_boxes.get(side + "hand")
            if box is not None:
                x, y, w, h = box
                draw.rectangle([x, y, x + w, y + h], outline=(255, 255, 255), width=width)
                draw.text((x, y - 12), f"{i}{side[0]}", fill=(255, 255, 255))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", help="photo stems (default: every photo)")
    parser.add_argument("--overlays", type=Path, default=None)
    args = parser.parse_args(argv)
    from wholebody.experts import WholeBodyEstimator

    estimator = WholeBodyEstimator(num_threads=1)
    recorder = RecordingAssembler(estimator.hand_assembler)
    estimator.hand_assembler = recorder
    for path in sorted(PHOTOS.glob("*.jpg")):
        if args.photos and path.stem not in args.photos:
            continue
        image = np.asarray(Image.open(path).convert("RGB"))
        estimator(image)
        print(f"== {path.name} ({image.shape[1]} x {image.shape[0]})")
        print("\n".join(report(recorder)))
        if args.overlays:
            args.overlays.mkdir(parents=True, exist_ok=True)
            overlay(image, recorder).save(args.overlays / f"{path.stem}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
