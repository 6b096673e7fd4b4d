"""PR curves of the error analysis (Ronchi & Perona style), as PNG with matplotlib's Agg canvas.

One panel per part: the precision-recall curve at one OKS threshold for the original results
and after each cumulative fix step of :mod:`wholebody.eval.analysis_fixes`, the area gained by
each step filled in its colour, and the legend giving AP at that threshold for every step.
No pyplot, so nothing global is touched and no display is needed.
"""

from __future__ import annotations

import os

import numpy as np

from wholebody.data.atomic import atomic_open
from wholebody.eval.accumulate import RECALL_THRESHOLDS
from wholebody.eval.analysis_fixes import STEP_LABELS, PartAnalysis

# One colour per step, dark (original) to light, so the stacked fills read in order.
STEP_COLORS = {
    "original": "#1f3b73", "jitter": "#2a9d8f", "inversion": "#8ab17d", "swap": "#e9c46a",
    "miss": "#f4a261", "background_fp": "#e76f51", "false_negatives": "#c8c8c8",
}
PART_TITLES = {"body": "Body", "foot": "Foot", "face": "Face", "lefthand": "Left hand",
               "righthand": "Right hand", "wholebody": "Whole body"}


def _step_label(analysis: PartAnalysis, step) -> str:
    """Legend text: AP at the threshold, the step, and how many errors it fixed."""
    counts = analysis.diagnosis.counts()
    if step.name == "original":
        extra = ""
    elif step.name == "background_fp":  # also drops results matched only to ignored people
        extra = f" ({counts['background_fp']} + {counts['ignored_results']} ign. results)"
    else:
        extra = f" ({counts[step.name]} {'people' if step.name == 'false_negatives' else 'points'})"
    return f"[{step.ap_at_oks:.3f}] {STEP_LABELS[step.name]}{extra}"


def draw_part(axes, analysis: PartAnalysis, title: str) -> None:
    """Draw one part's stacked PR curves onto a matplotlib ``axes``."""
    from matplotlib.patches import Patch

    below = np.zeros(len(RECALL_THRESHOLDS))
    handles = []
    for step in analysis.steps:
        precision = step.precision
        if (precision < 0).any():  # no regular person: no curve exists
            continue
        color = STEP_COLORS[step.name]
        axes.fill_between(RECALL_THRESHOLDS, below, np.maximum(precision, below), color=color, alpha=0.85, lw=0)
        axes.plot(RECALL_THRESHOLDS, precision, color=color, lw=1.2)
        handles.append(Patch(facecolor=color, edgecolor="none", label=_step_label(analysis, step)))
        below = np.maximum(precision, below)
    if not handles:
        axes.text(0.5, 0.5, "no labelled people", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_title(f"{title}  (PR at OKS {analysis.oks:g})", fontsize=11)
    axes.grid(True, lw=0.4, alpha=0.5)
    if handles:
        axes.legend(handles=handles, loc="lower left", fontsize=8, title="AP@OKS  step (errors fixed)",
                    title_fontsize=8, framealpha=0.92)


def _save(figure, path: str | os.PathLike) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)


def write_part_plot(path: str | os.PathLike, analysis: PartAnalysis, part: str) -> None:
    """Write one part's PR-curve figure to ``path`` (PNG, atomically)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6, 5.0), layout="constrained")
    draw_part(figure.add_subplot(), analysis, PART_TITLES.get(part, part))
    _save(figure, path)


def write_overview(path: str | os.PathLike, analyses: dict[str, PartAnalysis]) -> None:
    """Write all parts side by side (up to 3 per row) to one PNG, like the paper's figure."""
    from matplotlib.figure import Figure

    parts = list(analyses)
    columns = min(3, len(parts))
    rows = -(-len(parts) // columns)
    figure = Figure(figsize=(5.0 * columns, 4.6 * rows), layout="constrained")
    for i, part in enumerate(parts):
        draw_part(figure.add_subplot(rows, columns, i + 1), analyses[part], PART_TITLES.get(part, part))
    _save(figure, path)
