"""The ``wholebody`` command: one small module per verb under ``wholebody.cli``.

Each verb module defines ``add_arguments(parser)`` and ``run(args) -> int`` (the exit
status).  Verb modules are imported only when their verb is used, so ``wholebody eval``
never pays for torch or mediapipe imports.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# verb -> (module, one-line help).  Modules are imported lazily.
VERBS: dict[str, tuple[str, str]] = {
    "eval": ("wholebody.cli.eval", "COCO-WholeBody AP/AR per part (xtcocotools-exact)"),
    "analyze": ("wholebody.cli.analyze", "error diagnosis: jitter/inversion/swap/miss, PR plots"),
    "predict": ("wholebody.cli.predict", "133 keypoints + 3D for every person in images or videos"),
    "train": ("wholebody.cli.train", "train ZoomNet / HRNet-133 / DOPE"),
    "export": ("wholebody.cli.export", "export a checkpoint to ONNX"),
    "models": ("wholebody.cli.models", "prepare / list the offline model files (run once after install)"),
}


def build_parser(verbs: dict[str, tuple[str, str]] | None = None) -> argparse.ArgumentParser:
    verbs = VERBS if verbs is None else verbs
    parser = argparse.ArgumentParser(prog="wholebody", description="Whole-body human pose estimation toolkit.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (module_name, help_text) in verbs.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue  # verb not built yet in this version
        verb_parser = sub.add_parser(verb, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(verb_parser)
        verb_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verbs = VERBS
    if argv and argv[0] in VERBS:  # import only the verb that runs
        verbs = {argv[0]: VERBS[argv[0]]}
    parser = build_parser(verbs)
    args = parser.parse_args(argv)
    # Our own INFO lines by default (-v: debug); other libraries' only from -vv (matplotlib,
    # ray and the like log INFO lines a user did not ask for).
    logging.basicConfig(level=logging.WARNING if args.verbose < 2 else logging.DEBUG,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("wholebody").setLevel(logging.INFO if args.verbose == 0 else logging.DEBUG)
    if getattr(args, "_run", None) is None:
        build_parser().print_help()
        return 2
    from wholebody.data.interrupts import interrupt_name, interrupt_status, interrupts_as_exceptions

    # Every verb: SIGTERM is an interrupt (its cleanup runs), and an interrupt the verb did not
    # handle itself ends with one line and the shell's status (130 / 143), not a traceback.
    try:
        with interrupts_as_exceptions():
            return int(args._run(args) or 0)
    except KeyboardInterrupt as interrupt:
        print(f"wholebody {args.verb}: {interrupt_name(interrupt)}", file=sys.stderr)
        return interrupt_status(interrupt)
