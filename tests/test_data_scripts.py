"""The real-dataset scripts, end to end on tiny videos made here in each dataset's real layout.

Every source video is 48x40 (centre crop: columns 4..43, scale 64/40 = 1.6), a bright 8x8 square
on black moving one pixel right per frame, written with PyAV (AVI/mpeg4, MP4/h264) or as jpg/png
frames, packed into zips where the real dataset ships zips. Each script runs as a subprocess
(``python data_scripts/prepare_x.py ...``); the clip files are read back with ``load_clips``.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from vgan_lesson.data.clipfile import ClipDataset, ClipFile, load_clips
from vgan_lesson.data.clips import cut_clips
from vgan_lesson.data import real

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "data_scripts"
NAMES = ("kth", "weizmann", "uva_nemo", "mug", "oulu_casia", "taichi_hd", "ucf101")
W, H, SQUARE, X0, Y0 = 48, 40, 8, 5, 16
CROP_LEFT, SCALE = (W - H) // 2, 64 / H


# ---------------------------------------------------------------- making source videos
def square_frames(n: int, colour=(255, 255, 255)) -> np.ndarray:
    """``(n, H, W, 3)`` uint8: an 8x8 square at x = X0 + t moving right on black."""
    frames = np.zeros((n, H, W, 3), np.uint8)
    for t in range(n):
        frames[t, Y0:Y0 + SQUARE, X0 + t:X0 + t + SQUARE] = colour
    return frames


def grey_frames(levels) -> np.ndarray:
    """Uniform grey frames, one per level."""
    return np.repeat(np.asarray(levels, np.uint8)[:, None, None, None], H * W * 3).reshape(-1, H, W, 3)


def write_video(path: Path, frames: np.ndarray) -> Path:
    """Write frames as AVI (mpeg4) or MP4 (h264) by the file suffix, near-losslessly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264" if path.suffix == ".mp4" else "mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if path.suffix == ".mp4":
            stream.options = {"crf": "4"}
        else:
            stream.bit_rate = 4_000_000
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_images(folder: Path, frames: np.ndarray, pattern: str) -> Path:
    """Write frames as an image sequence (``pattern.format(i)``: its suffix picks jpg or png)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / pattern.format(i), quality=98)
    return folder


def write_corrupt(path: Path) -> Path:
    """Random bytes under a video's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    return path


def zip_files(archive: Path, files: list[Path], base: Path) -> Path:
    """Zip ``files`` under their paths relative to ``base``."""
    with zipfile.ZipFile(archive, "w") as zf:
        for f in files:
            for member in ([f] if f.is_file() else sorted(f.rglob("*"))):
                zf.write(member, member.relative_to(base).as_posix())
    return archive


# ---------------------------------------------------------------- running scripts and reading results
def run_script(name: str, *args) -> subprocess.CompletedProcess:
    """``python data_scripts/prepare_<name>.py args`` in a subprocess, two torch threads."""
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, str(SCRIPTS / f"prepare_{name}.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def converted(name: str, out: Path, *args) -> tuple[subprocess.CompletedProcess, dict[str, ClipFile]]:
    """Run a script successfully into ``out``; return the run and its clip files by split."""
    done = run_script(name, "--out", out, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done, {p.name.split("_")[-2]: load_clips(p) for p in sorted(out.glob(f"{name}_*_64px.pt"))}


def bright_centroid_x(frame: torch.Tensor) -> float:
    """Mean column of the bright pixels of a float frame ``(3, H, W)`` in [-1, 1]."""
    cols = torch.nonzero(frame.mean(0) > 0)[:, 1]
    assert len(cols), "no bright pixels"
    return float(cols.float().mean())


def expected_x(source_left: float) -> float:
    """Output centroid column of the square whose left edge is at ``source_left`` in the source."""
    return (source_left + SQUARE / 2 - CROP_LEFT) * SCALE - 0.5


def assert_square_path(video: torch.Tensor, source_lefts) -> None:
    """The square in each frame of ``(3, T, 64, 64)`` sits where its source position says."""
    for t, left in enumerate(source_lefts):
        assert abs(bright_centroid_x(video[:, t]) - expected_x(left)) < 1.0, f"frame {t}"


def subjects(clips: ClipFile) -> set[int]:
    return set(clips.factors["subject"].tolist())


def assert_clip_files(files: dict[str, ClipFile], class_names, frames: int) -> None:
    """Both splits, (N, 3, T, 64, 64) uint8, the class names, subject-disjoint splits."""
    assert set(files) == {"train", "test"}
    for clips in files.values():
        assert clips.videos.dtype == torch.uint8 and clips.videos.shape[1:] == (3, frames, 64, 64)
        assert tuple(clips.class_names) == tuple(class_names)
        assert clips.meta["frames"] == frames and clips.meta["size"] == 64
    assert not subjects(files["train"]) & subjects(files["test"])


# ---------------------------------------------------------------- the seven datasets
def test_kth_zips_standard_split_grey_to_rgb_and_corrupt_file(tmp_path):
    src = tmp_path / "downloads"
    videos = []
    for person in (1, 2, 11, 22):
        for action in ("walking", "boxing"):
            videos.append(write_video(tmp_path / "raw" / f"person{person:02d}_{action}_d{person % 4 + 1}_uncomp.avi",
                                      square_frames(32)))
    short = write_video(tmp_path / "raw" / "person11_running_d2_uncomp.avi", square_frames(20))
    corrupt = write_corrupt(tmp_path / "raw" / "person05_handclapping_d1_uncomp.avi")
    src.mkdir()
    for action in ("walking", "boxing", "running", "handclapping"):  # KTH ships one zip per action
        zip_files(src / f"{action}.zip", [v for v in [*videos, short, corrupt] if f"_{action}_" in v.name],
                  tmp_path / "raw")

    done, files = converted("kth", tmp_path / "out", "--src", src)
    assert_clip_files(files, ("walking", "jogging", "running", "boxing", "handwaving", "handclapping"), 16)
    assert subjects(files["train"]) == {1, 11} and subjects(files["test"]) == {2, 22}
    train = ClipDataset(files["train"])
    assert len(train) == 4 and sorted(train.clips.labels.tolist()) == [0, 0, 3, 3]
    item = train[0]
    assert item["video"].shape == (3, 16, 64, 64) and float(item["video"].min()) >= -1.0
    assert torch.allclose(item["video"][0], item["video"][1], atol=3 / 127.5)  # grey -> 3 equal channels
    assert_square_path(item["video"], [X0 + 2 * t for t in range(16)])  # stride 2
    for clips in files.values():
        names = [clips.meta["video_files"][i] for i in clips.factors["video_index"].tolist()]
        assert [int(n.split("person")[1][:2]) for n in names] == clips.factors["subject"].tolist()
        assert [int(n.split("_d")[1][0]) for n in names] == clips.factors["scenario"].tolist()
    # the corrupt and the too-short video are skipped, named and counted; the rest is written
    assert f"skipped handclapping.zip/{corrupt.name}: cannot decode" in done.stderr
    assert f"skipped running.zip/{short.name}: has 20 frames" in done.stderr
    assert "wrote 8 clips from 8 videos" in done.stdout
    assert "skipped 2 of 10 files (1 too short, 1 unreadable)" in done.stdout
    assert files["test"].meta["skipped"] == 1 and files["train"].meta["skipped"] == 1


def test_weizmann_archives_actions_takes_and_person_split(tmp_path):
    raw = tmp_path / "raw"
    persons = ("daria", "denis", "eli", "ido", "lena")
    red = square_frames(40, colour=(255, 0, 0))
    for person in persons:
        for action in ("bend", "wave1"):
            write_video(raw / action / f"{person}_{action}.avi", red)
    for take in (1, 2):
        write_video(raw / "run" / f"lena_run{take}.avi", red)
    archives = [zip_files(tmp_path / f"{a}.zip", [raw / a], raw) for a in ("bend", "wave1", "run")]

    _, files = converted("weizmann", tmp_path / "out", "--src", *archives)
    actions = ("bend", "jack", "jump", "pjump", "run", "side", "skip", "walk", "wave1", "wave2")
    assert_clip_files(files, actions, 16)
    names = files["train"].meta["subject_names"]
    assert names == list(persons) and len(subjects(files["test"])) == 1
    both = {k: torch.cat([f.factors[k] for f in files.values()]) for k in ("take", "start")}
    labels = torch.cat([f.labels for f in files.values()])
    assert len(labels) == 12 * 4  # 4 clips per video by default, spread over 40 frames
    assert sorted(set(both["start"].tolist())) == [0, 3, 6, 9]
    assert sorted(both["take"][labels == actions.index("run")].unique().tolist()) == [1, 2]
    assert set(labels.tolist()) == {0, 4, 8}  # bend, run, wave1 (not "wave" + take 1)
    video = ClipDataset(files["train"])[0]["video"]
    square = video[:, 0, 28:36, 3:12]  # red stays red: R high, G and B low
    assert float(square[0].mean()) > 0.8 and float(square[1:].mean()) < -0.8


def test_uva_nemo_mp4_resampled_to_16_frames(tmp_path):
    for subject in range(1, 5):
        for kind in ("deliberate", "spontaneous"):
            write_video(tmp_path / "UvA-NEMO" / "videos" / f"{subject:03d}_{kind}_smile_1.mp4", square_frames(24))

    _, files = converted("uva_nemo", tmp_path / "out", "--src", tmp_path / "UvA-NEMO", "--seed", "3")
    assert_clip_files(files, ("deliberate", "spontaneous"), 16)
    assert len(subjects(files["test"])) == 1 and len(files["train"]) == 6
    assert sorted(files["test"].labels.tolist()) == [0, 1]
    lefts = real.resample_indices(24, 16) + X0  # the whole video, first to last frame
    assert lefts[0] == X0 and lefts[-1] == X0 + 23
    assert_square_path(ClipDataset(files["test"])[0]["video"], lefts)


def test_mug_first_half_neutral_to_apex_and_neutral_skipped(tmp_path):
    rise_fall = [20 + 20 * min(i, 19 - i) for i in range(20)]  # neutral -> apex (frames 9, 10) -> neutral
    base = tmp_path / "MUG" / "subjects3"
    for subject in (1, 2, 4, 5, 7):
        for expression in ("anger", "happiness", "neutral"):
            write_images(base / f"{subject:03d}" / expression / "take000", grey_frames(rise_fall), "img_{:04d}.jpg")

    _, files = converted("mug", tmp_path / "out", "--src", tmp_path / "MUG")
    assert_clip_files(files, real.FACE_EXPRESSIONS, 32)
    assert len(files["train"]) == 8 and len(files["test"]) == 2  # 4 + 1 subjects, neutral skipped
    assert set(files["train"].labels.tolist()) == {0, 3}
    assert files["train"].factors["take"].tolist() == [0] * 8
    levels = files["train"].videos[0].float().mean(dim=(0, 2, 3))  # mean grey level per frame
    assert torch.all(levels[1:] >= levels[:-1] - 1)  # only the rising half is kept
    assert abs(float(levels[0]) - 20) < 3 and abs(float(levels[-1]) - 200) < 3


def test_oulu_casia_zip_visible_strong_only(tmp_path):
    base = tmp_path / "raw"
    for subject in range(1, 6):
        for expression in ("Anger", "Surprise"):
            for light, illumination in (("VL", "Strong"), ("NI", "Strong"), ("VL", "Dark")):
                write_images(base / "OriginalImg" / light / illumination / f"P{subject:03d}" / expression,
                             square_frames(9), "{:03d}.jpeg")
    archive = zip_files(tmp_path / "OriginalImg.zip", [base / "OriginalImg"], base)

    _, files = converted("oulu_casia", tmp_path / "out", "--src", archive)
    assert_clip_files(files, real.FACE_EXPRESSIONS, 32)
    assert len(files["train"]) + len(files["test"]) == 10  # only VL/Strong
    assert set(files["test"].labels.tolist()) == {0, 5}
    assert all("/VL/Strong/" in name for name in files["train"].meta["video_files"])
    assert_square_path(ClipDataset(files["train"])[0]["video"], real.resample_indices(9, 32) + X0)


def test_taichi_long_segments_from_mp4_and_png_folders(tmp_path):
    base = tmp_path / "taichi"
    write_video(base / "train" / "aaa#000010#000200.mp4", square_frames(30))
    write_video(base / "train" / "bbb#000020#000300.mp4", square_frames(30))
    write_images(base / "test" / "ccc#000000#000100", square_frames(26), "{:07d}.png")
    write_video(base / "test" / "ddd#000000#000010.mp4", square_frames(10))  # shorter than a segment

    done, files = converted("taichi_hd", tmp_path / "out", "--src", base, "--frames", "24")
    assert set(files) == {"train", "test"} and "ddd#000000#000010.mp4: has 10 frames" in done.stderr
    assert files["train"].videos.shape == (2, 3, 24, 64, 64) and files["test"].videos.shape == (1, 3, 24, 64, 64)
    assert files["train"].labels.tolist() == [-1, -1] and files["train"].class_names == []
    assert files["train"].meta["stride"] == 1 and files["train"].meta["subject_names"] == ["aaa", "bbb", "ccc", "ddd"]
    test = ClipDataset(files["test"])[0]["video"]
    assert_square_path(test, [X0 + t for t in range(24)])  # consecutive frames
    assert cut_clips(test, 16).shape == (2, 3, 16, 64, 64)  # REncGAN3's overlapping clips


def test_ucf101_official_split_from_the_split_zip(tmp_path):
    ucf = tmp_path / "UCF-101"
    for group in (1, 2, 8, 9):
        write_video(ucf / "ApplyEyeMakeup" / f"v_ApplyEyeMakeup_g{group:02d}_c01.avi", square_frames(32))
        write_video(ucf / "HandstandPushups" / f"v_HandStandPushups_g{group:02d}_c02.avi", square_frames(32))
    lists = tmp_path / "lists" / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Archery\n3 HandstandPushups\n")
    (lists / "testlist01.txt").write_text("".join(
        f"{c}/v_{f}_g{g:02d}_c0{k}.avi\n" for g in (1, 2)
        for c, f, k in (("ApplyEyeMakeup", "ApplyEyeMakeup", 1), ("HandstandPushups", "HandStandPushups", 2))))
    splits = zip_files(tmp_path / "UCF101TrainTestSplits-RecognitionTask.zip", [lists], lists.parent)

    _, files = converted("ucf101", tmp_path / "out", "--src", ucf, splits)
    assert_clip_files(files, ("ApplyEyeMakeup", "Archery", "HandstandPushups"), 16)
    assert subjects(files["test"]) == {1, 2} and subjects(files["train"]) == {8, 9}
    assert sorted(files["test"].labels.tolist()) == [0, 0, 2, 2]
    assert sorted(set(files["train"].factors["clip"].tolist())) == [1, 2]


def test_missing_src_tells_where_to_get_the_data():
    done = run_script("mug")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--src is missing" in done.stderr and "https://mug.ee.auth.gr/fed/" in done.stderr
    assert "licence" in done.stderr


# ---------------------------------------------------------------- error paths in-process (all scripts)
def load_script(name: str):
    """Import ``data_scripts/prepare_<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"prepare_{name}", SCRIPTS / f"prepare_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_every_script_explains_a_bad_src(name, tmp_path, capsys):
    script = load_script(name)
    rar = tmp_path / "UCF101.rar"
    rar.write_bytes(b"Rar!")
    empty = tmp_path / "empty"
    empty.mkdir()
    for src, needle in ((None, "--src is missing"), (tmp_path / "nowhere", "does not exist"),
                        (rar, "extract .rar"), (empty, "files found in")):
        argv = ["--out", str(tmp_path / "out")] + ([] if src is None else ["--src", str(src)])
        assert script.main(argv) == 2
        err = capsys.readouterr().err
        assert needle in err and script.RECIPE.url in err and "licence step" in err
    assert not (tmp_path / "out").exists()


def test_unsafe_zip_is_refused(tmp_path, capsys):
    archive = tmp_path / "walking.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape/person01_walking_d1_uncomp.avi", b"x")
    assert load_script("kth").main(["--src", str(archive), "--out", str(tmp_path / "out")]) == 2
    assert "unsafe path" in capsys.readouterr().err and not (tmp_path / "escape").exists()


def test_tar_archives_extract_and_unsafe_members_are_refused(tmp_path):
    import io
    import tarfile

    def tar_with(name: str, member: str) -> Path:
        path = tmp_path / name
        with tarfile.open(path, "w:gz") as tf:
            info = tarfile.TarInfo(member)
            info.size = 3
            tf.addfile(info, io.BytesIO(b"abc"))
        return path

    out = real.extract_archive(tar_with("good.tar.gz", "videos/001_deliberate_smile_1.mp4"), tmp_path / "x")
    assert (out / "videos" / "001_deliberate_smile_1.mp4").read_bytes() == b"abc"
    with pytest.raises(real.SourceError, match="cannot extract"):
        real.extract_archive(tar_with("bad.tar.gz", "../outside.mp4"), tmp_path / "y")
    assert not (tmp_path / "outside.mp4").exists()


def test_ucf101_without_split_lists_splits_by_group(tmp_path, capsys):
    for group in range(1, 6):
        write_video(tmp_path / "UCF-101" / "Archery" / f"v_Archery_g{group:02d}_c01.avi", square_frames(16))
    argv = ["--src", str(tmp_path / "UCF-101"), "--out", str(tmp_path / "out"), "--frames", "8"]
    assert load_script("ucf101").main(argv) == 0
    assert "testlist01.txt not found" in capsys.readouterr().err
    train, test = (load_clips(tmp_path / "out" / f"ucf101_{s}_64px.pt") for s in ("train", "test"))
    assert len(test) == 1 and len(train) == 4 and train.class_names == ["Archery"]


# ---------------------------------------------------------------- the shared pipeline
def test_cut_stride_resample_first_half():
    frames = np.arange(40).reshape(40, 1, 1, 1) * np.ones((1, 2, 2, 3), np.int64)
    prep = real.Preprocessing(frames=4, stride=3, clips_per_video=3)
    cut = prep.cut(frames)
    assert [s for s, _ in cut] == [0, 15, 30] and cut[1][1][:, 0, 0, 0].tolist() == [15, 18, 21, 24]
    assert [s for s, _ in real.Preprocessing(frames=4, stride=3, clips_per_video=0).cut(frames)] == [0, 10, 20, 30]
    half = real.Preprocessing(frames=6, mode="resample", first_half=True).cut(frames[:21])
    assert half[0][1][:, 0, 0, 0].tolist() == [0, 2, 4, 6, 8, 10]  # first 11 of 21 frames
    with pytest.raises(real.VideoError, match="needs 10"):
        prep.cut(frames[:9])
    with pytest.raises(real.VideoError, match="minimum of 64"):
        real.Preprocessing(mode="resample", min_frames=64).cut(frames)
    assert prep.max_source_frames is None and real.Preprocessing(frames=4, stride=3).max_source_frames == 10


def test_split_by_subject_is_seeded_disjoint_and_seen_keeps_two_classes():
    samples = [real.Sample(Path(f"{s}_{c}"), c, str(s)) for s in range(10) for c in real.FACE_EXPRESSIONS]
    a, b = real.split_by_subject(samples, seed=1), real.split_by_subject(samples, seed=1)
    assert a == b and len(a["test"]) == 2 * 6
    assert not {s.subject for s in a["train"]} & {s.subject for s in a["test"]}
    seen = real.split_by_subject(samples, seed=1, seen_classes=2)
    test_subjects = {s.subject for s in a["test"]}
    assert len(seen["test"]) == 2 * 4 and {s.subject for s in seen["test"]} == test_subjects
    for subject in test_subjects:
        in_train = {s.label for s in seen["train"] if s.subject == subject}
        assert len(in_train) == 2 and not in_train & {s.label for s in seen["test"] if s.subject == subject}


def test_frame_folders_sort_naturally_and_crop_box(tmp_path):
    frames = square_frames(12)
    write_images(tmp_path / "seq", frames, "img_{}.png")  # img_2 must come before img_10
    video = real.read_frames(tmp_path / "seq", 64)
    centroids = [bright_centroid_x(torch.from_numpy(f).permute(2, 0, 1).float() / 127.5 - 1) for f in video]
    assert centroids == sorted(centroids) and abs(centroids[0] - expected_x(X0)) < 1.0
    boxed = real.read_frames(tmp_path / "seq", 64, box=(X0 + 2, Y0 + 2, X0 + 6, Y0 + 6), max_frames=1)
    assert boxed.shape == (1, 64, 64, 3) and boxed.min() > 200  # the box lies inside the square
    assert real.read_frames(tmp_path / "seq", 128, max_frames=2).shape == (2, 128, 128, 3)
    with pytest.raises(real.VideoError, match="does not fit"):
        real.read_frames(tmp_path / "seq", 64, box=(0, 0, 100, 10))
