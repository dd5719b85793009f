"""Anti-aliased vector drawing on torch tensors, shared by the procedural datasets.

Every shape is a signed distance function (SDF): negative inside, positive outside, in the
normalised image coordinates used throughout this module — ``x`` to the right and ``y`` downwards,
both in [-1, 1] across the image. ``coverage`` turns a distance into the fraction of a pixel the
shape covers (a one-pixel linear ramp across the edge), which is what makes edges anti-aliased at
any resolution. All functions broadcast, so one call draws a shape into every frame of every video
of a batch: parameters shaped ``(N, T, 1, 1)`` against the grid's ``(H, 1)`` and ``(1, W)`` give
``(N, T, H, W)``.
"""
from __future__ import annotations

import math

import torch

Tensor = torch.Tensor


def pixel_grid(size: int, device=None, dtype=torch.float32) -> tuple[Tensor, Tensor]:
    """Pixel-centre coordinates ``(y, x)`` of a ``size`` x ``size`` image, shaped ``(H, 1)`` and ``(1, W)``."""
    c = (torch.arange(size, device=device, dtype=dtype) * 2 + 1) / size - 1
    return c.view(size, 1), c.view(1, size)


def coverage(sdf: Tensor, size: int, blur: float = 1.0) -> Tensor:
    """Fraction of each pixel inside the shape: a ramp of ``blur`` pixels centred on the edge."""
    return (0.5 - sdf * (size / (2.0 * blur))).clamp_(0.0, 1.0)


def _rotate(dx: Tensor, dy: Tensor, angle) -> tuple[Tensor, Tensor]:
    if angle is None:
        return dx, dy
    c, s = torch.cos(angle), torch.sin(angle)
    return dx * c + dy * s, -dx * s + dy * c


def sdf_circle(x, y, cx, cy, r) -> Tensor:
    """Exact distance to a disc of radius ``r`` centred at ``(cx, cy)``."""
    return torch.sqrt((x - cx) ** 2 + (y - cy) ** 2) - r


def sdf_ellipse(x, y, cx, cy, rx, ry, angle=None) -> Tensor:
    """Approximate distance to an ellipse (exact on the boundary, good to a pixel near it).

    Uses the first-order estimate ``(k - 1) * k / |grad k|`` with ``k = |p / r|``, which keeps the
    anti-aliasing ramp one pixel wide even for thin ellipses (eyebrows, mouths).
    """
    dx, dy = _rotate(x - cx, y - cy, angle)
    ux, uy = dx / rx, dy / ry
    k = torch.sqrt(ux * ux + uy * uy).clamp_min(1e-6)
    gx, gy = ux / rx, uy / ry
    grad = torch.sqrt(gx * gx + gy * gy).clamp_min(1e-6)
    return (k - 1.0) * k / grad


def sdf_box(x, y, cx, cy, hx, hy, angle=None, rounding=0.0) -> Tensor:
    """Exact distance to a (rotated, optionally rounded) box with half-sizes ``hx``, ``hy``."""
    dx, dy = _rotate(x - cx, y - cy, angle)
    qx = dx.abs() - hx + rounding
    qy = dy.abs() - hy + rounding
    outside = torch.sqrt(qx.clamp_min(0) ** 2 + qy.clamp_min(0) ** 2)
    inside = torch.maximum(qx, qy).clamp_max(0)
    return outside + inside - rounding


def sdf_segment(x, y, ax, ay, bx, by, r) -> Tensor:
    """Exact distance to a capsule: the segment from ``a`` to ``b`` thickened by radius ``r``."""
    pax, pay = x - ax, y - ay
    bax, bay = bx - ax, by - ay
    h = ((pax * bax + pay * bay) / (bax * bax + bay * bay).clamp_min(1e-12)).clamp(0.0, 1.0)
    return torch.sqrt((pax - bax * h) ** 2 + (pay - bay * h) ** 2) - r


def sdf_polygon(x, y, cx, cy, r, sides: int, angle=None) -> Tensor:
    """Distance to a regular polygon with ``sides`` corners on a circle of radius ``r``.

    Exact inside and along the edges, slightly underestimated outside the corners — enough for a
    one-pixel anti-aliasing ramp.
    """
    dx, dy = _rotate(x - cx, y - cy, angle)
    sector = 2 * math.pi / sides
    theta = torch.atan2(dy, dx)
    theta = torch.remainder(theta + sector / 2, sector) - sector / 2
    rho = torch.sqrt(dx * dx + dy * dy)
    return rho * torch.cos(theta) - r * math.cos(math.pi / sides)


def sdf_star(x, y, cx, cy, r, points: int = 5, inner: float = 0.45, angle=None) -> Tensor:
    """Approximate distance to a star with ``points`` tips of radius ``r`` and inner radius ``inner * r``."""
    dx, dy = _rotate(x - cx, y - cy, angle)
    sector = 2 * math.pi / points
    theta = torch.remainder(torch.atan2(dy, dx) + sector / 2, sector) - sector / 2
    rho = torch.sqrt(dx * dx + dy * dy)
    # radius of the star's outline at this angle: linear between tip (theta=0) and notch (|theta|=sector/2)
    t = theta.abs() / (sector / 2)
    edge = r * (1 - t) + inner * r * t
    return (rho - edge) * 0.7


def paint(canvas: Tensor, color: Tensor, alpha: Tensor) -> Tensor:
    """Composite a flat ``color`` over ``canvas`` in place with per-pixel opacity ``alpha``.

    ``canvas`` is ``(N, C, T, H, W)``; ``alpha`` is ``(N, T, H, W)`` (or broadcastable); ``color``
    is ``(N, C)`` or ``(C,)``.
    """
    a = alpha.unsqueeze(1) if alpha.ndim == canvas.ndim - 1 else alpha
    if color.ndim == 1:
        col = color.view(1, -1, *([1] * (canvas.ndim - 2)))
    else:
        col = color.view(color.shape[0], color.shape[1], *([1] * (canvas.ndim - 2)))
    canvas.add_(a * (col - canvas))
    return canvas


def to_signed(canvas01: Tensor) -> Tensor:
    """Map a canvas from [0, 1] to the package's [-1, 1] convention, in place."""
    return canvas01.clamp_(0.0, 1.0).mul_(2.0).sub_(1.0)
