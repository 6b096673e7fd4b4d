"""Checkpoint files: atomic writes, and loading that refuses what it cannot use.

A checkpoint is a ``torch.save`` dict with ``format`` = ``"wholebody-checkpoint"``,
``format_version``, ``architecture`` (``zoomnet`` / ``hrnet133``), ``config`` (the model's
config dict), ``model`` (state dict) and, for training runs, ``optimizer``, ``scheduler``,
``epoch``, ``batch_in_epoch``, ``step``, ``rng`` and ``train_config``.  It is written to a
temporary file in the same folder, flushed and renamed over the target, so a crash never
leaves a half-written checkpoint.

Checkpoints are read with ``torch.load(weights_only=True)``: the file may only hold tensors and
plain Python values (dict, list, tuple, str, int, float, bool, None), so a ``.pt`` file from
the internet whose pickle would call a function (``os.system`` ...) is refused before anything
in it runs.  Everything the format stores is such a plain value.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import torch

from wholebody.data.atomic import atomic_write_bytes
from wholebody.data.errors import WholebodyError

CHECKPOINT_FORMAT = "wholebody-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(WholebodyError, ValueError):
    """A checkpoint that cannot be used here: unreadable, foreign, another architecture or version."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` (format fields are added) atomically to ``path``."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "format_version": FORMAT_VERSION, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, architecture: str | None = None, map_location="cpu") -> dict:
    """Read a checkpoint and check it; ``architecture`` (if given) must match the stored one.

    Raises:
        CheckpointError: missing/unreadable file, not a wholebody checkpoint, an incompatible
            ``format_version``, or a different architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such checkpoint file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for truncated / foreign / unsafe files
        reason = _torch_reason(err)
        if isinstance(err, pickle.UnpicklingError) and "global" in reason.lower():
            # weights_only refuses any pickle that names a function or class outside its allow-list.
            raise CheckpointError(path, "refused: the file holds Python objects other than tensors and plain "
                                        f"values (loading it could run code); {reason}") from err
        raise CheckpointError(path, f"cannot read checkpoint ({type(err).__name__}: {reason})") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(path, "not a wholebody checkpoint (no 'format': 'wholebody-checkpoint' entry)")
    version = state.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(path, f"checkpoint format version {version} is not supported by this version "
                                    f"of wholebody (expects {FORMAT_VERSION})")
    if architecture is not None and state.get("architecture") != architecture:
        raise CheckpointError(path, f"checkpoint is a {state.get('architecture')!r} model, "
                                    f"cannot use it as {architecture!r}")
    return state


def load_model(path: str | os.PathLike, architecture: str | None = None, device: str = "cpu") -> torch.nn.Module:
    """Rebuild the model stored in a checkpoint, weights loaded, in eval mode."""
    return model_from_state(load_checkpoint(path, architecture), path, device)


def trained_with_flips(state: dict) -> bool:
    """Whether the checkpoint's network saw mirrored crops in training (flip test helps only then)."""
    return bool((state.get("train_config") or {}).get("augment", True))


def model_from_state(state: dict, path: str | os.PathLike, device: str = "cpu") -> torch.nn.Module:
    """The model of an already loaded checkpoint ``state`` (``path`` names it in errors)."""
    from wholebody.models.registry import build_model

    try:
        model = build_model(state.get("architecture"), config=state.get("config"))
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # unknown architecture, foreign config
        raise CheckpointError(path, f"cannot build the stored {state.get('architecture')!r} model "
                                    f"({_first_line(err)})") from err
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as err:
        raise CheckpointError(path, f"weights do not fit the stored {state['architecture']} config ({err})") from err
    return model.to(device).eval()



def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _torch_reason(err: BaseException) -> str:
    """The informative line of a torch.load error: its weights-only errors wrap the reason
    (``Unsupported GLOBAL posix.system ...``, ``Unsupported operand 120``) in a page of advice."""
    advice = ("Weights only load failed", "Check the documentation", "In PyTorch", "Re-running")
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(advice)]
    return (useful or lines or [type(err).__name__])[0]
