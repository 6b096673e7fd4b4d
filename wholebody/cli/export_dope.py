"""``wholebody export --model dope.ckpt --onnx dope.onnx``: DOPE's two ONNX graphs (``models.dope_export``).

Writes ``dope.rpn.onnx`` (image -> C4 features, RPN objectness and deltas) and
``dope.heads.onnx`` (features + boxes -> per-part class logits and pose deltas); proposal
selection and pose decoding stay in Python.  ``--check`` compares ONNX Runtime with PyTorch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from wholebody.data.errors import WholebodyError

PARITY_TOLERANCE = 1e-3


def _export_atomically(export, model, onnx: Path, opset: int) -> tuple[Path, Path]:
    """Export into a hidden folder beside ``onnx``, then move both graphs into place, so a failed
    or interrupted export never leaves a half-written graph under the final names."""
    onnx.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{onnx.name}.", suffix=".tmp", dir=onnx.parent))
    try:
        written = export(model, staging / onnx.name, opset=opset)
        final = tuple(onnx.parent / path.name for path in written)
        for path, target in zip(written, final):
            os.replace(path, target)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_dope_export(args: argparse.Namespace) -> int:
    from wholebody.data.errors import OutputError
    from wholebody.models.dope.export import export_dope_onnx, onnx_parity
    from wholebody.models.dope.network import load_dope

    try:
        model = load_dope(args.model)
    except WholebodyError as err:
        print(f"wholebody export: {err}", file=sys.stderr)
        return 1
    try:
        rpn_path, heads_path = _export_atomically(export_dope_onnx, model, Path(args.onnx), args.opset)
    except OSError as err:  # a full disk: "wholebody export: X.onnx: no space left on device"
        print(f"wholebody export: {OutputError.from_os_error(args.onnx, err)}", file=sys.stderr)
        return 1
    print(f"wrote {rpn_path} (images (1, 3, H, W) normalised, H and W multiples of 32 -> features, objectness, "
          f"deltas) and {heads_path} (features, boxes (R, 4) -> <part>_logits, <part>_deltas)")
    if args.check:
        diff = onnx_parity(model, rpn_path, heads_path)
        print(f"ONNX Runtime vs PyTorch: max abs difference {diff:.2e}")
        if diff > PARITY_TOLERANCE:
            return 1
    return 0
