"""Model configs as plain dicts: what checkpoints store and how a model is rebuilt from it.

A config is a dataclass; checkpoints keep ``config.to_dict()`` and the model comes back from
``Config.from_dict(stored)``.  JSON (and our checkpoint round trips) turn tuples into lists,
so ``from_dict`` turns them back wherever the field's default is a tuple, and it names any
field it does not know instead of failing inside the constructor.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, fields
from typing import TypeVar

T = TypeVar("T", bound="StoredConfig")


class StoredConfig:
    """Mixin for config dataclasses: ``to_dict`` and a checked ``from_dict``."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[T], values: dict) -> T:
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}")
        values = {name: _as_default_type(known[name], value) for name, value in values.items()}
        # A field added after a checkpoint was written takes the value the old code used.
        absent = {k: v for k, v in getattr(cls, "ABSENT_FIELD_VALUES", {}).items() if k not in values}
        return cls(**absent, **values)


def _as_default_type(field, value):
    """``value`` as a tuple when the field's default is one and the stored value is a list."""
    default = field.default if field.default is not MISSING else None
    return tuple(value) if isinstance(default, tuple) and isinstance(value, list) else value
