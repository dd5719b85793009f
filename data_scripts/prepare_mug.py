"""MUG facial expressions -> vgan_lesson clip files (FEV-GAN, VICE-GAN).

Layout: ``subjects3/<subject>/<expression>/<take>/img_0000.jpg`` (subject a 3-digit number),
896x896 colour frames at 19 fps; the six basic expressions plus ``neutral``, which is skipped.
Each take goes neutral -> apex -> neutral.

Preprocessing (FEV-GAN Sec. 4.1-4.2): the first half of each take (neutral -> apex), normalised to
32 frames, 64x64. VICE-GAN instead uses 16 frames and drops takes under 64 frames:
``--mode stride --frames 16 --min-frames 64``.
Split: subject-independent, a seeded 80/20 split by subject; ``--seen-classes 2`` gives
VICE-GAN's *seen* condition.

    python data_scripts/prepare_mug.py --src path/to/subjects3 --out data/real
"""
from __future__ import annotations

import argparse
import re
import sys
from functools import partial
from pathlib import Path

from vgan_lesson.data import real

SUBJECT = re.compile(r"\d{3}")


def find(root: Path, args: argparse.Namespace) -> list[real.Sample]:
    """Every take folder ``<subject>/<expression>/<take>`` of a basic expression under ``root``."""
    return real.labelled_frame_folders(root, real.FACE_EXPRESSIONS, SUBJECT)


RECIPE = real.Recipe(
    name="mug",
    title="MUG Facial Expression Database (Aifanti, Papachristou & Delopoulos, WIAMIS 2010)",
    url="https://mug.ee.auth.gr/fed/",
    licence="sign the MUG licence agreement and request access; 52 subjects are available to "
            "authorised users (research use only)",
    layout="<folder>/subjects3/001/anger/take000/img_0000.jpg (expressions anger, disgust, fear, "
           "happiness, sadness, surprise; neutral is skipped), or the archive itself",
    class_names=real.FACE_EXPRESSIONS,
    find=find,
    split=real.subject_split,
    defaults=real.Preprocessing(frames=32, mode="resample", first_half=True),
    add_arguments=partial(real.add_subject_split_arguments, seen=True),
)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see ``--help``)."""
    return real.main(RECIPE, argv)


if __name__ == "__main__":
    sys.exit(main())
