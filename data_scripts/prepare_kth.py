"""KTH human actions -> vgan_lesson clip files (EncGAN3, REncGAN3).

Layout: ``<action>/person01_walking_d1_uncomp.avi`` (or the six per-action zips ``walking.zip``,
...), 160x120 grayscale AVI at 25 fps; 6 actions, 25 persons, scenarios d1-d4 (outdoors, outdoors
with scale variation, different clothes, indoors). Grayscale frames become three equal channels.

Split: KTH's standard person split. Training (persons 11-18) and validation (19-21, 23-25, 1, 4)
both go to ``train``; the test persons 2, 3, 5-10 and 22 to ``test``.
Clips: 16 frames at stride 2 (G3AN / MoCoGAN). The ``scenario`` factor is 1-4.

    python data_scripts/prepare_kth.py --src path/to/kth --out data/real
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from vgan_lesson.data import real

ACTIONS = ("walking", "jogging", "running", "boxing", "handwaving", "handclapping")
TEST_PERSONS = frozenset({2, 3, 5, 6, 7, 8, 9, 10, 22})
FILE = re.compile(r"person(\d+)_([a-z]+)_d(\d)_uncomp\.avi", re.IGNORECASE)


def find(root: Path, args: argparse.Namespace) -> list[real.Sample]:
    """Every ``personNN_<action>_dN_uncomp.avi`` of a known action under ``root``."""
    return [real.Sample(path, m.group(2).lower(), str(int(m.group(1))), {"scenario": int(m.group(3))})
            for path, m in real.match_files(root, FILE) if m.group(2).lower() in ACTIONS]


def split(samples: list[real.Sample], args: argparse.Namespace, roots: list[Path]) -> dict[str, list[real.Sample]]:
    """The standard KTH person split (train + validation persons -> train)."""
    return real.split_by_rule(samples, lambda s: "test" if int(s.subject) in TEST_PERSONS else "train")


RECIPE = real.Recipe(
    name="kth",
    title="KTH human actions (Schuldt, Laptev & Caputo, ICPR 2004)",
    url="https://www.csc.kth.se/cvap/actions/ (walking.zip, jogging.zip, running.zip, boxing.zip, "
        "handwaving.zip, handclapping.zip)",
    licence="none: free for non-commercial research; cite the paper",
    layout="<folder>/<action>/person01_walking_d1_uncomp.avi, or the six per-action zips themselves",
    class_names=ACTIONS,
    find=find,
    split=split,
    defaults=real.Preprocessing(frames=16, stride=2),
)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see ``--help``)."""
    return real.main(RECIPE, argv)


if __name__ == "__main__":
    sys.exit(main())
