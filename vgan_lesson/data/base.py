"""The common machinery of the procedural datasets (DESIGN §3).

A procedural dataset is a table of ground-truth factors, drawn once from a seeded generator when
the dataset is built, plus a vectorised renderer that turns any slice of that table into videos.
Item ``i`` therefore depends only on ``(seed, split, i)`` — not on batch composition, worker count
or the order of access — and the same seed gives the same tensors.

Subclasses set ``name``, ``splits``, ``class_names``, ``default_clips`` and implement
:meth:`ProceduralVideoDataset.sample_factors` and :meth:`ProceduralVideoDataset.render_factors`.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import ClassVar, Iterator

import torch
from torch.utils.data import Dataset

from ..checks import check_choice, check_int
from .clipfile import ClipFile, from_uint8, load_clips, to_uint8

Tensor = torch.Tensor

MIN_SIZE, MAX_SIZE = 16, 256


def derive_seed(*parts) -> int:
    """A stable 63-bit seed from any printable parts (independent of Python's hash randomisation)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class ProceduralVideoDataset(Dataset):
    """Base class: seeded factor table + vectorised renderer.

    Parameters
    ----------
    split: one of ``self.splits``.
    size: frame height and width in pixels (a multiple of 8 from 16 to 256; 32/64/128 are the usual).
    frames: frames per video (>= 2, so that difference maps exist).
    num_clips: number of videos in the split (default ``default_clips[split]``).
    seed: the dataset seed; item ``i`` is a function of ``(seed, split, i)`` only.
    cache_dir: if given, all videos are rendered once and kept in one compact uint8 clip file per
        split there (``<name>_<split>_<size>px_<frames>f_<n>_seed<seed>.pt``); later datasets with the
        same arguments read it instead of rendering.

    Items are dicts: ``video`` ``(C, T, H, W)`` float in [-1, 1], ``label`` (int64 class index) and
    the ground-truth factors (see ``factor_names``).
    """

    name: ClassVar[str] = "base"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    class_names: ClassVar[tuple[str, ...]] = ()
    default_clips: ClassVar[dict[str, int]] = {"train": 10_000, "test": 2_000}
    channels: ClassVar[int] = 3
    render_version: ClassVar[int] = 1  # bump when the renderer's output changes (invalidates caches)
    render_chunk: ClassVar[int] = 64   # videos rendered per vectorised call

    def __init__(self, split: str = "train", size: int = 64, frames: int = 16, num_clips: int | None = None,
                 seed: int = 0, cache_dir: str | os.PathLike | None = None):
        check_choice(f"split for dataset {self.name!r}", split, self.splits)
        check_int("size", size, MIN_SIZE, MAX_SIZE)
        if size % 8:
            raise ValueError(f"size must be a multiple of 8 between {MIN_SIZE} and {MAX_SIZE} "
                             f"(32, 64 and 128 are the usual), got {size}")
        check_int("frames", frames, minimum=2)
        num_clips = self.default_clips[split] if num_clips is None else num_clips
        check_int("num_clips", num_clips, minimum=1)
        check_int("seed", seed)
        self.split, self.size, self.frames, self.num_clips, self.seed = split, size, frames, num_clips, seed
        generator = torch.Generator().manual_seed(derive_seed(self.name, seed, split))
        self.factors: dict[str, Tensor] = self.sample_factors(num_clips, generator)
        if "label" not in self.factors:
            raise RuntimeError(f"{type(self).__name__}.sample_factors must return a 'label' factor")
        for key, value in self.factors.items():
            if value.shape[:1] != (num_clips,):
                raise RuntimeError(f"factor {key!r} has shape {tuple(value.shape)}, expected first dim {num_clips}")
        self.labels = self.factors["label"]
        self._cache: ClipFile | None = None
        if cache_dir is not None:
            self._cache = self._load_or_build_cache(Path(cache_dir))

    # ----------------------------------------------------------------- to implement
    def sample_factors(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Draw the ground-truth factors of ``n`` videos (each a tensor with first dimension ``n``)."""
        raise NotImplementedError

    def render_factors(self, factors: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """Render a slice of the factor table into ``(N, C, T, H, W)`` in [-1, 1].

        Returns the videos and a dict of per-item extras made while rendering (e.g. per-frame poses),
        each with first dimension ``N`` (may be empty).
        """
        raise NotImplementedError

    # ----------------------------------------------------------------- access
    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(self.factors)

    def __len__(self) -> int:
        return self.num_clips

    def _index(self, indices) -> Tensor:
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        if idx.numel() and (int(idx.min()) < -self.num_clips or int(idx.max()) >= self.num_clips):
            raise IndexError(f"indices must lie in [0, {self.num_clips}) for this {self.name} {self.split} "
                             f"split, got min {int(idx.min())}, max {int(idx.max())}")
        return torch.remainder(idx, self.num_clips)

    def factors_of(self, indices) -> dict[str, Tensor]:
        idx = self._index(indices)
        return {k: v[idx] for k, v in self.factors.items()}

    def render(self, indices) -> Tensor:
        """Videos ``(N, C, T, H, W)`` in [-1, 1] for the given item indices."""
        return self.batch(indices)["video"]

    def batch(self, indices) -> dict[str, Tensor]:
        """A batch as a dict of stacked tensors: ``video`` plus every factor (and render extras)."""
        idx = self._index(indices)
        out = {k: v[idx] for k, v in self.factors.items()}
        if self._cache is not None:
            out["video"] = from_uint8(self._cache.videos[idx])
            out.update({k: v[idx] for k, v in self._cache.factors.items() if k not in out})
            return out
        videos, extras = [], {}
        for start in range(0, idx.numel(), self.render_chunk):
            part = {k: v[start:start + self.render_chunk] for k, v in out.items()}
            video, extra = self.render_factors(part)
            videos.append(video)
            for k, v in extra.items():
                extras.setdefault(k, []).append(v)
        if videos:
            out["video"] = torch.cat(videos)
        else:
            out["video"] = torch.empty(0, self.channels, self.frames, self.size, self.size)
        out.update({k: torch.cat(v) for k, v in extras.items()})
        return out

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        if not isinstance(i, (int, torch.Tensor)) or isinstance(i, bool):
            raise TypeError(f"dataset index must be an int, got {type(i).__name__}")
        return {k: v[0] for k, v in self.batch([int(i)]).items()}

    def __getitems__(self, indices) -> list[dict[str, Tensor]]:
        """Batched access used by ``torch.utils.data.DataLoader``: one vectorised render per batch."""
        b = self.batch(list(indices))
        return [{k: v[j] for k, v in b.items()} for j in range(len(indices))]

    def batches(self, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = True,
                epochs: int = 1) -> Iterator[dict[str, Tensor]]:
        """Iterate over the split in vectorised batches (faster than a DataLoader in one process).

        The order depends on ``seed`` only; ``epochs`` passes are made over the data.
        """
        check_int("batch_size", batch_size, minimum=1)
        g = torch.Generator().manual_seed(derive_seed("batches", seed))
        for _ in range(epochs):
            order = torch.randperm(self.num_clips, generator=g) if shuffle else torch.arange(self.num_clips)
            stop = self.num_clips - (self.num_clips % batch_size if drop_last else 0)
            for s in range(0, stop, batch_size):
                yield self.batch(order[s:s + batch_size])

    def describe(self) -> str:
        """One line saying what this dataset is."""
        return (f"{self.name}[{self.split}]: {self.num_clips} videos of {self.frames} frames at "
                f"{self.size}x{self.size}, classes {list(self.class_names)}, factors {list(self.factor_names)}")

    def __repr__(self) -> str:
        return f"<{self.describe()}>"

    # ----------------------------------------------------------------- cache
    def cache_path(self, cache_dir: Path) -> Path:
        return Path(cache_dir) / (f"{self.name}_{self.split}_{self.size}px_{self.frames}f_{self.num_clips}"
                                  f"_seed{self.seed}_r{self.render_version}.pt")

    def _load_or_build_cache(self, cache_dir: Path) -> ClipFile:
        path = self.cache_path(cache_dir)
        expected = {"dataset": self.name, "split": self.split, "size": self.size, "frames": self.frames,
                    "num_clips": self.num_clips, "seed": self.seed, "render_version": self.render_version}
        if path.exists():
            clips = load_clips(path)
            found = {k: clips.meta.get(k) for k in expected}
            if found != expected:
                raise ValueError(f"cache file {path} does not match this dataset: expected {expected}, found {found}")
            return clips
        videos, extras = [], {}
        for start in range(0, self.num_clips, self.render_chunk):
            part = {k: v[start:start + self.render_chunk] for k, v in self.factors.items()}
            video, extra = self.render_factors(part)
            videos.append(to_uint8(video))
            for k, v in extra.items():
                extras.setdefault(k, []).append(v)
        clips = ClipFile(torch.cat(videos), self.labels.clone(), list(self.class_names),
                         {k: torch.cat(v) for k, v in extras.items()}, expected)
        clips.save(path)
        return clips
