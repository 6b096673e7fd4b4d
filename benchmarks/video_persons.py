"""Frames each person is found in and the track ids they get, from ``people_video.py --dump`` files.

    python benchmarks/video_persons.py REFERENCE.npz RUN.npz NAME:TRACK:FIRST:LAST [...]

Each person is named by a track of a reference dump (a run whose track follows that person, checked
on the overlays) and the frames FIRST..LAST they are visible in; where the reference track has gaps
the person's position is interpolated (only roughly right for a person who moves along an arc).
In RUN a person output whose box centre lies within one person size (the reference box's larger
side, interpolated too) of that position finds them in that frame; nearest pairs first, one to one
per frame.  Prints per person: frames found / visible, the ids and the frames missed; then every
other person output (false people and duplicates).  Positions are box centres, pixels of the dumps.
"""

from __future__ import annotations

import argparse
import collections

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("run")
    parser.add_argument("people", nargs="+", help="NAME:TRACK:FIRST:LAST (reference track id, visible frames)")
    args = parser.parse_args(argv)
    reference, run = np.load(args.reference), np.load(args.run)
    frames, tracks, boxes = run["frame"], run["track"], run["box"]
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    ref_centres = reference["box"][:, :2] + reference["box"][:, 2:] / 2
    count = int(max(frames.max(initial=0), reference["frame"].max(initial=0))) + 1
    pairs = []  # (distance in person sizes, frame, name, row of RUN)
    spans = {}
    for spec in args.people:
        name, track, first, last = spec.split(":")
        mine = reference["track"] == int(track)
        position = np.stack([np.interp(np.arange(count), reference["frame"][mine], ref_centres[mine, axis])
                             for axis in (0, 1)], axis=1)
        size = np.interp(np.arange(count), reference["frame"][mine], reference["box"][mine, 2:].max(axis=1))
        spans[name] = (int(first), int(last))
        for row in range(len(frames)):
            frame = int(frames[row])
            if int(first) <= frame <= int(last):
                gap = float(np.hypot(*(centres[row] - position[frame]))) / max(size[frame], 1.0)
                if gap < 1.0:
                    pairs.append((gap, frame, name, row))
    found = {name: {} for name in spans}  # name -> {frame: track id}
    used = set()
    for gap, frame, name, row in sorted(pairs):  # nearest first, one to one in each frame
        if row not in used and frame not in found[name]:
            used.add(row)
            found[name][frame] = int(tracks[row])
    for name, (first, last) in spans.items():
        visible = last - first + 1
        ids = collections.Counter(found[name].values())
        print(f"{name}: {len(found[name])}/{visible} frames ({100 * len(found[name]) / visible:.1f} %), "
              f"ids {dict(ids)}, missed {sorted(set(range(first, last + 1)) - set(found[name]))}")
    others = [r for r in range(len(frames)) if r not in used]
    print(f"other people: {len(others)} person-frames: "
          + ", ".join(f"{int(frames[r])} (id {int(tracks[r])})" for r in others))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
