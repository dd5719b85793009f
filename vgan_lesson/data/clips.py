"""Cutting long videos into overlapping clips (REncGAN3 Sec. 3, Fig. 1).

REncGAN3 trains on clips of ``T_c`` frames (16) taken so that neighbouring clips overlap by
``T_c / 2`` frames; the shared frame ``r = T_c / 2`` of one clip is the reference frame of the
next. :func:`clip_starts` gives the start indices, :func:`cut_clips` the clips themselves.
"""
from __future__ import annotations

import torch

from ..checks import check_int, check_tensor

Tensor = torch.Tensor


def clip_starts(length: int, clip_len: int = 16, overlap: int | None = None) -> list[int]:
    """Start frames of the overlapping clips of a video of ``length`` frames.

    Consecutive clips start ``clip_len - overlap`` frames apart (``overlap`` defaults to
    ``clip_len // 2``). Only whole clips are returned; a tail shorter than a clip is dropped.
    """
    check_int("clip_len", clip_len, minimum=2)
    overlap = clip_len // 2 if overlap is None else overlap
    check_int("overlap", overlap, minimum=0)
    if overlap >= clip_len:
        raise ValueError(f"overlap must be smaller than clip_len={clip_len}, got overlap={overlap}")
    check_int("length", length, minimum=0)
    if length < clip_len:
        raise ValueError(f"a video of {length} frames is shorter than one clip of clip_len={clip_len} frames")
    step = clip_len - overlap
    return list(range(0, length - clip_len + 1, step))


def cut_clips(video: Tensor, clip_len: int = 16, overlap: int | None = None) -> Tensor:
    """Cut ``(C, T, H, W)`` (or ``(N, C, T, H, W)``) into overlapping clips.

    Returns ``(K, C, clip_len, H, W)`` for one video, ``(N, K, C, clip_len, H, W)`` for a batch,
    with ``K = len(clip_starts(T, clip_len, overlap))``. Clips are views where possible.
    """
    video = check_tensor("video", video, (4, 5), "(C, T, H, W) or (N, C, T, H, W)")
    starts = clip_starts(int(video.shape[-3]), clip_len, overlap)
    return torch.stack([video[..., s:s + clip_len, :, :] for s in starts], dim=-5)
