"""Weizmann human actions (classification database) -> vgan_lesson clip files (EncGAN3).

Layout: ``<person>_<action>.avi`` (``daria_bend.avi``, ``lena_run1.avi``, ``lena_run2.avi``),
in per-action folders or zips, 180x144 colour AVI at 25 fps; 10 actions, 9 persons. Lena performs
some actions twice (``run1``/``run2``): the trailing number becomes the ``take`` factor, except in
``wave1`` (one-hand wave) and ``wave2`` (two-hand wave), which are actions of their own.

Split: leave persons out, a seeded 80/20 split by person (2 of the 9 persons in ``test``).
Clips: 16 frames at stride 2; the dataset is tiny (93 videos), so 4 clips per video by default.

    python data_scripts/prepare_weizmann.py --src path/to/weizmann --out data/real
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from vgan_lesson.data import real

ACTIONS = ("bend", "jack", "jump", "pjump", "run", "side", "skip", "walk", "wave1", "wave2")
FILE = re.compile(r"([a-z]+)_([a-z]+\d?)\.avi", re.IGNORECASE)


def parse_action(word: str) -> tuple[str, int] | None:
    """``("wave1", 0)`` for ``wave1``, ``("run", 1)`` for ``run1``, None for an unknown action."""
    word = word.lower()
    if word in ACTIONS:
        return word, 0
    action, take = word.rstrip("0123456789"), word[len(word.rstrip("0123456789")):]
    return (action, int(take)) if action in ACTIONS else None


def find(root: Path, args: argparse.Namespace) -> list[real.Sample]:
    """Every ``<person>_<action>.avi`` of a known action under ``root``."""
    samples = []
    for path, m in real.match_files(root, FILE):
        parsed = parse_action(m.group(2))
        if parsed is not None:
            samples.append(real.Sample(path, parsed[0], m.group(1).lower(), {"take": parsed[1]}))
    return samples


RECIPE = real.Recipe(
    name="weizmann",
    title="Weizmann human actions, classification database (Gorelick et al., PAMI 2007)",
    url="https://www.wisdom.weizmann.ac.il/~vision/SpaceTimeActions.html (the ten action zips of the "
        "classification database)",
    licence="none: free for research; cite the paper",
    layout="<folder>/<action>/daria_bend.avi, lena_run1.avi, ... or the per-action zips themselves",
    class_names=ACTIONS,
    find=find,
    split=real.subject_split,
    defaults=real.Preprocessing(frames=16, stride=2, clips_per_video=4),
    add_arguments=real.add_subject_split_arguments,
)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see ``--help``)."""
    return real.main(RECIPE, argv)


if __name__ == "__main__":
    sys.exit(main())
