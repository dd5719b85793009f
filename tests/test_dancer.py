"""The ``dancer`` dataset: shapes, determinism, smooth and non-repeating pose, chunked rendering, clips."""
import math

import pytest
import torch

from vgan_lesson.data import make_dataset
from vgan_lesson.data.dancer import (JOINT_NAMES, KEYPOINT_NAMES, STYLES, DancerDataset, autocorrelation,
                                     closest_repeat)

ANGLES = [j for j, name in enumerate(JOINT_NAMES) if not name.startswith("root")]


@pytest.fixture(scope="module")
def long_poses():
    """Poses and keypoints of 8 videos of 2,000 frames (not drawn)."""
    ds = DancerDataset(size=16, frames=2000, num_clips=8, seed=0)
    return ds.motion(range(8))


# ---------------------------------------------------------------- shapes and factors
@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes_dtype_range(size):
    ds = DancerDataset(size=size, frames=12, num_clips=5, seed=1)
    b = ds.batch([0, 3, 4])
    v = b["video"]
    assert v.shape == (3, 3, 12, size, size) and v.dtype == torch.float32
    assert float(v.min()) >= -1.0 and float(v.max()) <= 1.0
    assert v.std() > 0.1                                    # not a blank canvas
    assert b["pose"].shape == (3, 12, len(JOINT_NAMES))
    assert b["keypoints"].shape == (3, 12, len(KEYPOINT_NAMES), 2)
    assert b["label"].dtype == torch.int64 and int(b["label"].max()) < len(STYLES)
    assert ds[2]["video"].shape == (3, 12, size, size)


def test_factors_and_registry():
    ds = make_dataset("dancer", size=32, frames=4, num_clips=64, seed=0)
    assert isinstance(ds, DancerDataset) and ds.name == "dancer"
    assert len(ds.class_names) >= 3 and ds.joint_names == JOINT_NAMES
    assert set(ds.labels.tolist()) == set(range(len(STYLES)))
    for key in ("skin", "shirt", "trousers", "wall"):
        colors = ds.factors[key]
        assert colors.shape == (64, 3) and 0 <= float(colors.min()) <= float(colors.max()) <= 1
    assert len(set(ds.factors["motion_seed"].tolist())) == 64


def test_full_body_stays_in_frame(long_poses):
    kp = long_poses["keypoints"]
    assert float(kp.abs().max()) < 1.0
    # feet on the floor: in every frame the lower ankle is within a few pixels of the same height
    ankles_y = kp[..., [KEYPOINT_NAMES.index("l_ankle"), KEYPOINT_NAMES.index("r_ankle")], 1]
    lowest = ankles_y.max(-1).values
    assert float(lowest.max() - lowest.min()) < 0.05


# ---------------------------------------------------------------- determinism
def test_determinism_and_batch_independence():
    a = DancerDataset(size=32, frames=10, num_clips=6, seed=3)
    b = DancerDataset(size=32, frames=10, num_clips=6, seed=3)
    ba, bb = a.batch([0, 1, 2, 5]), b.batch([0, 1, 2, 5])
    assert torch.equal(ba["video"], bb["video"]) and torch.equal(ba["pose"], bb["pose"])
    alone = a.batch([5])
    assert torch.allclose(alone["video"][0], ba["video"][3], atol=1e-5)
    assert torch.allclose(alone["pose"][0], ba["pose"][3], atol=1e-6)
    other = DancerDataset(size=32, frames=10, num_clips=6, seed=4).render([0, 1])
    assert (other - ba["video"][:2]).abs().mean() > 0.01
    test = DancerDataset(split="test", size=32, frames=10, num_clips=6, seed=3).render([0])
    assert (test - ba["video"][:1]).abs().mean() > 0.01


def test_motion_matches_render_extras():
    ds = DancerDataset(size=16, frames=30, num_clips=4, seed=2)
    drawn, motion = ds.batch([3, 1]), ds.motion([3, 1])
    assert torch.allclose(drawn["pose"], motion["pose"], atol=1e-6)
    assert torch.allclose(drawn["keypoints"], motion["keypoints"], atol=1e-6)


def test_shorter_video_is_a_prefix():
    short = DancerDataset(size=16, frames=20, num_clips=3, seed=2).batch([1])
    long = DancerDataset(size=16, frames=150, num_clips=3, seed=2).batch([1])
    assert torch.allclose(short["pose"][0], long["pose"][0, :20], atol=1e-6)
    assert torch.allclose(short["video"][0], long["video"][0, :, :20], atol=1e-5)


# ---------------------------------------------------------------- motion
def test_pose_is_smooth(long_poses):
    pose = long_poses["pose"]
    step = (pose[:, 1:] - pose[:, :-1])
    extent = pose.amax(1) - pose.amin(1)                    # (N, J)
    assert float((step.abs().mean(1) / extent).max()) < 0.06       # a frame moves a few % of the range
    assert float((step.abs().amax(1) / extent)[:, ANGLES].max()) < 0.5
    # smooth velocity too: the change of the step is small against the step (white noise: ~1.4)
    accel = step[:, 1:] - step[:, :-1]
    ratio = accel[..., ANGLES].pow(2).mean(1).sqrt() / step[..., ANGLES].pow(2).mean(1).sqrt()
    assert float(ratio.max()) < 0.7


def test_pose_never_repeats(long_poses):
    for pose in long_poses["pose"]:
        closest, step = closest_repeat(pose, window=64, stride=8)
        assert closest > 3 * step and closest > 0.4, (closest, step)
        assert float(autocorrelation(pose[:, ANGLES], 1).min()) > 0.8
        far = torch.stack([autocorrelation(pose[:, ANGLES], lag).abs().mean() for lag in range(250, 600, 50)])
        assert float(far.max()) < 0.25
    # the check does catch a loop: a pose made of sines with a 100-frame period
    t = torch.arange(2000.0).unsqueeze(1)
    noise = 0.01 * torch.randn(2000, 5, generator=torch.Generator().manual_seed(0))
    looping = torch.sin(2 * math.pi * t / 100 + torch.arange(5.0)) + noise
    closest, step = closest_repeat(looping)
    assert closest < step


def test_styles_move_different_joints():
    ds = DancerDataset(size=16, frames=300, num_clips=48, seed=5)
    pose, label = ds.motion(range(48))["pose"], ds.labels
    spread = pose.std(1)                                    # (N, J)

    def mean_spread(style: str, joints: list[str]) -> float:
        rows = spread[label == STYLES.index(style)]
        return float(rows[:, [JOINT_NAMES.index(j) for j in joints]].mean())

    legs, arms = ["l_hip", "r_hip"], ["l_shoulder", "r_shoulder", "l_elbow", "r_elbow"]
    assert mean_spread("kicks", legs) > 2 * mean_spread("arms", legs)
    assert mean_spread("arms", arms) > 1.5 * mean_spread("sway", arms)
    assert mean_spread("sway", ["lean"]) > 2 * mean_spread("arms", ["lean"])


# ---------------------------------------------------------------- long videos and clips
def test_chunked_rendering_equals_one_shot():
    ds = DancerDataset(size=32, frames=100, num_clips=4, seed=7)
    whole = ds.render([2])[0]
    chunks = list(ds.iter_frames(2, chunk=37))
    assert [c.shape[1] for c in chunks] == [37, 37, 26]
    assert torch.allclose(torch.cat(chunks, dim=1), whole, atol=1e-5)
    longer = torch.cat(list(ds.iter_frames(2, frames=130, chunk=64)), dim=1)
    assert longer.shape == (3, 130, 32, 32) and torch.allclose(longer[:, :100], whole, atol=1e-5)


def test_clips_overlap():
    ds = DancerDataset(size=16, frames=40, num_clips=2, seed=0)
    video = ds.render([1])[0]
    clips = ds.clips(1)
    assert clips.shape == (4, 3, 16, 16, 16)
    for k in range(3):
        assert torch.equal(clips[k, :, 8:], clips[k + 1, :, :8])      # shared half, reference frame 8
    assert torch.equal(clips[3], video[:, 24:40])
    assert ds.clips(1, clip_len=8, overlap=2).shape[0] == 6


def test_bad_input():
    ds = DancerDataset(size=16, frames=12, num_clips=2)
    with pytest.raises(ValueError):
        ds.clips(0, clip_len=8, overlap=8)
    with pytest.raises(ValueError):
        ds.clips(0)                                          # 12 frames < one clip of 16
    with pytest.raises(ValueError):
        DancerDataset(split="val")
    with pytest.raises(ValueError):
        DancerDataset(size=20)
    with pytest.raises(ValueError):
        next(ds.iter_frames(0, chunk=0))
    with pytest.raises(IndexError):
        ds.clips(5, clip_len=4)
