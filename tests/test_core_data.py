"""Dataset machinery, shapes, difference maps, clip cutting, the clip-file format and the cache."""
import math

import pytest
import torch

from vgan_lesson import get_device
from vgan_lesson.checks import check_tensor, check_video
from vgan_lesson.data import (ClipDataset, ShapesDataset, clip_starts, cut_clips, difference_maps, load_clips,
                              make_dataset, reconstruct_from_differences, save_clips)
from vgan_lesson.data.clipfile import from_uint8, to_uint8
from vgan_lesson.data.shapes import ACTIONS, trajectory


# ---------------------------------------------------------------- difference maps
def test_difference_maps_values_and_inverse(moving_square):
    d = difference_maps(moving_square)
    assert d.shape == (3, 7, 16, 16)
    # the square moved one pixel right: +2 at the new leading column, -2 at the old trailing column
    assert torch.all(d[:, 0, 4:8, 6] == 2.0) and torch.all(d[:, 0, 4:8, 2] == -2.0)
    assert int((d[:, 0] != 0).sum()) == 3 * 2 * 4
    back = reconstruct_from_differences(moving_square[:, 0], d)
    assert torch.equal(back, moving_square)


def test_difference_maps_batched_roundtrip():
    x = torch.rand(2, 3, 16, 8, 8) * 2 - 1
    rec = reconstruct_from_differences(x[:, :, 0], difference_maps(x))
    assert rec.shape == x.shape and torch.allclose(rec, x, atol=1e-5)


@pytest.mark.parametrize("bad, err", [
    (torch.zeros(3, 16, 16), ValueError),          # no time axis
    (torch.zeros(3, 1, 8, 8), ValueError),          # one frame: no difference
    (torch.zeros(3, 4, 8, 8, dtype=torch.uint8), TypeError),
    ([[0.0]], TypeError),
])
def test_difference_maps_bad_input(bad, err):
    with pytest.raises(err):
        difference_maps(bad)


def test_reconstruct_mismatch():
    with pytest.raises(ValueError, match="do not match"):
        reconstruct_from_differences(torch.zeros(3, 8, 8), torch.zeros(3, 4, 16, 16))


# ---------------------------------------------------------------- clips
def test_clip_starts_rencgan3_layout():
    assert clip_starts(40, 16, 8) == [0, 8, 16, 24]
    assert clip_starts(16, 16) == [0]
    assert clip_starts(100, 16, 0) == [0, 16, 32, 48, 64, 80]


def test_cut_clips_share_reference_frames():
    video = torch.arange(40, dtype=torch.float32).view(1, 40, 1, 1).expand(3, 40, 2, 2) / 40
    clips = cut_clips(video, 16, 8)
    assert clips.shape == (4, 3, 16, 2, 2)
    for k in range(3):  # the second half of clip k is the first half of clip k+1 (REncGAN3 Fig. 1)
        assert torch.equal(clips[k, :, 8:], clips[k + 1, :, :8])
    batched = cut_clips(video.unsqueeze(0).repeat(2, 1, 1, 1, 1), 16, 8)
    assert batched.shape == (2, 4, 3, 16, 2, 2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(length=40, clip_len=16, overlap=16), "overlap must be smaller"),
    (dict(length=10, clip_len=16, overlap=8), "shorter than one clip"),
    (dict(length=40, clip_len=1), "clip_len must be >= 2"),
])
def test_clip_starts_bad(kwargs, match):
    with pytest.raises(ValueError, match=match):
        clip_starts(**kwargs)


# ---------------------------------------------------------------- shapes
def test_shapes_items_and_factors():
    ds = make_dataset("shapes", split="train", size=32, frames=12, num_clips=20, seed=3)
    item = ds[5]
    assert item["video"].shape == (3, 12, 32, 32) and item["video"].dtype == torch.float32
    check_video(item["video"])
    assert 0 <= int(item["label"]) < len(ACTIONS) == 6
    for key in ("shape", "color", "size", "background", "speed", "phase", "position"):
        assert key in item
    assert item["position"].shape == (12, 2)
    assert len(ds.shape_names) >= 4


def test_shapes_deterministic_and_batch_independent():
    a = make_dataset("shapes", size=32, num_clips=16, seed=1)
    b = make_dataset("shapes", size=32, num_clips=16, seed=1)
    c = make_dataset("shapes", size=32, num_clips=16, seed=2)
    assert torch.equal(a.render(range(16)), b.render(range(16)))
    assert not torch.equal(a.render([0]), c.render([0]))
    assert torch.equal(a.render([7, 3])[1], a[3]["video"])   # item 3 is the same in any batch
    assert not torch.equal(a.factors["label"], make_dataset("shapes", "test", size=32, num_clips=16,
                                                            seed=1).factors["label"])


def test_shapes_content_is_drawn_where_the_factors_say():
    ds = ShapesDataset(size=64, frames=4, num_clips=1)
    f = {k: v.clone() for k, v in ds.factors.items()}
    f.update(label=torch.tensor([5]), shape=torch.tensor([0]), color=torch.tensor([0]), background=torch.tensor([0]),
             x0=torch.tensor([0.0]), y0=torch.tensor([0.0]), size=torch.tensor([0.25]), phase=torch.tensor([0.0]))
    video, extra = ds.render_factors(f)
    centre = video[0, :, 0, 32, 32]                      # red circle in the middle on black
    assert centre[0] > 0.7 and centre[1] < -0.4 and centre[2] < -0.4
    assert torch.all(video[0, :, 0, 0, 0] < -0.9)         # background corner
    # anti-aliased: edge pixels take intermediate values
    assert ((video[0, 0] > -0.8) & (video[0, 0] < 0.7)).any()
    assert torch.allclose(extra["position"][0, 0], torch.tensor([0.0, 0.0]))


def test_shapes_actions_move_as_named():
    n = len(ACTIONS)
    z = torch.zeros(n)
    x, y, r = trajectory(torch.arange(n), torch.ones(n), z, z, z, torch.full((n,), 0.2), frames=8)
    dx, dy, dr = x[:, 3] - x[:, 0], y[:, 3] - y[:, 0], (r.max(1).values - r.min(1).values)
    assert dx[0] < -0.1 and dx[1] > 0.1                      # walk left / right
    assert dy[2].abs() > 0.2 and dx[2] == 0                   # bounce is vertical
    assert (x[3].max() - x[3].min()) > 0.3 and (y[3].max() - y[3].min()) > 0.3   # circle
    assert dx[4] > 0.05 and (y[4].max() - y[4].min()) > 0.3   # zigzag
    assert dr[5] > 0.05 and dx[5] == 0 and dr[:5].abs().max() == 0   # only pulse changes size


def test_shapes_two_objects():
    ds = make_dataset("shapes", size=32, frames=8, num_clips=6, objects=2)
    b = ds.batch(range(6))
    assert b["position"].shape == (6, 8, 2, 2)
    assert {"label2", "shape2", "color2"} <= set(b)
    assert torch.all(b["color"] != b["color2"])


def test_long_videos_any_frame_count():
    v = make_dataset("shapes", size=16, frames=300, num_clips=2).render([0, 1])
    assert v.shape == (2, 3, 300, 16, 16) and v.min() >= -1 and v.max() <= 1


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(name="cubes"), ValueError, "unknown dataset name 'cubes'"),
    (dict(name="shapes", split="validation"), ValueError, "expected one of 'train', 'val', 'test'"),
    (dict(name="shapes", size=30), ValueError, "multiple of 8"),
    (dict(name="shapes", size=0), ValueError, "size must be >= 16"),
    (dict(name="shapes", size=64.0), TypeError, "size must be an int"),
    (dict(name="shapes", frames=1), ValueError, "frames must be >= 2"),
    (dict(name="shapes", num_clips=0), ValueError, "num_clips must be >= 1"),
    (dict(name="shapes", objects=3), ValueError, "objects must be <= 2"),
])
def test_bad_dataset_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        make_dataset(**kwargs)


def test_index_errors():
    ds = make_dataset("shapes", size=16, num_clips=4)
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        ds.render([4])
    with pytest.raises(TypeError):
        ds["0"]


def test_dataloader_uses_batched_access():
    ds = make_dataset("shapes", size=16, frames=4, num_clips=10)
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    batch = next(iter(loader))
    assert batch["video"].shape == (4, 3, 4, 16, 16)
    assert torch.equal(batch["video"], ds.render(range(4)))
    batches = list(ds.batches(3, shuffle=True, seed=0))
    assert len(batches) == 3 and all(b["video"].shape[0] == 3 for b in batches)
    again = list(ds.batches(3, shuffle=True, seed=0))
    assert torch.equal(batches[0]["label"], again[0]["label"])


# ---------------------------------------------------------------- clip files and the cache
def test_uint8_roundtrip_error_is_half_a_level():
    x = torch.rand(2, 3, 4, 8, 8) * 2 - 1
    assert (from_uint8(to_uint8(x)) - x).abs().max() <= 1 / 127.5 / 2 + 1e-6


def test_clip_file_roundtrip(tmp_path):
    videos = torch.rand(3, 3, 4, 8, 8) * 2 - 1
    path = save_clips(tmp_path / "c.pt", videos, labels=[0, 1, 1], class_names=["a", "b"],
                      factors={"subject": torch.tensor([4, 5, 6])}, meta={"source": "test"})
    clips = load_clips(path)
    assert clips.videos.dtype == torch.uint8 and clips.meta["source"] == "test"
    ds = ClipDataset(path)
    assert len(ds) == 3 and ds.class_names == ("a", "b")
    item = ds[2]
    assert int(item["label"]) == 1 and int(item["subject"]) == 6
    assert torch.allclose(item["video"], videos[2], atol=0.01)
    assert not list(tmp_path.glob(".*tmp"))      # atomic write leaves no temporary file


def test_clip_file_bad(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="corrupt"):
        load_clips(tmp_path / "junk.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a vgan_lesson clip file"):
        load_clips(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_clips(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="labels must have shape"):
        save_clips(tmp_path / "x.pt", torch.zeros(2, 3, 2, 4, 4), labels=[0, 1, 2])
    with pytest.raises(ValueError, match=r"values in \[-1.0, 1.0\]"):
        save_clips(tmp_path / "x.pt", torch.full((1, 3, 2, 4, 4), 3.0))


def test_cache_matches_rendering_and_is_reused(tmp_path):
    fresh = make_dataset("shapes", size=16, frames=6, num_clips=10, seed=4)
    cached = make_dataset("shapes", size=16, frames=6, num_clips=10, seed=4, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.pt"))
    assert len(files) == 1
    b = cached.batch([1, 8])
    assert (b["video"] - fresh.render([1, 8])).abs().max() <= 1 / 255 + 1e-6
    assert torch.equal(b["position"], fresh.batch([1, 8])["position"])
    mtime = files[0].stat().st_mtime_ns
    again = make_dataset("shapes", size=16, frames=6, num_clips=10, seed=4, cache_dir=tmp_path)
    assert files[0].stat().st_mtime_ns == mtime and torch.equal(again.render([3]), cached.render([3]))


def test_cache_mismatch_is_reported(tmp_path):
    ds = make_dataset("shapes", size=16, frames=6, num_clips=4, seed=0, cache_dir=tmp_path)
    path = ds.cache_path(tmp_path)
    clips = load_clips(path)
    clips.meta["frames"] = 99
    clips.save(path)
    with pytest.raises(ValueError, match="does not match this dataset"):
        make_dataset("shapes", size=16, frames=6, num_clips=4, seed=0, cache_dir=tmp_path)


# ---------------------------------------------------------------- checks and device
def test_check_video_messages():
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\)"):
        check_video(torch.zeros(3, 8, 8), batched=True)
    with pytest.raises(ValueError, match="min -3"):
        check_video(torch.full((3, 2, 4, 4), -3.0))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        check_video(torch.zeros(5, 2, 4, 4))
    with pytest.raises(ValueError, match="NaN"):
        check_video(torch.full((3, 2, 4, 4), math.nan))


def test_check_tensor_channels_are_axis_1_of_one_rank():
    assert check_tensor("x", torch.zeros(2, 3, 4), 3, "(B, C, L)", channels=3).shape == (2, 3, 4)
    with pytest.raises(ValueError, match=r"3 channels on axis 1 of \(B, C, L\), got shape \(3, 2, 4\)"):
        check_tensor("x", torch.zeros(3, 2, 4), 3, "(B, C, L)", channels=3)
    with pytest.raises(ValueError, match="one batched layout"):      # which axis is C is not guessed
        check_tensor("x", torch.zeros(3, 4), (2, 3), "(C, L) or (B, C, L)", channels=3)


def test_device_selection(monkeypatch):
    monkeypatch.delenv("VGAN_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected
    assert get_device("cpu").type == "cpu"
    monkeypatch.setenv("VGAN_DEVICE", "cpu")
    assert get_device().type == "cpu"
    with pytest.raises(ValueError, match="device name"):
        get_device("gpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            get_device("cuda")
