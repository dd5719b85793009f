"""What every model config shares: the two scales and building a config by scale name (DESIGN §6).

``lesson`` is the CPU default (16 frames, 32 px, narrow networks: a notebook cell trains in minutes);
``paper`` is the paper's sizes and hyperparameters, for a GPU. Each model's config dataclass
subclasses :class:`ScaledConfig` and defines the classmethods ``lesson(**overrides)`` and
``paper(**overrides)``; :meth:`ScaledConfig.for_scale` picks one by name with clear errors.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from ..checks import check_choice, check_int

SCALES = ("lesson", "paper")


class ScaledConfig:
    """Mixin for config dataclasses that come in the two scales."""

    @classmethod
    def for_scale(cls, scale: str, **overrides: Any):
        """``lesson(**overrides)`` or ``paper(**overrides)`` by name (a clear error for an unknown scale
        or an override that is not a field of the config)."""
        check_choice("scale", scale, SCALES)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; expected some of {sorted(known)}")
        return cls.lesson(**overrides) if scale == "lesson" else cls.paper(**overrides)

    def _check_fields(self, counts: tuple[str, ...] = (), flags: tuple[str, ...] = (),
                      amounts: tuple[str, ...] = ()) -> None:
        """The checks every config makes in ``__post_init__``: ``counts`` are ints >= 1, ``flags`` are
        True/False, ``amounts`` are non-negative numbers (stored as floats); ``betas`` (when the config
        has it) is two numbers in [0, 1), stored as a tuple."""
        for name in counts:
            check_int(name, getattr(self, name), minimum=1)
        for name in flags:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if hasattr(self, "betas"):
            self.betas = tuple(float(b) for b in self.betas)
            if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
                raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        for name in amounts:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
            setattr(self, name, float(value))


__all__ = ["SCALES", "ScaledConfig"]
