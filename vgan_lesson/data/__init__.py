"""Procedural video datasets with ground truth, difference maps, clip cutting and the clip-file format.

>>> from vgan_lesson.data import make_dataset
>>> ds = make_dataset("shapes", split="train", size=32, frames=16, num_clips=8)
>>> ds[0]["video"].shape
torch.Size([3, 16, 32, 32])
"""
from __future__ import annotations

from ..checks import check_choice
from .base import ProceduralVideoDataset, derive_seed
from .clipfile import ClipDataset, ClipFile, from_uint8, load_clips, save_clips, to_uint8
from .clips import clip_starts, cut_clips
from .dancer import DancerDataset
from .diffmaps import difference_maps, recall_reconstruct, reconstruct_from_differences
from .faces import FacesDataset
from .shapes import ShapesDataset

DATASETS: dict[str, type[ProceduralVideoDataset]] = {
    "shapes": ShapesDataset,
    "faces": FacesDataset,
    "dancer": DancerDataset,
}


def make_dataset(name: str, split: str = "train", **kwargs) -> ProceduralVideoDataset:
    """Build a procedural dataset by name: ``"shapes"``, ``"faces"`` or ``"dancer"``.

    Keyword arguments go to the dataset class (``size``, ``frames``, ``num_clips``, ``seed``,
    ``cache_dir`` and dataset-specific options).
    """
    check_choice("dataset name", name, DATASETS)
    return DATASETS[name](split=split, **kwargs)


__all__ = [
    "DATASETS", "make_dataset", "ProceduralVideoDataset", "derive_seed",
    "ShapesDataset", "FacesDataset", "DancerDataset",
    "difference_maps", "reconstruct_from_differences", "recall_reconstruct", "clip_starts", "cut_clips",
    "ClipFile", "ClipDataset", "save_clips", "load_clips", "to_uint8", "from_uint8",
]
