"""Real datasets: from the videos a user downloaded to clip files (DESIGN §3).

The papers' datasets cannot be downloaded by the package (several need a licence request), so the
scripts in ``data_scripts/`` turn the archive or folder a user has into the same on-disk clip
format as the procedural data (:mod:`vgan_lesson.data.clipfile`). This module is everything those
scripts share; each script only describes its dataset (a :class:`Recipe`: where to get it, the
layout parser, the class names and the split rule).

The pipeline for one source video
---------------------------------
1. **Read** a video file with PyAV, or a folder of image frames (jpg/jpeg/png, sorted naturally:
   ``img_2`` before ``img_10``). Each frame becomes 8-bit RGB; grayscale sources (KTH) become three
   equal channels, so every clip file has ``C = 3``.
2. **Crop and resize** every frame as it is decoded: the centred square (or a given box
   ``(left, top, right, bottom)`` in source pixels) resized to ``size x size`` (64 or 128) with
   PIL's bicubic filter, which antialiases when it shrinks.
3. **Cut in time** (:meth:`Preprocessing.cut`):

   - ``first_half``: keep the first half of the sequence. MUG videos go neutral -> apex ->
     neutral; FEV-GAN keeps the first half (neutral -> apex). Oulu-CASIA already ends at the apex.
   - ``mode="stride"``: clips of ``frames`` frames taking every ``stride``-th frame (G3AN and
     MoCoGAN: 16 frames at stride 2), ``clips_per_video`` of them spread evenly over the video
     (``0``: every non-overlapping clip). With ``stride=1`` and ``frames=128`` this stores the long
     segments that REncGAN3 cuts into overlapping 16-frame clips (:func:`~vgan_lesson.data.cut_clips`).
   - ``mode="resample"``: the whole sequence resampled uniformly to ``frames`` frames (FEV-GAN
     normalises MUG and Oulu-CASIA to 32 frames). The nearest source frame is taken, so short
     sequences repeat frames and nothing is blended; FEV-GAN's Karcher-mean normalisation is not
     reproduced.

:func:`convert` runs this over the samples of every split. A corrupt, unreadable or too-short
video is skipped with a one-line message on stderr and counted; at the end a summary says how
many clips were written and what was skipped. Each split becomes one clip file
``<out>/<dataset>_<split>_<size>px.pt`` with the class names, the factors ``subject``,
``video_index`` (into ``meta["video_files"]``), ``start`` (first source frame of the clip) and any
dataset-specific ones, and ``meta`` recording the source and the preprocessing.

Papers' facts used here (``../shared/papers``): FEV-GAN (MUG, Oulu-CASIA: subject-independent
80/20 split, first half of MUG, 32 frames, 64x64); VICE-GAN (MUG, 80/20 split, *seen* condition:
test subjects also in training for two emotions, optional minimum of 64 source frames); EncGAN3
(UvA-NEMO, Weizmann, KTH at 64x64 and 128x128, 16 frames); REncGAN3 (Tai-Chi-HD long videos,
clips of 16 frames overlapping by 8; UCF101). Face cropping with OpenFace (FEV-GAN) is not done:
pass a crop box if the faces are not centred.
"""
from __future__ import annotations

import argparse
import contextlib
import random
import re
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence, TextIO

import av
import numpy as np
import torch
from PIL import Image

from ..checks import check_choice, check_int
from .clipfile import save_clips

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v")
ARCHIVE_EXTENSIONS = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
SIZES = (64, 128)
MODES = ("stride", "resample")
# The six basic expressions in the package's class order (the procedural ``faces`` dataset uses it too).
FACE_EXPRESSIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")

Box = tuple[int, int, int, int]


class SourceError(Exception):
    """The ``--src`` the user gave cannot be used (missing, wrong archive, no dataset files in it)."""


class VideoError(Exception):
    """One source video cannot be used; :func:`convert` skips it. ``kind`` groups the summary."""

    def __init__(self, message: str, kind: str = "unreadable"):
        super().__init__(message)
        self.kind = kind


# ---------------------------------------------------------------- reading frames
def natural_key(name: str | Path) -> tuple:
    """Sort key that orders embedded numbers by value: ``img_2`` before ``img_10``."""
    parts = re.split(r"(\d+)", str(name).lower())
    return tuple(int(p) if p.isdigit() else p for p in parts)


def is_image_file(path: Path) -> bool:
    """True for a jpg/jpeg/png file (case-insensitive)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def is_video_file(path: Path) -> bool:
    """True for a file with a video extension PyAV is asked to read."""
    return path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file()


def frame_files(folder: Path) -> list[Path]:
    """The image frames of a frame folder, in natural order."""
    return sorted((p for p in Path(folder).iterdir() if is_image_file(p)), key=lambda p: natural_key(p.name))


def centre_square(width: int, height: int) -> Box:
    """The largest centred square ``(left, top, right, bottom)`` of a ``width x height`` frame."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def resize_frame(image: Image.Image, size: int, box: Box | None = None) -> np.ndarray:
    """Crop ``box`` (default: the centred square) from an image and resize it to ``size x size``.

    Returns ``(size, size, 3)`` uint8 RGB. PIL's bicubic filter widens its support when shrinking,
    so downscaling is antialiased (no aliasing of fine texture or thin edges).
    """
    width, height = image.size
    if box is None:
        box = centre_square(width, height)
    left, top, right, bottom = box
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise VideoError(f"crop box {box} does not fit in a {width}x{height} frame", "bad crop")
    if image.mode != "RGB":
        image = image.convert("RGB")
    small = image.resize((size, size), Image.Resampling.BICUBIC, box=box)
    return np.asarray(small, dtype=np.uint8)


_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError)


def _video_file_images(path: Path, max_frames: int | None) -> Iterator[Image.Image]:
    """Decode the first video stream of a file with PyAV, frame by frame, as RGB PIL images."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError("no video stream in the file")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for count, frame in enumerate(container.decode(stream), start=1):
                yield frame.to_image()
                if max_frames is not None and count >= max_frames:
                    return
    except _AV_ERRORS as err:
        reason = getattr(err, "strerror", None) or str(err)  # without FFmpeg's copy of the (temporary) path
        raise VideoError(f"cannot decode the video ({type(err).__name__}: {reason})") from err


def _frame_folder_images(folder: Path, max_frames: int | None) -> Iterator[Image.Image]:
    """Open the image frames of a folder in natural order."""
    files = frame_files(folder)[:max_frames]
    if not files:
        raise VideoError("no jpg/jpeg/png frames in the folder", "empty")
    for file in files:
        try:
            with Image.open(file) as image:
                image.load()
                yield image
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise VideoError(f"cannot read frame {file.name} ({type(err).__name__}: {err})") from err


def read_frames(path: str | Path, size: int, box: Box | None = None, max_frames: int | None = None) -> np.ndarray:
    """Read a video file or a folder of frames, cropped and resized: ``(T, size, size, 3)`` uint8.

    ``max_frames`` stops decoding early (only the first clip is needed). Raises :class:`VideoError`
    for an unreadable file, a video without frames or a crop box that does not fit.
    """
    path = Path(path)
    if path.is_dir():
        images = _frame_folder_images(path, max_frames)
    elif path.is_file():
        images = _video_file_images(path, max_frames)
    else:
        raise VideoError("no such file or folder", "missing")
    frames = [resize_frame(image, size, box) for image in images]
    if not frames:
        raise VideoError("no frames decoded", "empty")
    return np.stack(frames)


# ---------------------------------------------------------------- cutting in time
def first_half_length(length: int) -> int:
    """Frames kept by the MUG "first half" cut (neutral -> apex): ``ceil(length / 2)``."""
    return (length + 1) // 2


def resample_indices(length: int, frames: int) -> np.ndarray:
    """Indices of ``frames`` frames spread uniformly over ``length`` (nearest frame, repeats if short)."""
    check_int("length", length, minimum=1)
    check_int("frames", frames, minimum=1)
    return np.rint(np.linspace(0, length - 1, frames)).astype(np.int64)


def spread_starts(length: int, span: int, count: int) -> list[int]:
    """Start frames of clips covering ``span`` source frames in a video of ``length`` frames.

    ``count >= 1``: that many starts spread evenly from the first to the last possible one (fewer
    when the video is too short for distinct starts); ``count == 0``: every non-overlapping clip.
    """
    last = length - span
    if last < 0:
        return []
    if count == 0:
        return list(range(0, last + 1, span))
    return list(dict.fromkeys(int(s) for s in np.rint(np.linspace(0, last, count))))


@dataclass(frozen=True)
class Preprocessing:
    """How every source video becomes clips (see the module docstring).

    size: output frame side (64 or 128). frames: frames per clip. stride: source frames between
    clip frames (``mode="stride"``). mode: ``"stride"`` or ``"resample"``. clips_per_video: clips
    per video in stride mode, spread evenly; 0 = every non-overlapping clip. first_half: keep only
    the first half of each sequence (MUG). crop: ``(left, top, right, bottom)`` in source pixels,
    or None for the centred square. min_frames: skip sources with fewer frames (0 = only what a
    clip needs; VICE-GAN drops MUG videos under 64 frames).
    """

    size: int = 64
    frames: int = 16
    stride: int = 2
    mode: str = "stride"
    clips_per_video: int = 1
    first_half: bool = False
    crop: Box | None = None
    min_frames: int = 0

    def __post_init__(self):
        check_choice("size", self.size, SIZES)
        check_int("frames", self.frames, minimum=2)
        check_int("stride", self.stride, minimum=1)
        check_choice("mode", self.mode, MODES)
        check_int("clips_per_video", self.clips_per_video, minimum=0)
        check_int("min_frames", self.min_frames, minimum=0)
        if self.crop is not None:
            left, top, right, bottom = (check_int("crop box value", int(v), minimum=0) for v in self.crop)
            if right <= left or bottom <= top:
                raise ValueError(f"crop box must be (left, top, right, bottom) with right > left and "
                                 f"bottom > top, got {self.crop}")

    @property
    def span(self) -> int:
        """Source frames one stride-mode clip covers: ``(frames - 1) * stride + 1``."""
        return (self.frames - 1) * self.stride + 1

    @property
    def max_source_frames(self) -> int | None:
        """Frames worth decoding: only the first clip's when one clip is taken from the start."""
        if self.mode == "stride" and self.clips_per_video == 1 and not self.first_half:
            return max(self.span, self.min_frames)
        return None

    def describe(self) -> str:
        """A one-line account of the preprocessing, stored in each clip file's meta."""
        crop = "centred square crop" if self.crop is None else f"crop box {tuple(self.crop)}"
        steps = [f"{crop} resized to {self.size}x{self.size} (PIL bicubic, antialiased), RGB "
                 "(grayscale repeated to 3 channels)"]
        if self.min_frames:
            steps.append(f"sources under {self.min_frames} frames skipped")
        if self.first_half:
            steps.append("first half of each sequence kept (neutral -> apex)")
        if self.mode == "resample":
            steps.append(f"whole sequence resampled uniformly to {self.frames} frames (nearest frame)")
        else:
            count = "every non-overlapping clip" if self.clips_per_video == 0 else \
                f"{self.clips_per_video} clip(s) per video spread evenly"
            steps.append(f"clips of {self.frames} frames at stride {self.stride}, {count}")
        return "; ".join(steps)

    def cut(self, frames: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Cut resized frames ``(L, S, S, 3)`` into clips: a list of ``(start, (T, S, S, 3))``.

        Raises :class:`VideoError` (kind ``"too short"``) when the sequence cannot give one clip.
        """
        length = len(frames)
        if length < max(self.min_frames, 1):
            raise VideoError(f"has {length} frames, fewer than the minimum of {self.min_frames}", "too short")
        if self.first_half:
            length = first_half_length(length)
            frames = frames[:length]
        if self.mode == "resample":
            if length < 2:
                raise VideoError(f"has {length} frame(s); resampling needs at least 2", "too short")
            return [(0, frames[resample_indices(length, self.frames)])]
        starts = spread_starts(length, self.span, self.clips_per_video)
        if not starts:
            kept = " in its first half" if self.first_half else ""
            raise VideoError(f"has {length} frames{kept}; a clip of {self.frames} frames at stride "
                             f"{self.stride} needs {self.span}", "too short")
        return [(s, frames[s:s + self.span:self.stride]) for s in starts]

    def process(self, path: str | Path) -> list[tuple[int, np.ndarray]]:
        """Read one source video (file or frame folder) and cut it: :meth:`cut` of :func:`read_frames`."""
        return self.cut(read_frames(path, self.size, self.crop, self.max_source_frames))


# ---------------------------------------------------------------- samples and splits
@dataclass(frozen=True)
class Sample:
    """One source video: ``path`` (file or frame folder), ``label`` (class name, ``""`` when the
    dataset has none), ``subject`` (person / identity / group id as a string), ``extra`` (further
    integer factors, e.g. KTH's scenario) and ``name`` (its path inside the source, for the record)."""

    path: Path
    label: str
    subject: str
    extra: dict[str, int] = field(default_factory=dict)
    name: str = ""


def evenly_spaced(items: Sequence, limit: int | None) -> list:
    """At most ``limit`` items spread evenly over ``items`` (all of them when ``limit`` is None)."""
    items = list(items)
    if limit is None or limit >= len(items):
        return items
    if limit <= 0:
        return []
    return [items[i] for i in dict.fromkeys(np.rint(np.linspace(0, len(items) - 1, limit)).astype(int).tolist())]


def split_by_subject(samples: Sequence[Sample], test_fraction: float = 0.2, seed: int = 0,
                     seen_classes: int = 0) -> dict[str, list[Sample]]:
    """Subject-independent train/test split: a seeded ``test_fraction`` of the subjects goes to test.

    At least one subject is in each split when there are two or more. ``seen_classes > 0`` gives
    VICE-GAN's *seen* condition: for each test subject, the videos of ``seen_classes`` of its classes
    (chosen with the same seed) move to training, and the test set keeps the other classes.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    check_int("seen_classes", seen_classes, minimum=0)
    subjects = sorted({s.subject for s in samples}, key=natural_key)
    rng = random.Random(seed)
    order = subjects[:]
    rng.shuffle(order)
    n_test = min(max(round(len(subjects) * test_fraction), 1), len(subjects) - 1) if len(subjects) > 1 else 0
    test_subjects = set(order[:n_test])
    seen: set[tuple[str, str]] = set()
    for subject in sorted(test_subjects, key=natural_key):
        labels = sorted({s.label for s in samples if s.subject == subject})
        seen.update((subject, label) for label in rng.sample(labels, min(seen_classes, len(labels))))
    splits: dict[str, list[Sample]] = {"train": [], "test": []}
    for s in samples:
        in_test = s.subject in test_subjects and (s.subject, s.label) not in seen
        splits["test" if in_test else "train"].append(s)
    return splits


def split_by_rule(samples: Sequence[Sample], rule: Callable[[Sample], str]) -> dict[str, list[Sample]]:
    """Split by a function of the sample (an official protocol); keys appear in first-seen order."""
    splits: dict[str, list[Sample]] = {}
    for s in samples:
        splits.setdefault(rule(s), []).append(s)
    return splits


# ---------------------------------------------------------------- finding files and archives
def match_files(root: Path, pattern: re.Pattern) -> list[tuple[Path, re.Match]]:
    """Files under ``root`` (recursively) whose name fully matches ``pattern``, in natural order."""
    found = []
    for path in Path(root).rglob("*"):
        match = pattern.fullmatch(path.name)
        if match and path.is_file():
            found.append((path, match))
    return sorted(found, key=lambda pm: natural_key(pm[0]))


def frame_folders(root: Path) -> list[Path]:
    """Folders under ``root`` (itself included) that directly hold image frames, in natural order."""
    root = Path(root)
    folders = {p.parent for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()}
    return sorted(folders, key=natural_key)


def labelled_frame_folders(root: Path, class_names: Sequence[str], subject: re.Pattern,
                           skip: Callable[[Path], bool] | None = None) -> list[Sample]:
    """Frame folders laid out as ``.../<subject>/<class>/[<take>/]frames`` (MUG, Oulu-CASIA).

    The class is the nearest path part equal to a class name (case-insensitive), the subject the
    nearest part above it that fully matches ``subject`` (its first group, or the whole part, is
    the id). A take folder below the class part gives the ``take`` factor (its number).
    """
    lookup = {c.lower(): c for c in class_names}
    samples = []
    for folder in frame_folders(root):
        if skip is not None and skip(folder):
            continue
        parts = folder.absolute().parts  # as the user sees them (symlinks kept)
        where = next((i for i in range(len(parts) - 1, -1, -1) if parts[i].lower() in lookup), None)
        if where is None:
            continue
        who = next((subject.fullmatch(p) for p in reversed(parts[:where]) if subject.fullmatch(p)), None)
        if who is None:
            continue
        extra = {}
        if where < len(parts) - 1:
            digits = re.findall(r"\d+", parts[-1])
            extra["take"] = int(digits[-1]) if digits else 0
        samples.append(Sample(folder, lookup[parts[where].lower()], who.group(1) if who.groups() else who.group(0),
                              extra))
    return samples


def is_archive(path: Path) -> bool:
    """True for a zip or tar archive file name."""
    name = path.name.lower()
    return path.is_file() and any(name.endswith(ext) for ext in ARCHIVE_EXTENSIONS)


def extract_archive(archive: Path, dest: Path) -> Path:
    """Extract a zip or tar archive into ``dest`` safely (no absolute paths, ``..`` or links out)."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.infolist():
                    target = (root / member.filename).resolve()
                    if target != root and root not in target.parents:
                        raise SourceError(f"{archive} holds an unsafe path {member.filename!r}; not extracting it")
                zf.extractall(root)
        else:
            with tarfile.open(archive) as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(root, filter="data")
                else:  # Python without extraction filters: refuse anything that could escape
                    for member in tf.getmembers():
                        target = (root / member.name).resolve()
                        if member.issym() or member.islnk() or (target != root and root not in target.parents):
                            raise SourceError(f"{archive} holds an unsafe entry {member.name!r}; not extracting it")
                    tf.extractall(root)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise SourceError(f"cannot extract {archive}: {type(err).__name__}: {err}") from err
    return dest


@contextlib.contextmanager
def gather_samples(sources: Sequence[Path], find: Callable[[Path], list[Sample]]
                   ) -> Iterator[tuple[list[Path], list[Sample]]]:
    """Find the samples in the user's sources; yields ``(roots, samples)``.

    Each source is an extracted folder or an archive (zip/tar). Archives are extracted to a
    temporary folder that lives until the ``with`` block ends. A folder in which ``find`` sees no
    dataset files is searched for archives (e.g. KTH's six per-action zips in one folder), which
    are extracted and searched in turn. ``roots`` are the folders searched (for extra files such as
    official split lists); each sample's ``name`` is its path relative to its root.
    """
    with tempfile.TemporaryDirectory(prefix="vgan_lesson_data_") as tmp:
        roots: list[Path] = []
        samples: list[Sample] = []

        def search(root: Path, label: str) -> list[Sample]:
            roots.append(root)
            found = find(root)
            samples.extend(replace(s, name=f"{label}/{s.path.relative_to(root).as_posix()}".strip("/"))
                           for s in found)
            return found

        for k, src in enumerate(map(Path, sources)):
            if src.is_dir():
                if search(src, ""):
                    continue
                archives = sorted((p for p in src.rglob("*") if is_archive(p)), key=natural_key)
            elif is_archive(src):
                archives = [src]
            else:
                raise SourceError(f"{src} is neither a folder nor a zip/tar archive "
                                  "(extract .rar or .7z archives first, e.g. with unrar or 7z)")
            for j, archive in enumerate(archives):
                search(extract_archive(archive, Path(tmp) / f"{k}_{j}"), archive.name)
        yield roots, sorted(samples, key=lambda s: natural_key(s.name))


# ---------------------------------------------------------------- conversion
@dataclass
class ConversionReport:
    """What :func:`convert` did: clips per split, files written, videos read and skipped."""

    clips: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    videos: int = 0
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (name, kind, message)

    @property
    def total_clips(self) -> int:
        """Clips written over all splits."""
        return sum(self.clips.values())

    def summary(self) -> str:
        """The closing summary: clips written per file, skipped files with their reasons."""
        lines = [f"wrote {self.total_clips} clips from {self.videos - len(self.skipped)} videos"]
        lines += [f"  {split}: {self.clips[split]} clips -> {path}" for split, path in self.files.items()]
        if self.skipped:
            kinds: dict[str, int] = {}
            for _, kind, _ in self.skipped:
                kinds[kind] = kinds.get(kind, 0) + 1
            reasons = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
            lines.append(f"skipped {len(self.skipped)} of {self.videos} files ({reasons}):")
            lines += [f"  {name}: {message}" for name, _, message in self.skipped[:20]]
            if len(self.skipped) > 20:
                lines.append(f"  ... and {len(self.skipped) - 20} more (see the messages above)")
        else:
            lines.append(f"skipped 0 of {self.videos} files")
        return "\n".join(lines)


def subject_ids(samples: Sequence[Sample]) -> tuple[dict[str, int], list[str]]:
    """Integer ids for the subjects: their numbers when all are numeric, else indices in natural order.

    Returns the mapping and, for non-numeric subjects, the list of names (id ``i`` is ``names[i]``).
    """
    names = sorted({s.subject for s in samples}, key=natural_key)
    if all(n.isdigit() for n in names):
        return {n: int(n) for n in names}, []
    return {n: i for i, n in enumerate(names)}, names


def _log(message: str, stream: TextIO | None) -> None:
    print(message, file=sys.stderr if stream is None else stream, flush=True)


def convert(splits: dict[str, Sequence[Sample]], out: str | Path, dataset: str, class_names: Sequence[str],
            prep: Preprocessing, source: str = "", limit: int | None = None, meta: dict | None = None,
            log: TextIO | None = None) -> ConversionReport:
    """Process every sample of every split and write one clip file per non-empty split.

    ``limit`` keeps at most that many videos per split, spread evenly (a quick try). Unusable
    videos are skipped with a one-line message on ``log`` (stderr by default). Returns a
    :class:`ConversionReport`; its :meth:`~ConversionReport.summary` is the closing summary.
    """
    class_index = {name: i for i, name in enumerate(class_names)}
    every = [s for group in splits.values() for s in group]
    ids, subject_names = subject_ids(every)
    extra_keys = sorted({k for s in every for k in s.extra})
    report = ConversionReport()
    for split, group in splits.items():
        group = evenly_spaced(group, limit)
        clips, labels, factors, files = [], [], {k: [] for k in ("subject", "video_index", "start", *extra_keys)}, []
        skipped_before = len(report.skipped)
        for i, sample in enumerate(group, start=1):
            report.videos += 1
            name = sample.name or str(sample.path)
            try:
                if sample.label and sample.label not in class_index:
                    raise VideoError(f"class {sample.label!r} is not one of the dataset's classes", "unknown class")
                cut = prep.process(sample.path)
            except VideoError as err:
                report.skipped.append((name, err.kind, str(err)))
                _log(f"skipped {name}: {err}", log)
                continue
            for start, clip in cut:
                clips.append(torch.from_numpy(clip).permute(3, 0, 1, 2))
                labels.append(class_index.get(sample.label, -1))
                factors["subject"].append(ids[sample.subject])
                factors["video_index"].append(len(files))
                factors["start"].append(start)
                for key in extra_keys:
                    factors[key].append(sample.extra.get(key, -1))
            files.append(name)
            if i % 200 == 0:
                _log(f"{dataset} {split}: {i}/{len(group)} videos", log)
        if not clips:
            _log(f"note: no clips for split {split!r}; no file written", log)
            continue
        path = Path(out) / f"{dataset}_{split}_{prep.size}px.pt"
        info = {"dataset": dataset, "split": split, "source": source, "size": prep.size, "frames": prep.frames,
                "stride": prep.stride if prep.mode == "stride" else 0, "mode": prep.mode,
                "clips_per_video": prep.clips_per_video, "first_half": int(prep.first_half),
                "preprocessing": prep.describe(), "video_files": files,
                "skipped": len(report.skipped) - skipped_before,
                **({"subject_names": subject_names} if subject_names else {}), **(meta or {})}
        videos = torch.stack(clips)
        del clips
        save_clips(path, videos, torch.tensor(labels, dtype=torch.int64), class_names,
                   {k: torch.tensor(v, dtype=torch.int64) for k, v in factors.items()}, info)
        report.clips[split], report.files[split] = len(videos), path
    return report


# ---------------------------------------------------------------- the scripts' command line
@dataclass(frozen=True)
class Recipe:
    """One real dataset, as a ``data_scripts/prepare_<name>.py`` script describes it.

    name: short name used in file names. title, url, licence, layout: what the user is told when
    ``--src`` is missing or wrong (where to get the data, the licence step, the expected layout).
    class_names: the classes in label order, or a function ``(samples, roots) -> names`` for
    datasets whose class list comes with the download (UCF101's classInd.txt). find: the layout
    parser ``(root, args) -> samples``. split: ``(samples, args, roots) -> {split: samples}``.
    defaults: the papers' preprocessing (the command-line defaults). add_arguments: extra options.
    """

    name: str
    title: str
    url: str
    licence: str
    layout: str
    class_names: tuple[str, ...] | Callable[[list[Sample], list[Path]], tuple[str, ...]]
    find: Callable[[Path, argparse.Namespace], list[Sample]]
    split: Callable[[list[Sample], argparse.Namespace, list[Path]], dict[str, list[Sample]]]
    defaults: Preprocessing = Preprocessing()
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None

    def help_text(self) -> str:
        """Where to get the data, the licence step, the expected layout and the command."""
        return (f"{self.title}\n  where to get it: {self.url}\n  licence step:    {self.licence}\n"
                f"  expected layout: {self.layout}\n"
                f"  command:         python data_scripts/prepare_{self.name}.py --src <folder or archive> "
                f"--out data/real")


def add_subject_split_arguments(parser: argparse.ArgumentParser, seen: bool = False) -> None:
    """``--test-fraction`` (and, for faces, ``--seen-classes``) for :func:`subject_split`."""
    parser.add_argument("--test-fraction", type=float, default=0.2,
                        help="fraction of the subjects held out for the test split (default 0.2)")
    if seen:
        parser.add_argument("--seen-classes", type=int, default=0,
                            help="VICE-GAN's 'seen' condition: keep this many classes of each test "
                                 "subject in training (default 0: unseen subjects)")


def subject_split(samples: list[Sample], args: argparse.Namespace, roots: list[Path]) -> dict[str, list[Sample]]:
    """A :attr:`Recipe.split` for subject-independent 80/20 splits (``--test-fraction``, ``--seed``)."""
    return split_by_subject(samples, args.test_fraction, args.seed, getattr(args, "seen_classes", 0))


def _crop_box(text: str) -> Box:
    values = [v.strip() for v in text.split(",")]
    if len(values) != 4 or not all(v.isdigit() for v in values):
        raise argparse.ArgumentTypeError(f"expected LEFT,TOP,RIGHT,BOTTOM in pixels, got {text!r}")
    return tuple(int(v) for v in values)  # type: ignore[return-value]


def build_parser(recipe: Recipe) -> argparse.ArgumentParser:
    """The command line shared by every ``prepare_<name>.py`` script, with the recipe's defaults."""
    d = recipe.defaults
    parser = argparse.ArgumentParser(
        prog=f"prepare_{recipe.name}.py",
        description=f"Convert {recipe.title} into vgan_lesson clip files (one per split).",
        epilog=recipe.help_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, nargs="+",
                        help="the extracted folder, or the archive file(s) you downloaded (zip/tar)")
    parser.add_argument("--out", type=Path, default=Path("data/real"), help="output folder (default data/real)")
    parser.add_argument("--size", type=int, choices=SIZES, default=d.size, help=f"frame side (default {d.size})")
    parser.add_argument("--frames", type=int, default=d.frames, help=f"frames per clip (default {d.frames})")
    parser.add_argument("--stride", type=int, default=d.stride,
                        help=f"source frames between clip frames in stride mode (default {d.stride})")
    parser.add_argument("--mode", choices=MODES, default=d.mode,
                        help=f"'stride': clips at a stride; 'resample': whole sequence to --frames (default {d.mode})")
    parser.add_argument("--clips-per-video", type=int, default=d.clips_per_video,
                        help=f"stride mode: clips per video, 0 = all non-overlapping (default {d.clips_per_video})")
    parser.add_argument("--first-half", action=argparse.BooleanOptionalAction, default=d.first_half,
                        help="keep only the first half of each sequence (neutral -> apex)")
    parser.add_argument("--min-frames", type=int, default=d.min_frames,
                        help="skip source videos with fewer frames (default: only what one clip needs)")
    parser.add_argument("--crop", type=_crop_box, default=d.crop, metavar="LEFT,TOP,RIGHT,BOTTOM",
                        help="crop box in source pixels (default: the centred square)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subject split (default 0)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many videos per split (a quick try)")
    if recipe.add_arguments is not None:
        recipe.add_arguments(parser)
    return parser


def main(recipe: Recipe, argv: Sequence[str] | None = None) -> int:
    """Run a dataset script: parse arguments, find, split, convert, print the summary.

    Exit codes: 0 clips written; 1 no clip could be written; 2 bad arguments, or a ``--src`` that
    is missing, unreadable or holds no dataset files (with where to get the data, never a traceback).
    """
    parser = build_parser(recipe)
    args = parser.parse_args(argv)
    problem = ("--src is missing" if not args.src else
               next((f"--src {p} does not exist" for p in args.src if not p.exists()), None))
    if problem:
        print(f"error: {problem}.\n\n{recipe.help_text()}", file=sys.stderr)
        return 2
    try:
        prep = Preprocessing(size=args.size, frames=args.frames, stride=args.stride, mode=args.mode,
                             clips_per_video=args.clips_per_video, first_half=args.first_half,
                             crop=args.crop, min_frames=args.min_frames)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    try:
        with gather_samples(args.src, lambda root: recipe.find(root, args)) as (roots, samples):
            if not samples:
                raise SourceError(f"no {recipe.title} files found in {', '.join(map(str, args.src))}")
            classes = recipe.class_names if isinstance(recipe.class_names, tuple) else \
                recipe.class_names(samples, roots)
            try:
                splits = recipe.split(samples, args, roots)
            except ValueError as err:
                parser.error(str(err))
            print(f"{recipe.name}: {len(samples)} videos found; "
                  + ", ".join(f"{k} {len(v)}" for k, v in splits.items()) + f"; {prep.describe()}", flush=True)
            report = convert(splits, args.out, recipe.name, classes, prep,
                             source=" ".join(map(str, args.src)), limit=args.limit)
    except SourceError as err:
        print(f"error: {err}\n\n{recipe.help_text()}", file=sys.stderr)
        return 2
    print(report.summary(), flush=True)
    return 0 if report.total_clips else 1
