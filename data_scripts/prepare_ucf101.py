"""UCF101 -> vgan_lesson clip files (REncGAN3).

Layout: ``UCF-101/<Class>/v_<Class>_g01_c01.avi``: 13,320 clips of 101 actions, 320x240 at 25 fps,
in 25 groups (``g01``-``g25``: clips of one group share actors and background), plus the split
lists ``ucfTrainTestlist/classInd.txt``, ``trainlist01.txt``, ``testlist01.txt`` (in
``UCF101TrainTestSplits-RecognitionTask.zip``). ``UCF101.rar`` must be extracted first (unrar or
7z); the split zip can be given as a second ``--src`` or left in the ``--src`` folder.

Split: the official train/test list ``--split 1`` (2, 3) when the lists are found, else a seeded
80/20 split by group. The label comes from the class folder (``HandstandPushups`` holds
``v_HandStandPushups_...`` files). The ``subject`` factor is the group, ``clip`` the clip number.
Clips: 16 frames at stride 2.

    python data_scripts/prepare_ucf101.py --src UCF-101 UCF101TrainTestSplits-RecognitionTask.zip --out data/real
"""
from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

from vgan_lesson.data import real

FILE = re.compile(r"v_([A-Za-z]+)_g(\d+)_c(\d+)\.avi", re.IGNORECASE)


def find(root: Path, args: argparse.Namespace) -> list[real.Sample]:
    """Every ``v_<Class>_gNN_cNN.avi`` under ``root``, labelled with its class folder's name."""
    samples = []
    for path, m in real.match_files(root, FILE):
        label = path.parent.name if path.parent.name.lower() == m.group(1).lower() else m.group(1)
        samples.append(real.Sample(path, label, str(int(m.group(2))), {"clip": int(m.group(3))}))
    return samples


def split_lists(roots: list[Path]) -> dict[str, str]:
    """The text of the split lists found in the roots, or in zips there: ``{file name: text}``."""
    wanted = {"classind.txt", "trainlist01.txt", "trainlist02.txt", "trainlist03.txt",
              "testlist01.txt", "testlist02.txt", "testlist03.txt"}
    texts: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*"), key=real.natural_key):
            name = path.name.lower()
            if name in wanted and path.is_file():
                texts.setdefault(name, path.read_text(errors="replace"))
            elif name.endswith(".zip") and path.is_file() and zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as zf:
                    for member in zf.namelist():
                        if Path(member).name.lower() in wanted:
                            texts.setdefault(Path(member).name.lower(), zf.read(member).decode(errors="replace"))
    return texts


def class_names(samples: list[real.Sample], roots: list[Path]) -> tuple[str, ...]:
    """The classes of ``classInd.txt`` (``1 ApplyEyeMakeup`` ...), else the class folders A-Z."""
    index = split_lists(roots).get("classind.txt", "")
    pairs = [line.split() for line in index.splitlines() if len(line.split()) == 2]
    if pairs:
        return tuple(name for _, name in sorted(pairs, key=lambda p: int(p[0])))
    return tuple(sorted({s.label for s in samples}, key=str.lower))


def split(samples: list[real.Sample], args: argparse.Namespace, roots: list[Path]) -> dict[str, list[real.Sample]]:
    """The official train/test list ``--split N`` if found, else 80/20 by group."""
    lists = split_lists(roots)
    test_list = lists.get(f"testlist0{args.split}.txt")
    if test_list is None:
        print(f"note: testlist0{args.split}.txt not found; using a seeded {1 - args.test_fraction:.0%}/"
              f"{args.test_fraction:.0%} split by group instead", file=sys.stderr)
        return real.subject_split(samples, args, roots)
    test = {Path(line.split()[0]).name.lower() for line in test_list.splitlines() if line.strip()}
    return real.split_by_rule(samples, lambda s: "test" if s.path.name.lower() in test else "train")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The official split number and the fallback group split."""
    parser.add_argument("--split", type=int, choices=(1, 2, 3), default=1,
                        help="official train/test split (default 1)")
    real.add_subject_split_arguments(parser)


RECIPE = real.Recipe(
    name="ucf101",
    title="UCF101 action recognition dataset (Soomro, Zamir & Shah, 2012)",
    url="https://www.crcv.ucf.edu/data/UCF101.php (UCF101.rar and "
        "UCF101TrainTestSplits-RecognitionTask.zip)",
    licence="none: free for research; cite the paper. Extract UCF101.rar first (unrar x UCF101.rar "
            "or 7z x UCF101.rar): .rar archives cannot be read here",
    layout="<folder>/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi, ... and "
           "ucfTrainTestlist/classInd.txt, trainlist01.txt, testlist01.txt (or the split zip)",
    class_names=class_names,
    find=find,
    split=split,
    defaults=real.Preprocessing(frames=16, stride=2),
    add_arguments=add_arguments,
)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see ``--help``)."""
    return real.main(RECIPE, argv)


if __name__ == "__main__":
    sys.exit(main())
