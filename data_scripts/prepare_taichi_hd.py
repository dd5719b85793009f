"""Tai-Chi-HD -> vgan_lesson clip files of long segments (REncGAN3).

Layout: what the first-order-model loading script (``data/taichi-loading``) writes:
``taichi/train/<video id>.mp4`` and ``taichi/test/<video id>.mp4``, 256x256, or with
``--format .png`` a folder of png frames per video. Video ids look like
``<youtube id>#<start>#<end>``; the YouTube id is the ``subject`` factor.

Split: the dataset's own train/test folders. No labels.
Segments: long videos are stored as long segments, 128 consecutive frames by default
(``--frames``, ``--stride 1``), one per video (``--clips-per-video 0``: every non-overlapping one),
so that REncGAN3 can cut them into 16-frame clips overlapping by 8 (``vgan_lesson.data.cut_clips``).
Videos shorter than a segment are skipped. Memory: 1.5 MB per 128-frame segment at 64x64, 6 MB at
128x128; ``--limit`` for a quick try.

    python data_scripts/prepare_taichi_hd.py --src path/to/taichi --out data/real
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vgan_lesson.data import real

SPLITS = ("train", "test")


def find(root: Path, args: argparse.Namespace) -> list[real.Sample]:
    """Every video file or png-frame folder directly inside a ``train`` or ``test`` folder."""
    folders = [p for p in (root, *root.rglob("*")) if p.is_dir() and p.name.lower() in SPLITS]
    samples = []
    for folder in sorted(folders, key=real.natural_key):
        for item in sorted(folder.iterdir(), key=real.natural_key):
            if real.is_video_file(item) or (item.is_dir() and real.frame_files(item)):
                video_id = item.stem if item.is_file() else item.name
                samples.append(real.Sample(item, "", video_id.split("#")[0]))
    return samples


def split(samples: list[real.Sample], args: argparse.Namespace, roots: list[Path]) -> dict[str, list[real.Sample]]:
    """The dataset's own split: the name of the folder holding each video."""
    return real.split_by_rule(samples, lambda s: s.path.parent.name.lower())


RECIPE = real.Recipe(
    name="taichi_hd",
    title="Tai-Chi-HD (Siarohin et al., First Order Motion Model, NeurIPS 2019)",
    url="https://github.com/AliaksandrSiarohin/first-order-model (data/taichi-loading: load_videos.py "
        "downloads the YouTube videos and crops them)",
    licence="no request: you download the YouTube videos yourself with the script above; respect "
            "YouTube's terms and the videos' licences (research use)",
    layout="<folder>/train/<id>.mp4 and <folder>/test/<id>.mp4, or <id>/ folders of png frames",
    class_names=(),
    find=find,
    split=split,
    defaults=real.Preprocessing(frames=128, stride=1, clips_per_video=1),
)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see ``--help``)."""
    return real.main(RECIPE, argv)


if __name__ == "__main__":
    sys.exit(main())
