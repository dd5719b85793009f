"""Oulu-CASIA NIR&VIS facial expressions -> vgan_lesson clip files (FEV-GAN).

Layout: ``OriginalImg/<VL|NI>/<Strong|Weak|Dark>/P001/Anger/000.jpeg``: 80 subjects, six
expressions, 320x240 frames, 9 to 72 per sequence, each from neutral to the apex. By default the
visible-light (VL) sequences under strong illumination are used (``--light``, ``--illumination``).

Preprocessing (FEV-GAN Sec. 4.1-4.2): every sequence normalised to 32 frames, 64x64; centred
square crop (``--crop`` for the face box). No first-half cut: the sequences end at the apex.
Split: subject-independent, a seeded 80/20 split by subject (``--seen-classes`` as for MUG).

    python data_scripts/prepare_oulu_casia.py --src path/to/OriginalImg --out data/real
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from vgan_lesson.data import real

SUBJECT = re.compile(r"P(\d+)", re.IGNORECASE)


def find(root: Path, args: argparse.Namespace) -> list[real.Sample]:
    """Every ``P<subject>/<Expression>`` frame folder under the chosen light and illumination."""
    wanted = {args.light.lower(), args.illumination.lower()}

    def other_condition(folder: Path) -> bool:
        return not wanted <= {part.lower() for part in folder.absolute().parts}

    return real.labelled_frame_folders(root, real.FACE_EXPRESSIONS, SUBJECT, skip=other_condition)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Light source, illumination and the subject split options."""
    parser.add_argument("--light", choices=("VL", "NI"), default="VL",
                        help="VL = visible light (colour camera, default), NI = near infrared")
    parser.add_argument("--illumination", choices=("Strong", "Weak", "Dark"), default="Strong",
                        help="illumination condition (default Strong)")
    real.add_subject_split_arguments(parser, seen=True)


RECIPE = real.Recipe(
    name="oulu_casia",
    title="Oulu-CASIA NIR&VIS facial expression database (Zhao et al., IVC 2011)",
    url="the University of Oulu, Center for Machine Vision and Signal Analysis: 'Oulu-CASIA NIR&VIS "
        "facial expression database' (formerly https://www.oulu.fi/cmvs/node/41316)",
    licence="sign the University of Oulu licence agreement for the database and request access "
            "(research use only)",
    layout="<folder>/OriginalImg/VL/Strong/P001/Anger/000.jpeg, or the zip itself",
    class_names=real.FACE_EXPRESSIONS,
    find=find,
    split=real.subject_split,
    defaults=real.Preprocessing(frames=32, mode="resample"),
    add_arguments=add_arguments,
)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see ``--help``)."""
    return real.main(RECIPE, argv)


if __name__ == "__main__":
    sys.exit(main())
