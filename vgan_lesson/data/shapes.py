"""``shapes``: coloured shapes performing actions — the stand-in for Weizmann / KTH (DESIGN §3).

Content factors (constant over a video): ``shape`` (circle, square, triangle, diamond, star),
``color`` (one of eight named colours), ``size`` (radius, continuous) and ``background`` (one of
four dark tones). Motion factors: the action ``label`` (six classes), ``speed`` (cycles per 16
frames), ``phase`` and the start position ``x0``, ``y0``. With ``objects=2`` a second object with
its own content and action moves at the same time (EncGAN3 Fig. 5); its factors carry a ``2``
suffix and the label stays the first object's action.

Every trajectory is a closed-form function of the frame index, so a video can have any number of
frames; objects that walk off one side re-enter from the other. The per-frame centre of each
object is returned as the render extra ``position`` ``(N, T, 2)`` (``(N, T, 2, 2)`` for two
objects), in normalised coordinates (x right, y down, both in [-1, 1]).
"""
from __future__ import annotations

import math
from typing import ClassVar

import torch

from ..checks import check_int
from .base import ProceduralVideoDataset
from .raster import coverage, paint, pixel_grid, sdf_box, sdf_circle, sdf_polygon, sdf_star, to_signed

Tensor = torch.Tensor

SHAPES = ("circle", "square", "triangle", "diamond", "star")
COLORS = {
    "red": (0.92, 0.20, 0.18), "orange": (0.98, 0.60, 0.10), "yellow": (0.96, 0.90, 0.20),
    "green": (0.25, 0.80, 0.30), "cyan": (0.20, 0.85, 0.90), "blue": (0.25, 0.40, 0.98),
    "magenta": (0.90, 0.30, 0.85), "white": (0.95, 0.95, 0.95),
}
BACKGROUNDS = {
    "black": (0.02, 0.02, 0.03), "slate": (0.16, 0.18, 0.22),
    "navy": (0.05, 0.07, 0.22), "forest": (0.05, 0.16, 0.08),
}
ACTIONS = ("walk_left", "walk_right", "bounce", "circle", "zigzag", "pulse")

_HALF_PI = torch.tensor(math.pi / 2)
_QUARTER_PI = torch.tensor(math.pi / 4)
_COLOR_TABLE = torch.tensor(list(COLORS.values()))
_BACKGROUND_TABLE = torch.tensor(list(BACKGROUNDS.values()))


def trajectory(action: Tensor, speed: Tensor, phase: Tensor, x0: Tensor, y0: Tensor, radius: Tensor,
               frames: int) -> tuple[Tensor, Tensor, Tensor]:
    """Centre ``(x, y)`` and radius of each object in every frame, all shaped ``(N, T)``.

    ``tau = j * speed / 16`` counts motion cycles, so at speed 1 one cycle spans 16 frames.
    walk_left/right: constant horizontal velocity (one image width per cycle) with a small step bob,
    wrapping around; bounce: a ball on a floor, ``|sin|`` hops; circle: a loop of radius 0.35;
    zigzag: horizontal drift plus a triangle wave in y; pulse: the object stays and its size breathes.
    """
    j = torch.arange(frames, dtype=torch.float32)
    tau = j.view(1, -1) * speed.view(-1, 1) / 16.0                      # (N, T)
    ang = 2 * math.pi * tau + phase.view(-1, 1)
    a = action.view(-1, 1)
    x = x0.view(-1, 1).expand_as(tau).clone()
    y = y0.view(-1, 1).expand_as(tau).clone()
    r = radius.view(-1, 1).expand_as(tau).clone()

    span = 2.0 + 2.0 * radius.view(-1, 1)                               # wrap-around period in x
    walk_dx = 1.0 * tau
    step_bob = -0.06 * torch.sin(2 * ang).abs()
    left, right = a == 0, a == 1
    x = torch.where(left, x - walk_dx, x)
    x = torch.where(right, x + walk_dx, x)
    y = torch.where(left | right, y + step_bob, y)

    bounce = a == 2
    floor = 0.55
    y = torch.where(bounce, floor - 0.9 * torch.sin(ang / 2).abs(), y)

    loop = a == 3
    x = torch.where(loop, 0.35 * torch.cos(ang) + 0.3 * x0.view(-1, 1), x)
    y = torch.where(loop, 0.35 * torch.sin(ang) + 0.3 * y0.view(-1, 1), y)

    zig = a == 4
    tri = 2.0 / math.pi * torch.asin(torch.sin(2 * ang))                # triangle wave in [-1, 1]
    x = torch.where(zig, x + 0.8 * tau, x)
    y = torch.where(zig, 0.45 * tri, y)

    pulse = a == 5
    r = torch.where(pulse, r * (1.0 + 0.4 * torch.sin(ang)), r)

    wraps = left | right | zig
    x = torch.where(wraps, torch.remainder(x + span / 2, span) - span / 2, x)
    return x, y, r


def shape_sdf(kind: int, x: Tensor, y: Tensor, cx: Tensor, cy: Tensor, r: Tensor) -> Tensor:
    """Signed distance to shape number ``kind`` (index into :data:`SHAPES`) of radius ``r``."""
    if kind == 0:
        return sdf_circle(x, y, cx, cy, r)
    if kind == 1:
        return sdf_box(x, y, cx, cy, 0.85 * r, 0.85 * r)
    if kind == 2:
        # sdf_polygon puts an edge normal at `angle`: +pi/2 (downwards, y is down) gives a flat base
        return sdf_polygon(x, y, cx, cy + 0.15 * r, 1.15 * r, 3, angle=_HALF_PI)
    if kind == 3:
        return sdf_polygon(x, y, cx, cy, 1.1 * r, 4, angle=_QUARTER_PI)
    return sdf_star(x, y, cx, cy, 1.25 * r, points=5, angle=torch.tensor(-math.pi / 2))


class ShapesDataset(ProceduralVideoDataset):
    """Coloured shapes performing one of six actions (see the module docstring).

    Extra argument: ``objects`` (1 or 2) — the number of moving objects per video.
    """

    name: ClassVar[str] = "shapes"
    splits: ClassVar[tuple[str, ...]] = ("train", "val", "test")
    class_names: ClassVar[tuple[str, ...]] = ACTIONS
    default_clips: ClassVar[dict[str, int]] = {"train": 10_000, "val": 1_000, "test": 2_000}
    shape_names: ClassVar[tuple[str, ...]] = SHAPES
    color_names: ClassVar[tuple[str, ...]] = tuple(COLORS)
    background_names: ClassVar[tuple[str, ...]] = tuple(BACKGROUNDS)

    def __init__(self, split: str = "train", size: int = 64, frames: int = 16, num_clips: int | None = None,
                 seed: int = 0, cache_dir=None, objects: int = 1):
        check_int("objects", objects, 1, 2)
        self.objects = objects
        super().__init__(split=split, size=size, frames=frames, num_clips=num_clips, seed=seed,
                         cache_dir=cache_dir)

    @property
    def name_for_cache(self) -> str:
        return self.name if self.objects == 1 else f"{self.name}{self.objects}"

    def cache_path(self, cache_dir):
        path = super().cache_path(cache_dir)
        return path.with_name(path.name.replace(self.name, self.name_for_cache, 1))

    def _sample_object(self, n: int, g: torch.Generator, suffix: str = "") -> dict[str, Tensor]:
        def uniform(lo, hi):
            return lo + (hi - lo) * torch.rand(n, generator=g)
        return {
            f"label{suffix}": torch.randint(len(ACTIONS), (n,), generator=g),
            f"shape{suffix}": torch.randint(len(SHAPES), (n,), generator=g),
            f"color{suffix}": torch.randint(len(COLORS), (n,), generator=g),
            f"size{suffix}": uniform(0.16, 0.28),
            f"speed{suffix}": uniform(0.6, 1.4),
            f"phase{suffix}": uniform(0.0, 2 * math.pi),
            f"x0{suffix}": uniform(-0.5, 0.5),
            f"y0{suffix}": uniform(-0.35, 0.35),
        }

    def sample_factors(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        factors = self._sample_object(n, generator)
        factors["background"] = torch.randint(len(BACKGROUNDS), (n,), generator=generator)
        if self.objects == 2:
            second = self._sample_object(n, generator, "2")
            # a different colour from the first object, so the two stay distinguishable
            second["color2"] = (factors["color"] + 1 + torch.randint(len(COLORS) - 1, (n,), generator=generator)) \
                % len(COLORS)
            factors.update(second)
        return factors

    def render_factors(self, factors: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        n, t, s = factors["label"].shape[0], self.frames, self.size
        gy, gx = pixel_grid(s)
        bg = _BACKGROUND_TABLE[factors["background"]]                      # (N, 3)
        canvas = bg.view(n, 3, 1, 1, 1).expand(n, 3, t, s, s).contiguous()
        positions = []
        for suffix in ([""] if self.objects == 1 else ["", "2"]):
            x, y, r = trajectory(factors[f"label{suffix}"], factors[f"speed{suffix}"], factors[f"phase{suffix}"],
                                 factors[f"x0{suffix}"], factors[f"y0{suffix}"], factors[f"size{suffix}"], t)
            positions.append(torch.stack([x, y], dim=-1))
            alpha = torch.empty(n, t, s, s)
            kinds = factors[f"shape{suffix}"]
            for kind in kinds.unique().tolist():
                sel = (kinds == kind).nonzero().squeeze(1)
                cx, cy, rr = (v[sel].view(-1, t, 1, 1) for v in (x, y, r))
                alpha[sel] = coverage(shape_sdf(kind, gx, gy, cx, cy, rr), s)
            paint(canvas, _COLOR_TABLE[factors[f"color{suffix}"]], alpha)
        position = positions[0] if self.objects == 1 else torch.stack(positions, dim=2)
        return to_signed(canvas), {"position": position}
