#!/usr/bin/env python3
"""Break the library on purpose, one behaviour at a time, and report which breakages the tests miss.

Each mutation replaces one exact piece of source text (it must occur exactly once) in a TEMPORARY
copy of the repository, never in the working tree, then runs the fast tests chosen for it
(``pytest -x -q``, OMP_NUM_THREADS=1).  A mutation is "killed" when those tests fail and
"SURVIVED" when they pass.  The copy sits next to a link to ``../shared`` so fixture tests run
rather than skip.  First the unmutated copy runs every chosen test once (the baseline), so a
failure there is reported instead of being mistaken for kills.

    python scripts/mutation_check.py                 # all mutations (~5-10 min on one core)
    python scripts/mutation_check.py --only zoomnet  # names containing "zoomnet"
    python scripts/mutation_check.py --list

Needs the project's test environment (the dev extra, prepared models, ../shared/fixtures).
Not part of CI.  Exit status 0 when every mutation was killed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("mutation_check")
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository root
    old: str  # exact source text, present once
    new: str
    tests: tuple[str, ...]  # pytest node ids / files, relative to the repository root


MUTATIONS = [
    Mutation("estimator-zeroes-left-hands", "wholebody/experts/assemble/estimator.py",
             "        return sorted(people, key=lambda p: -p.score)\n",
             "        for person in people:\n            person.keypoints[91:112] = 0.0\n"
             "        return sorted(people, key=lambda p: -p.score)\n",
             ("tests/test_default_model_floors.py", "tests/test_experts_estimator.py")),
    Mutation("cli-default-model-path-broken", "wholebody/cli/predict.py",
             "    if model_path is None:\n", "    if model_path is None and detector is not None:\n",
             ("tests/test_predict_cli.py", "tests/test_predict_cli_real.py")),
    Mutation("cli-detector-choice-ignored", "wholebody/cli/predict.py",
             "make_person_detector(detector, num_threads=model_threads)",
             "make_person_detector(\"movenet\", num_threads=model_threads)",
             ("tests/test_predict_cli.py", "tests/test_predict_cli_real.py")),
    Mutation("dope-estimator-finds-nobody", "wholebody/models/dope/infer.py",
             "        return sorted(people, key=lambda p: -p.score)\n", "        return []\n",
             ("tests/test_cli_dope.py", "tests/test_dope_train.py::test_trained_model_runs_end_to_end")),
    Mutation("dope-onnx-heads-pool-half-boxes", "wholebody/models/dope/export.py",
             "pooled = self.model.roi_features(features, [boxes])",
             "pooled = self.model.roi_features(features, [torch.cat([boxes[:, :2], (boxes[:, :2] + boxes[:, 2:]) / 2], 1)])",
             ("tests/test_dope_export.py", "tests/test_dope_onnx_forward.py")),
    Mutation("eval-rescore-does-nothing", "wholebody/cli/eval.py",
             "rescore=args.rescore,", "rescore=False,",
             ("tests/test_cli_eval.py", "tests/test_eval_postprocess_cli.py")),
    Mutation("eval-oks-nms-does-nothing", "wholebody/cli/eval.py",
             "oks_nms=args.oks_nms,", "oks_nms=False,",
             ("tests/test_cli_eval.py", "tests/test_eval_postprocess_cli.py")),
    Mutation("zoomnet-left-hand-not-flipped-back", "wholebody/models/zoomnet/network.py",
             '"lefthand": left.flip(-1),', '"lefthand": left,',
             ("tests/test_zoomnet.py", "tests/test_zoomnet_mapping.py")),
    Mutation("topdown-keypoints-left-in-crop-pixels", "wholebody/models/zoomnet/topdown.py",
             "        keypoints[i, :, :2] = apply_affine(keypoints[i, :, :2], invert_affine(matrix))\n",
             "        pass\n",
             ("tests/test_zoomnet.py", "tests/test_zoomnet_mapping.py")),
    Mutation("results-writer-swaps-hands", "wholebody/data/results.py",
             "    keypoints = person.keypoints.copy()\n",
             "    keypoints = person.keypoints.copy()\n"
             "    keypoints[91:112], keypoints[112:133] = keypoints[112:133].copy(), keypoints[91:112].copy()\n",
             ("tests/test_results.py", "tests/test_results_fast.py", "tests/test_predict_cli.py",
              "tests/test_predict_cli_real.py")),
    Mutation("faces-shifted-8px", "wholebody/experts/assemble/person.py",
             'person.keypoints[PART_SLICES["face"], :2] = face.ibug68()',
             'person.keypoints[PART_SLICES["face"], :2] = face.ibug68() + 8.0',
             ("tests/test_experts_assemble.py", "tests/test_default_model_floors.py", "tests/test_experts_estimator.py")),
    Mutation("estimator-score-ranking-dropped", "wholebody/experts/assemble/estimator.py",
             "        return sorted(people, key=lambda p: -p.score)\n", "        return people\n",
             ("tests/test_experts_estimator.py", "tests/test_predict_cli_real.py")),
    Mutation("train-autocast-off", "wholebody/train/loop.py",
             "torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)",
             "torch.autocast(device.type, dtype=torch.bfloat16, enabled=False)",
             ("tests/test_train_loop.py::test_bf16_autocast_step_on_cpu",)),
    Mutation("overlay-skeleton-and-points-not-drawn", "wholebody/viz/overlay.py",
             "    visible = keypoints[:, 2] > score_thr\n", "    return\n",
             ("tests/test_overlay.py", "tests/test_predict_cli.py::test_video_gets_frames_track_ids_and_an_overlay_video",
              "tests/test_predict_cli_real.py::test_default_overlay_is_drawn_at_the_people")),
    Mutation("metrics-warn-on-valid-input", "wholebody/eval/metrics_common.py",
             "    return np.where(visible, errors, np.nan)\n",
             "    warnings.warn(\"spurious\", RuntimeWarning)\n    return np.where(visible, errors, np.nan)\n",
             ("tests/test_metrics.py::test_all_visible_gives_a_number_without_warning",)),
]


def copy_repository(target: Path) -> Path:
    """The tracked and untracked-but-not-ignored files of the repository, copied under ``target/repo``
    (with ``target/shared`` linked to the real ``../shared`` when it exists)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    repo = target / "repo"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (target / "shared").symlink_to(shared, target_is_directory=True)
    return repo


def run_tests(repo: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, str]:
    """(outcome, pytest's summary line): outcome is 'pass', 'fail' or 'error'."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(repo), PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "error", f"timed out after {timeout:.0f} s"
    lines = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed|error|skipped)", line)]
    summary = lines[-1].strip("= ") if lines else (done.stdout + done.stderr).strip()[-300:]
    failing = [line.split()[1] for line in done.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    if failing:  # the test that caught it (pytest -ra lists it)
        summary += f"; first failure {failing[0]}"
    if done.returncode == 0:
        return "pass", summary
    return ("fail", summary) if done.returncode == 1 else ("error", f"pytest exit {done.returncode}: {summary}")


def check_imports_copy(repo: Path) -> None:
    """The copy's package must be the one imported (not an editable install elsewhere)."""
    env = dict(os.environ, PYTHONPATH=str(repo))
    where = subprocess.run([sys.executable, "-c", "import wholebody; print(wholebody.__file__)"], cwd=repo, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(repo.resolve()):
        raise SystemExit(f"the temporary copy is not what gets imported ({where}); check PYTHONPATH / installs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="run the mutations whose name contains this text")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the chosen tests")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per pytest run (default 300)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    chosen = [m for m in MUTATIONS if args.only in m.name]
    if args.list:
        for mutation in chosen:
            log.info("%-40s %s  ->  %s", mutation.name, mutation.path, " ".join(mutation.tests))
        return 0
    with tempfile.TemporaryDirectory(prefix="mutation_check_") as folder:
        repo = copy_repository(Path(folder))
        check_imports_copy(repo)
        if not args.no_baseline:
            every_test = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            start = time.monotonic()
            outcome, summary = run_tests(repo, every_test, args.timeout * 2)
            log.info("baseline (unmutated): %s  [%s, %.0f s]", outcome, summary, time.monotonic() - start)
            if outcome != "pass":
                log.error("the unmutated tests do not pass; fix that first")
                return 2
        survived = []
        for mutation in chosen:
            target = repo / mutation.path
            original = target.read_text()
            if original.count(mutation.old) != 1:
                log.error("%s: the text to mutate occurs %d times in %s", mutation.name, original.count(mutation.old),
                          mutation.path)
                survived.append(mutation.name)
                continue
            target.write_text(original.replace(mutation.old, mutation.new))
            start = time.monotonic()
            try:
                outcome, summary = run_tests(repo, mutation.tests, args.timeout)
            finally:
                target.write_text(original)
            verdict = {"fail": "killed", "pass": "SURVIVED", "error": "ERROR"}[outcome]
            if outcome != "fail":
                survived.append(mutation.name)
            log.info("%-40s %-8s [%s, %.0f s]", mutation.name, verdict, summary, time.monotonic() - start)
    log.info("%d of %d mutations killed%s", len(chosen) - len(survived), len(chosen),
             f"; not killed: {', '.join(survived)}" if survived else "")
    return 0 if not survived else 1


if __name__ == "__main__":
    sys.exit(main())
