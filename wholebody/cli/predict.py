"""Run the whole-body estimator on images, folders, globs and videos.

For every person: the 133 COCO-WholeBody keypoints with scores (pixels of the original image),
part scores, person / face / hand boxes, and 3D per part in metres.  Writes, under --out:
results.json (COCO-WholeBody results, + file_name, frame, track_id), results_3d.json,
images.json (image id <-> file name, people per image, errors), overlays/ (PNG per image, MP4
per video) and, with --plot3d, plots3d/ (a 3D PNG per person).  With --coco ANN.json the run
keeps that file's image ids, so `wholebody eval ANN.json DIR/results.json` scores it.
--format openpose adds OpenPose's per-image / per-frame JSON (wholebody.predict.openpose);
--workers N spreads the inputs over N processes (wholebody.predict.workers).  A camera or stream
(webcam:N, /dev/videoN, rtsp:// http:// ...) streams results.jsonl instead (wholebody.predict.live).

Exit status: 0 when every input succeeded, 1 when any failed (each is reported on stderr with
its path and reason; the others are still processed), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wholebody.data.errors import WholebodyError

log = logging.getLogger(__name__)


def load_estimator(model_path: str | None, detector: str | None = None, face: str = "mesh", dope_post: str = "nms",
                   body_model: str = "heavy", model_threads: int | None = None, hand_model: str = "both",
                   hand_mirror: bool = True):
    """The estimator for ``--model``: None -> the part-expert ensemble (built now, may take seconds).

    ``detector`` (``movenet`` / ``centernet``) chooses the person detector of the part-expert
    ensemble and of top-down checkpoints (ZoomNet, HRNet-133); None is MoveNet, or BlazePose with
    a warning when the model files are not prepared.  ``face`` (``mesh`` / ``dlib``) is the
    ensemble's face expert and ``body_model`` (``heavy`` / ``full``) the model of its second body
    pass; ``model_threads`` its threads per model call (None: the machine's cores, at most 4);
    ``hand_model`` (``both`` / ``full`` / ``lite``) and ``hand_mirror`` its hand models and flip test.
    DOPE checkpoints detect people themselves; ``dope_post`` (``nms`` /
    ``ppi``) is their post-processing.
    """
    person_detector = None
    if detector is not None:
        from wholebody.experts.detect.person_detector import make_person_detector

        person_detector = make_person_detector(detector, num_threads=model_threads)
    if model_path is None:
        from wholebody.experts import WholeBodyEstimator

        return WholeBodyEstimator(detector=person_detector, face=face, body_model=body_model,
                                  num_threads=model_threads, hand_model=hand_model, hand_mirror=hand_mirror)
    if not Path(model_path).exists():
        raise WholebodyError(f"--model {model_path}: no such file")
    from wholebody.models.checkpoints import load_checkpoint

    architecture = load_checkpoint(model_path).get("architecture")
    if architecture == "dope":
        from wholebody.models.dope.infer import DopeEstimator
        from wholebody.models.dope.network import load_dope

        return DopeEstimator(load_dope(model_path), method=dope_post)
    if architecture in ("zoomnet", "hrnet133"):
        from wholebody.models.zoomnet.topdown import TopDownEstimator

        return TopDownEstimator(model_path, detector=person_detector)
    raise WholebodyError(f"--model {model_path}: unknown checkpoint architecture {architecture!r}; "
                         "run without --model to use the part-expert ensemble")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image, folder (recursive), glob pattern (quote it), or video (mp4 avi mov mkv webm); "
                             "or one live source: webcam:N, /dev/videoN, or a stream URL (rtsp:// http:// ...), "
                             "whose results stream to DIR/results.jsonl (Ctrl-C ends it cleanly)")
    parser.add_argument("--out", default="wholebody-out", metavar="DIR", help="output folder (default: %(default)s)")
    parser.add_argument("--model", default=None, metavar="PATH", help="checkpoint (default: the part-expert ensemble)")
    parser.add_argument("--coco", default=None, metavar="ANN.json",
                        help="process the images listed in this COCO file (file_name relative to the one INPUT "
                             "folder) and keep their image ids")
    parser.add_argument("--boxes", default=None, metavar="BOXES.json",
                        help="person boxes (COCO detections list, keyed by image_id or file_name) instead of the "
                             "built-in person detector")
    parser.add_argument("--detector", choices=("movenet", "centernet"), default=None,
                        help="person detector of the default model: movenet (default; at most 6 people per image) "
                             "or centernet (slower, for crowds)")
    parser.add_argument("--face", choices=("mesh", "dlib"), default="mesh",
                        help="face expert of the default model: the MediaPipe mesh mapped to 68 points (default) or "
                             "dlib's 68-point predictor (needs the [dlib] extra)")
    parser.add_argument("--body-model", choices=("heavy", "full"), default="heavy",
                        help="second body pass of the default model: BlazePose heavy (default; more accurate) or "
                             "full (about 30 ms less per person on one thread)")
    parser.add_argument("--hand-model", choices=("both", "full", "lite"), default="both",
                        help="hand landmark models of the default model, averaged: both (default), full, or lite "
                             "(with the mirror: a third of the time, as accurate on the measured hands)")
    parser.add_argument("--no-hand-mirror", action="store_true",
                        help="default model: no flip test of the hand models (about 8 ms less per hand on 2 cores)")
    parser.add_argument("--dope-post", choices=("nms", "ppi"), default="nms",
                        help="post-processing of a DOPE --model: pose-box NMS (default) or the paper's pose-proposal "
                             "integration")
    parser.add_argument("--box-thr", type=float, metavar="SCORE", default=0.0, help="minimum score of a --boxes box (default 0)")
    parser.add_argument("--format", choices=("coco", "openpose"), default="coco", dest="output_format",
                        help="coco (default): results.json etc. only; openpose: also one OpenPose "
                             "<name>_keypoints.json per image / video frame under DIR/openpose/ (BODY_25, "
                             "face 70, hands 21; read by Pose2Sim and Sports2D)")
    parser.add_argument("--no-overlay", action="store_true", help="write no overlay images / videos")
    parser.add_argument("--plot3d", action="store_true", help="also write a 3D plot PNG per person (images only)")
    parser.add_argument("--no-track", action="store_true", help="video: no track ids (and so no smoothing)")
    parser.add_argument("--no-smooth", action="store_true", help="video: no One-Euro smoothing of keypoints")
    parser.add_argument("--detect-every", type=int, metavar="N", default=1,
                        help="video: run the person detector on every Nth frame and, in between, crop each person "
                             "around its points of the frame before (default 1: every frame)")
    parser.add_argument("--min-cutoff", type=float, metavar="HZ", default=0.5, help="One-Euro min cutoff in Hz (default 0.5)")
    parser.add_argument("--beta", type=float, metavar="B", default=20.0,
                        help="One-Euro speed coefficient, per person-size/s (default 20)")
    parser.add_argument("--threads", type=int, metavar="N", default=min(4, os.cpu_count() or 1),
                        help="threads for decoding and writing files (default: %(default)s)")
    parser.add_argument("--workers", type=int, metavar="N", default=1,
                        help="estimator processes, each on a contiguous share of the inputs, merged into the same "
                             "outputs as one process (default 1); each gets --threads threads and, unless "
                             "--model-threads is given, the machine's cores / N threads per model call")
    parser.add_argument("--model-threads", type=int, metavar="N", default=None,
                        help="threads per model call of the default model (default: the machine's cores, at most 4)")
    parser.add_argument("--score-thr", type=float, metavar="S", default=0.3,
                        help="keypoint score above which points are drawn, tracked and smoothed (default 0.3)")
    parser.add_argument("--max-megapixels", type=float, metavar="MPX", default=100.0,
                        help="refuse images larger than this (default 100)")
    parser.add_argument("--show", action="store_true",
                        help="live source: show the overlay in a window (q or Esc ends the run) when a display exists")
    parser.add_argument("--max-frames", type=int, metavar="N", default=None,
                        help="live source: stop after N frames (default: run until the source ends or Ctrl-C)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary line")


def _usage_error(message: str) -> int:
    print(f"wholebody predict: error: {message}", file=sys.stderr)
    return 2


def _check_usage(args: argparse.Namespace) -> str | None:
    """The first usage problem in ``args``, or None."""
    if (args.threads < 1 or args.detect_every < 1 or args.workers < 1
            or (args.model_threads is not None and args.model_threads < 1)):
        return "--threads, --model-threads, --workers and --detect-every must be at least 1"
    if not 0.0 <= args.score_thr <= 1.0:
        return "--score-thr must be in [0, 1]"
    if args.max_megapixels <= 0 or args.min_cutoff <= 0 or args.beta < 0:
        return "--max-megapixels and --min-cutoff must be > 0, --beta >= 0"
    if Path(args.out).exists() and not Path(args.out).is_dir():
        return f"--out {args.out} exists and is not a folder"
    if args.coco is not None and (len(args.inputs) != 1 or not Path(args.inputs[0]).is_dir()):
        return "--coco needs exactly one INPUT: the folder its file_name paths are relative to"
    return None


def _plan(args: argparse.Namespace):
    from wholebody.predict.plan import attach_boxes, plan_from_coco, plan_from_inputs

    if args.coco is not None:
        items = plan_from_coco(args.inputs[0], args.coco)
    else:
        items = plan_from_inputs(args.inputs, exclude=[args.out])
    if args.boxes is not None:
        items = attach_boxes(items, args.boxes, args.box_thr)
    return items


def _extra_writers(args: argparse.Namespace, tasks) -> list:
    """Writers of the optional output formats (``--format``)."""
    if args.output_format == "openpose":
        from wholebody.predict.openpose import OpenPoseWriter

        return [OpenPoseWriter(args.out, tasks)]
    return []


def run(args: argparse.Namespace) -> int:
    problem = _check_usage(args)
    if problem:
        return _usage_error(problem)
    from wholebody.predict.live import is_live_source

    if any(is_live_source(argument) for argument in args.inputs):
        if len(args.inputs) != 1 or args.coco or args.boxes or args.workers > 1:
            return _usage_error("a camera or stream must be the only INPUT, without --coco, --boxes or --workers")
        return _with_folder_locked(args, lambda: _run_live(args))
    if args.show or args.max_frames is not None:
        log.warning("--show and --max-frames apply to a camera or stream only; ignored")
    try:
        items = _plan(args)
    except WholebodyError as err:
        return _usage_error(str(err))
    return _with_folder_locked(args, lambda: _run_locked(args, items))


def _with_folder_locked(args: argparse.Namespace, body) -> int:
    """``body()`` with --out locked against other runs and SIGTERM raising an interrupt."""
    from wholebody.data.interrupts import interrupts_as_exceptions
    from wholebody.data.folder_lock import OutputFolderBusy, OutputFolderLock

    lock = OutputFolderLock(args.out)
    try:
        lock.acquire()
    except OutputFolderBusy as err:
        print(f"wholebody predict: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        return _usage_error(f"cannot write to --out {args.out}: {err}")
    try:
        with interrupts_as_exceptions():
            return body()
    finally:
        lock.release()


def _run_locked(args: argparse.Namespace, items) -> int:
    """The run proper, with the output folder locked and SIGTERM raising an interrupt."""
    from tqdm import tqdm

    from wholebody.data.errors import OutputError
    from wholebody.data.interrupts import interrupt_name, interrupt_status
    from wholebody.predict.background import BackgroundTasks
    from wholebody.predict.outdir import OutputManifest, remove_stale_temporaries
    from wholebody.predict.outputs import PredictionOutputs
    from wholebody.predict.runner import EstimatorUnavailable, PredictRun, RunOptions

    started = time.perf_counter()
    progress = not args.quiet and sys.stderr.isatty()
    remove_stale_temporaries(args.out)

    def report(where: str, reason: str) -> None:
        tqdm.write(f"{where}: {reason}", file=sys.stderr)

    options = RunOptions(
        track=not args.no_track, smooth=not args.no_smooth, threads=args.threads, score_thr=args.score_thr,
        max_pixels=int(args.max_megapixels * 1e6), min_cutoff=args.min_cutoff, beta=args.beta, progress=progress,
        detect_every=args.detect_every,
    )
    if args.plot3d and any(item.source.kind == "video" for item in items):
        log.warning("--plot3d makes plots for still images only; videos get none")
    choices = _estimator_choices(args)
    if args.workers > 1:
        return _run_workers(args, items, options, choices, report, started)
    write_failures: list[str] = []

    def write_failed(label: str, err: BaseException) -> None:
        reason = err.reason if isinstance(err, OutputError) else f"{type(err).__name__}: {err}"
        report(label, f"write failed: {reason}")
        write_failures.append(label)

    with ThreadPoolExecutor(args.threads, thread_name_prefix="write") as write_pool:
        tasks = BackgroundTasks(write_pool, 2 * args.threads, write_failed)
        try:
            manifest = OutputManifest(args.out)
            outputs = PredictionOutputs(args.out, tasks, overlay=not args.no_overlay, plot3d=args.plot3d,
                                        score_thr=args.score_thr, manifest=manifest,
                                        extra_writers=_extra_writers(args, tasks))
            if outputs.overlay:
                manifest.expect(outputs.overlay_path(item) for item in items)
        except OutputError as err:
            print(f"wholebody predict: {err}", file=sys.stderr)
            return 1
        except OSError as err:
            return _usage_error(f"cannot write to --out {args.out}: {err}")
        runner = PredictRun(lambda: load_estimator(**choices), outputs, options, report)
        try:
            summary = runner.run(items)
            outputs.close()
        except EstimatorUnavailable as err:
            outputs.abort()
            print(f"wholebody predict: {err}", file=sys.stderr)
            return 1
        except OutputError as err:  # a full disk, a read-only folder: earlier outputs are kept
            outputs.abort()
            print(f"wholebody predict: {err}; earlier results in {args.out} are kept", file=sys.stderr)
            return 1
        except KeyboardInterrupt as interrupt:
            outputs.abort()
            outcome = (f"results written to {args.out}" if outputs.committed else
                       f"no results written (earlier results in {args.out} are kept)")
            print(f"wholebody predict: {interrupt_name(interrupt)}; {outcome}", file=sys.stderr)
            return interrupt_status(interrupt)
        except BaseException:
            outputs.abort()
            raise
    return _finish(args, summary, write_failures, started)


def _run_workers(args: argparse.Namespace, items, options, choices: dict, report, started: float) -> int:
    """``--workers N``: the run spread over N processes (wholebody.predict.workers)."""
    import functools

    from wholebody.data.interrupts import interrupt_name, interrupt_status
    from wholebody.predict.outdir import OutputManifest
    from wholebody.predict.runner import EstimatorUnavailable
    from wholebody.predict.workers import OutputSettings, run_sharded

    if choices["model_threads"] is None:  # the cores are shared by the workers
        choices = choices | {"model_threads": max(1, (os.cpu_count() or 1) // args.workers)}
    settings = OutputSettings(overlay=not args.no_overlay, plot3d=args.plot3d, score_thr=args.score_thr,
                              output_format=args.output_format)
    options.progress = False  # no bar across processes; failures are reported as each worker ends
    try:
        summary, write_failures = run_sharded(items, args.workers, functools.partial(load_estimator, **choices),
                                              args.out, options, settings, report, OutputManifest(args.out))
    except EstimatorUnavailable as err:
        print(f"wholebody predict: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        print(f"wholebody predict: {interrupt_name(interrupt)}; no results written", file=sys.stderr)
        return interrupt_status(interrupt)
    except OSError as err:
        return _usage_error(f"cannot write to --out {args.out}: {err}")
    return _finish(args, summary, write_failures, started)


def _estimator_choices(args: argparse.Namespace) -> dict:
    return dict(model_path=args.model, detector=args.detector, face=args.face, dope_post=args.dope_post,
                body_model=args.body_model, model_threads=args.model_threads, hand_model=args.hand_model,
                hand_mirror=not args.no_hand_mirror)


def _run_live(args: argparse.Namespace) -> int:
    """One camera or stream (wholebody.predict.live): results.jsonl line by line until it ends,
    Ctrl-C (status 0) or SIGTERM (143)."""
    from wholebody.data.interrupts import interrupt_name, interrupt_status
    from wholebody.predict.live import LiveCapture, LiveOptions, LiveRun, SourceUnavailable

    if args.max_frames is not None and args.max_frames < 1:
        return _usage_error("--max-frames must be at least 1")
    source = args.inputs[0]
    options = LiveOptions(track=not args.no_track, smooth=not args.no_smooth, score_thr=args.score_thr,
                          min_cutoff=args.min_cutoff, beta=args.beta, overlay=not args.no_overlay,
                          openpose=args.output_format == "openpose", show=args.show, max_frames=args.max_frames)
    started = time.perf_counter()
    try:
        capture = LiveCapture(source)
    except SourceUnavailable as err:
        print(f"wholebody predict: {err}", file=sys.stderr)
        return 1
    try:
        estimator = load_estimator(**_estimator_choices(args))
        summary = LiveRun(source, estimator, args.out, options).run(capture)
    except KeyboardInterrupt as interrupt:  # while the model loads: nothing was written
        print(f"wholebody predict: {interrupt_name(interrupt)}", file=sys.stderr)
        return interrupt_status(interrupt)
    except WholebodyError as err:
        print(f"wholebody predict: {err}", file=sys.stderr)
        return 1
    finally:
        capture.close()
    if not args.quiet:
        seconds = time.perf_counter() - started
        print(f"{source}: {summary.frames} frames, {summary.people} people, {summary.reconnects} reconnections, "
              f"ended by {summary.ended_by}, {seconds:.1f} s -> {Path(args.out) / 'results.jsonl'}")
    if summary.status:  # SIGTERM: stopped from outside, said on stderr whatever --quiet says
        print(f"wholebody predict: {summary.ended_by}; {summary.frames} frames written to "
              f"{Path(args.out) / 'results.jsonl'}", file=sys.stderr)
    return summary.status


def _finish(args: argparse.Namespace, summary, write_failures: list[str], started: float) -> int:
    """Print the summary line; the exit status."""
    if not args.quiet:
        seconds = time.perf_counter() - started
        done = summary.images + summary.frames
        not_written = f", {len(write_failures)} overlays/plots not written" if write_failures else ""
        print(f"{summary.images} images, {summary.videos} videos ({summary.frames} frames), {summary.people} people, "
              f"{len(summary.failed)} failed{not_written}, {seconds:.1f} s "
              f"({done / max(seconds, 1e-9):.1f} images/s) -> {args.out}")
    # An image whose overlay could not be written still has its results: it is not a failed
    # input, but the run did not produce everything asked for, so the status is still 1.
    return 1 if summary.failed or write_failures else 0
