"""``wholebody export --model dope.ckpt --onnx dope.onnx``: DOPE's two ONNX graphs (``models.dope_export``).

Writes ``dope.rpn.onnx`` (image -> C4 features, RPN objectness and deltas) and
``dope.heads.onnx`` (features + boxes -> per-part class logits and pose deltas); proposal
selection and pose decoding stay in Python.  ``--check`` compares ONNX Runtime with PyTorch.
"""

from __future__ import annotations

import argparse
import sys

from wholebody.data.errors import WholebodyError

PARITY_TOLERANCE = 1e-3


def run_dope_export(args: argparse.Namespace) -> int:
    from wholebody.models.dope.export import export_dope_onnx, onnx_parity
    from wholebody.models.dope.network import load_dope

    try:
        model = load_dope(args.model)
    except WholebodyError as err:
        print(f"wholebody export: {err}", file=sys.stderr)
        return 1
    rpn_path, heads_path = export_dope_onnx(model, args.onnx, opset=args.opset)
    print(f"wrote {rpn_path} (images (1, 3, H, W) normalised, H and W multiples of 32 -> features, objectness, "
          f"deltas) and {heads_path} (features, boxes (R, 4) -> <part>_logits, <part>_deltas)")
    if args.check:
        diff = onnx_parity(model, rpn_path, heads_path)
        print(f"ONNX Runtime vs PyTorch: max abs difference {diff:.2e}")
        if diff > PARITY_TOLERANCE:
            return 1
    return 0
