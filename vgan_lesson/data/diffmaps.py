"""Difference maps and their inverses (EncGAN3 Sec. 3.1; REncGAN3 Eq. 3).

A video ``x`` with frames ``x_0 ... x_{T-1}`` is equivalent to its first frame plus its
difference maps ``v_j = x_j - x_{j-1}`` for ``j = 1 ... T-1``: the motion encoder of EncGAN3 reads
the difference maps, and the generator writes a content frame plus difference maps. Summing the
differences back onto the first frame recovers the video exactly (up to float rounding).
"""
from __future__ import annotations

import torch

from ..checks import check_tensor

Tensor = torch.Tensor


def _check_clip(x, name: str) -> Tensor:
    x = check_tensor(name, x, (4, 5), "(C, T, H, W) or (N, C, T, H, W)")
    if x.shape[-3] < 2:
        raise ValueError(f"{name} needs at least 2 frames for difference maps, got T={x.shape[-3]} "
                         f"in shape {tuple(x.shape)}")
    return x


def difference_maps(video: Tensor) -> Tensor:
    """``v_j = x_j - x_{j-1}`` for ``j = 1 .. T-1``.

    Accepts ``(C, T, H, W)`` or ``(N, C, T, H, W)`` and returns the same layout with ``T - 1`` frames,
    values in [-2, 2].
    """
    video = _check_clip(video, "video")
    return video[..., 1:, :, :] - video[..., :-1, :, :]


def _frame_and_diffs(frame, diffs, name: str) -> tuple[Tensor, Tensor]:
    """Check a frame ``(N, C, H, W)`` (or ``(C, H, W)``) and the difference maps ``(N, C, T-1, H, W)`` of one clip."""
    frame = check_tensor(name, frame, (3, 4), "(C, H, W) or (N, C, H, W)")
    diffs = check_tensor("diffs", diffs, (4, 5), "(C, T-1, H, W) or (N, C, T-1, H, W)")
    if diffs.ndim != frame.ndim + 1 or diffs.shape[:-3] != frame.shape[:-2] or diffs.shape[-2:] != frame.shape[-2:]:
        raise ValueError(f"{name} {tuple(frame.shape)} and diffs {tuple(diffs.shape)} do not match: "
                         f"expected {name} (N, C, H, W) with diffs (N, C, T-1, H, W)")
    return frame, diffs


def _rebuild(frame: Tensor, diffs: Tensor, r: int) -> Tensor:
    """``x_j = x_r + S_j - S_r`` with ``S_j = v_1 + ... + v_j`` (``S_0 = 0``): the clip around frame ``r``."""
    zero = torch.zeros_like(diffs[..., :1, :, :])
    cumulative = torch.cat([zero, torch.cumsum(diffs, dim=-3)], dim=-3)          # S_0 .. S_{T-1}
    return frame.unsqueeze(-3) + cumulative - cumulative[..., r:r + 1, :, :]


def reconstruct_from_differences(first_frame: Tensor, diffs: Tensor) -> Tensor:
    """Invert :func:`difference_maps`: ``x_j = x_0 + sum_{i<=j} v_i`` (a cumulative sum over time).

    ``first_frame`` is ``(C, H, W)`` / ``(N, C, H, W)``; ``diffs`` is ``(C, T-1, H, W)`` /
    ``(N, C, T-1, H, W)``. Returns the video with ``T`` frames (:func:`recall_reconstruct` with ``r = 0``).
    """
    return _rebuild(*_frame_and_diffs(first_frame, diffs, "first_frame"), 0)

def recall_reconstruct(reference: Tensor, diffs: Tensor, r: int) -> Tensor:
    """REncGAN3 Eq. 3: rebuild a clip around its **reference frame** ``x_r`` from its difference maps.

    Frames before the reference are reached by *subtracting* difference maps, frames after it by
    *adding* them::

        x_{j-1} = x_j ⊖ v_j      for j = r, r-1, ..., 1          (walking back from x_r)
        x_j     = x_{j-1} ⊕ v_j  for j = r+1, ..., T-1           (walking forward from x_r)

    ``reference`` is ``(C, H, W)`` / ``(N, C, H, W)``, ``diffs`` the ``T - 1`` maps ``v_1 .. v_{T-1}``
    ``(C, T-1, H, W)`` / ``(N, C, T-1, H, W)``, ``r`` the reference index in ``[0, T-1]`` (``T/2`` in
    REncGAN3; ``r = 0`` is :func:`reconstruct_from_differences`). Both recursions unroll into one
    cumulative sum: with ``S_j = v_1 + ... + v_j`` (``S_0 = 0``), ``x_j = x_r + S_j - S_r`` for every
    ``j``, which is what is computed (the same numbers as the loops, up to float rounding).
    Returns the clip with ``T`` frames; ``recall_reconstruct(x[:, :, r], difference_maps(x), r)``
    gives ``x`` back.
    """
    reference, diffs = _frame_and_diffs(reference, diffs, "reference")
    frames = diffs.shape[-3] + 1
    if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < frames:
        raise ValueError(f"reference index r must be an int in [0, {frames - 1}] for a clip of {frames} frames, "
                         f"got {r!r}")
    return _rebuild(reference, diffs, r)
