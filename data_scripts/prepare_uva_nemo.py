"""UvA-NEMO Smile -> vgan_lesson clip files (EncGAN3, REncGAN3).

Layout: ``videos/001_deliberate_smile_1.mp4``, ``001_spontaneous_smile_2.mp4``: 1240 smile videos
of 400 subjects, 1920x1080 at 50 fps, each starting and ending (near) neutral. The label is
deliberate or spontaneous, the subject the leading number, the take the trailing one.

Split: subject-independent, a seeded 80/20 split by subject.
Clips: the whole smile resampled uniformly to 16 frames (as the UvA-NEMO loaders of the G3AN family
do), centred square crop (the face is near the centre of the frame); ``--crop`` for another box.

    python data_scripts/prepare_uva_nemo.py --src path/to/UvA-NEMO_SMILE_DATABASE --out data/real
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from vgan_lesson.data import real

SMILES = ("deliberate", "spontaneous")
FILE = re.compile(r"(\d+)_(deliberate|spontaneous)_smile_(\d+)\.(?:mp4|avi|mov)", re.IGNORECASE)


def find(root: Path, args: argparse.Namespace) -> list[real.Sample]:
    """Every ``NNN_<deliberate|spontaneous>_smile_K.mp4`` under ``root``."""
    return [real.Sample(path, m.group(2).lower(), str(int(m.group(1))), {"take": int(m.group(3))})
            for path, m in real.match_files(root, FILE)]


RECIPE = real.Recipe(
    name="uva_nemo",
    title="UvA-NEMO Smile database (Dibeklioglu, Salah & Gevers, ECCV 2012)",
    url="https://www.uva-nemo.org/",
    licence="sign the database's end-user licence agreement and send it to the maintainers; they "
            "send a download link (research use only)",
    layout="<folder>/videos/001_deliberate_smile_1.mp4, 001_spontaneous_smile_2.mp4, ... "
           "(or the zip you received)",
    class_names=SMILES,
    find=find,
    split=real.subject_split,
    defaults=real.Preprocessing(frames=16, mode="resample"),
    add_arguments=real.add_subject_split_arguments,
)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see ``--help``)."""
    return real.main(RECIPE, argv)


if __name__ == "__main__":
    sys.exit(main())
