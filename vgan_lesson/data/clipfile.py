"""The on-disk clip format shared by the procedural cache and the real-dataset scripts.

One compact file per split (``torch.save`` of plain tensors and strings, so it loads with
``weights_only=True``):

========== ======================================================================
key        content
========== ======================================================================
format     ``"vgan_lesson.clips"``
version    ``1``
videos     ``uint8`` tensor ``(N, C, T, H, W)``; pixel ``p`` stands for ``p / 127.5 - 1``
labels     ``int64`` tensor ``(N,)``: class index per clip (``-1`` when unlabelled)
class_names list of str: the names of the label classes
factors    dict of tensors with first dimension ``N`` (identity ids, subject ids, ...)
meta       dict of str/int/float: dataset name, split, size, frames, source, ...
========== ======================================================================

Stored as uint8 the videos take a quarter of the float size; the round trip loses at most half a
grey level (1/255 of the range).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..checks import check_video
from ..io import atomic_save, safe_load

FORMAT = "vgan_lesson.clips"
VERSION = 1


def to_uint8(videos: torch.Tensor) -> torch.Tensor:
    """Quantise float videos in [-1, 1] to uint8 in [0, 255]."""
    check_video(videos, "videos")
    return ((videos.float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def from_uint8(videos: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_uint8`: uint8 in [0, 255] to float32 in [-1, 1]."""
    if videos.dtype != torch.uint8:
        raise TypeError(f"expected a uint8 tensor, got dtype {videos.dtype}")
    return videos.float().div_(127.5).sub_(1.0)


@dataclass
class ClipFile:
    """The contents of one clip file (see the module docstring)."""

    videos: torch.Tensor
    labels: torch.Tensor
    class_names: list[str] = field(default_factory=list)
    factors: dict[str, torch.Tensor] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.videos, torch.Tensor) or self.videos.dtype != torch.uint8 or self.videos.ndim != 5:
            got = (f"{self.videos.dtype} tensor of shape {tuple(self.videos.shape)}"
                   if isinstance(self.videos, torch.Tensor) else type(self.videos).__name__)
            raise ValueError(f"clip videos must be a uint8 tensor (N, C, T, H, W), got {got}")
        n = self.videos.shape[0]
        self.labels = torch.as_tensor(self.labels, dtype=torch.int64)
        if self.labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},) to match {n} videos, got {tuple(self.labels.shape)}")
        for key, value in self.factors.items():
            if not isinstance(value, torch.Tensor) or value.shape[:1] != (n,):
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"factor {key!r} must be a tensor with first dimension {n}, got {shape}")
        if self.class_names and n and int(self.labels.max()) >= len(self.class_names):
            raise ValueError(f"labels go up to {int(self.labels.max())} but only {len(self.class_names)} "
                             "class names were given")

    def __len__(self) -> int:
        return int(self.videos.shape[0])

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (temporary file + rename)."""
        return atomic_save({"format": FORMAT, "version": VERSION, "videos": self.videos.contiguous(),
                            "labels": self.labels, "class_names": list(self.class_names),
                            "factors": dict(self.factors), "meta": dict(self.meta)}, path)


def save_clips(path, videos, labels=None, class_names=(), factors=None, meta=None) -> Path:
    """Save clips (float in [-1, 1] or uint8) with labels and factors as one clip file."""
    if isinstance(videos, torch.Tensor) and videos.dtype != torch.uint8:
        videos = to_uint8(videos)
    if labels is None:
        labels = torch.full((videos.shape[0],), -1, dtype=torch.int64)
    return ClipFile(videos, labels, list(class_names), dict(factors or {}), dict(meta or {})).save(path)


def load_clips(path: str | os.PathLike) -> ClipFile:
    """Load a clip file with ``weights_only=True`` and check its format."""
    payload = safe_load(path, "clip file")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a vgan_lesson clip file (expected format {FORMAT!r})")
    if payload.get("version") != VERSION:
        raise ValueError(f"{path} has clip-file version {payload.get('version')!r}; this package reads {VERSION}")
    return ClipFile(payload["videos"], payload["labels"], list(payload.get("class_names", [])),
                    dict(payload.get("factors", {})), dict(payload.get("meta", {})))


class ClipDataset(Dataset):
    """A map-style dataset over a clip file: items are dicts with ``video`` (float, [-1, 1]),
    ``label`` and the clip's factors — the same layout as the procedural datasets."""

    def __init__(self, clips: ClipFile | str | os.PathLike):
        self.clips = clips if isinstance(clips, ClipFile) else load_clips(clips)
        self.class_names = tuple(self.clips.class_names)
        self.meta = self.clips.meta

    def __len__(self) -> int:
        return len(self.clips)

    def batch(self, indices) -> dict:
        idx = torch.as_tensor(indices, dtype=torch.long)
        out = {"video": from_uint8(self.clips.videos[idx]), "label": self.clips.labels[idx]}
        out.update({k: v[idx] for k, v in self.clips.factors.items()})
        return out

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} clips")
        item = self.batch([i])
        return {k: v[0] for k, v in item.items()}
