"""Difference maps and their inverse (EncGAN3 Sec. 3.1; REncGAN3 Eq. 3).

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


def reconstruct_from_differences(first_frame: Tensor, diffs: Tensor) -> Tensor:
    """Invert :func:`difference_maps`: ``x_j = x_0 + sum_{i<=j} v_i`` (a cumulative sum over time).

    ``first_frame`` is ``(C, H, W)`` / ``(N, C, H, W)``; ``diffs`` is ``(C, T-1, H, W)`` /
    ``(N, C, T-1, H, W)``. Returns the video with ``T`` frames.
    """
    first_frame = check_tensor("first_frame", first_frame, (3, 4), "(C, H, W) or (N, C, H, W)")
    diffs = check_tensor("diffs", diffs, (4, 5), "(C, T-1, H, W) or (N, C, T-1, H, W)")
    if diffs.ndim != first_frame.ndim + 1 or diffs.shape[:-3] != first_frame.shape[:-2] \
            or diffs.shape[-2:] != first_frame.shape[-2:]:
        raise ValueError(f"first_frame {tuple(first_frame.shape)} and diffs {tuple(diffs.shape)} do not match: "
                         "expected first_frame (N, C, H, W) with diffs (N, C, T-1, H, W)")
    start = first_frame.unsqueeze(-3)
    return torch.cat([start, start + torch.cumsum(diffs, dim=-3)], dim=-3)
