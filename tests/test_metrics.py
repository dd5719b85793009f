"""The metrics against closed forms, and cases built to make each one fail."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vgan_lesson.data import difference_maps, make_dataset
from vgan_lesson.metrics import (acd, acd_i, cas, extract, frechet_distance, frechet_gaussians, inception_score, mse,
                                 linear_readout, psnr, r2_score, ssim)


def test_r2_score_by_hand():
    y = torch.tensor([[1.0, 0.0], [2.0, 2.0], [3.0, 4.0]])                # column means 2, 2: total square 2 + 8 = 10
    p = torch.tensor([[1.0, 1.0], [2.0, 2.0], [2.0, 4.0]])                # squared errors 1 + 1 = 2
    assert r2_score(p, y) == pytest.approx(1 - 2 / 10)
    assert r2_score(y, y) == 1.0
    assert r2_score(y.mean(0).expand(3, 2), y) == pytest.approx(0.0)      # the mean of the targets
    assert r2_score(y.flip(0), y) == pytest.approx(1 - 40 / 10)            # worse than the mean
    with pytest.raises(ValueError, match="same shape"):
        r2_score(p[:2], y)
    with pytest.raises(ValueError, match="all equal"):
        r2_score(p, torch.ones(3, 2))


def test_linear_readout_finds_what_the_features_hold():
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(300, 6, generator=g), torch.randn(6, 2, generator=g)
    y = x @ w + 0.5
    assert linear_readout(x[:200], y[:200], x[200:], y[200:]) == pytest.approx(1.0, abs=1e-9)
    held = linear_readout(x[:200], y[:200, 0], x[200:], y[200:, 0])          # one target, given as (N,)
    assert held == pytest.approx(1.0, abs=1e-9)
    noisy = y + torch.randn(300, 2, generator=g) * y.std(0)                  # half the variance is noise
    assert 0.3 < linear_readout(x[:200], noisy[:200], x[200:], noisy[200:]) < 0.7
    other = torch.randn(300, 2, generator=g)                                  # nothing to read
    assert linear_readout(x[:200], other[:200], x[200:], other[200:]) < 0.1
    with pytest.raises(ValueError, match="same D"):
        linear_readout(x[:200], y[:200], x[200:, :5], y[200:])
    with pytest.raises(ValueError, match="one row per feature row"):
        linear_readout(x[:200], y[:199], x[200:], y[200:])
    with pytest.raises(ValueError, match="more than 7"):
        linear_readout(x[:7], y[:7], x[200:], y[200:])


def test_frechet_closed_form_1d_and_diagonal():
    # 1-d: (m1 - m2)^2 + s1 + s2 - 2 sqrt(s1 s2)
    assert frechet_gaussians(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])) \
        == pytest.approx(4 + 4 + 1 - 2 * 2)
    s1, s2 = np.diag([1.0, 9.0]), np.diag([4.0, 1.0])
    expected = 1.0 + (1 + 4 - 4) + (9 + 1 - 6)
    assert frechet_gaussians(np.zeros(2), s1, np.array([1.0, 0.0]), s2) == pytest.approx(expected)


def test_frechet_of_samples_matches_the_gaussians_it_came_from():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 3, generator=g, dtype=torch.float64) * 2 + torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    # closed form: |(1,0,0)|^2 + 3 * (1 + 4 - 2*2) = 1 + 3
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.05)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # 64-d features of one set against itself: rounding in the square root must not make it negative
    # (unclamped, two of these five gave about -6e-11)
    for _ in range(5):
        wide = torch.randn(300, 64, generator=g, dtype=torch.float64) @ torch.randn(64, 64, generator=g,
                                                                                  dtype=torch.float64)
        assert 0.0 <= frechet_distance(wide, wide) < 1e-3


def _motion_features(videos: torch.Tensor) -> torch.Tensor:
    """A transparent stand-in extractor: pooled appearance plus pooled motion energy per clip."""
    appearance = F.adaptive_avg_pool3d(videos, (1, 4, 4)).flatten(1)
    motion = F.adaptive_avg_pool3d(difference_maps(videos).abs(), (1, 4, 4)).flatten(1)
    return torch.cat([appearance, 4 * motion], 1)


def test_frechet_separates_real_from_noise_and_frozen_videos():
    real_a = make_dataset("shapes", "train", size=16, frames=8, num_clips=400, seed=0).render(range(400))
    real_b = make_dataset("shapes", "test", size=16, frames=8, num_clips=400, seed=0).render(range(400))
    noise = torch.rand(real_b.shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    frozen = real_b[:, :, :1].expand_as(real_b).contiguous()      # first frame held: no motion
    fa, fb, fn, ff = (extract(_motion_features, v) for v in (real_a, real_b, noise, frozen))
    same = frechet_distance(fa, fb)
    assert frechet_distance(fa, fn) > 20 * same
    assert frechet_distance(fa, ff) > 3 * same


def test_frechet_bad_input():
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(torch.randn(5, 3), torch.randn(5, 4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(torch.full((5, 3), math.nan), torch.randn(5, 3))
    with pytest.warns(UserWarning, match="singular"):
        frechet_distance(torch.randn(4, 8), torch.randn(4, 8))


def test_inception_score_extremes_and_components():
    one_class = torch.zeros(100, 6)
    one_class[:, 2] = 1
    r = inception_score(one_class)
    assert r["is"] == pytest.approx(1.0) and r["h_y"] == pytest.approx(0.0, abs=1e-6)
    confident_diverse = torch.eye(6).repeat(50, 1)
    r = inception_score(confident_diverse, splits=2)
    assert r["is"] == pytest.approx(6.0, rel=1e-4) and r["h_y"] == pytest.approx(math.log(6), rel=1e-4)
    assert r["h_y_given_x"] == pytest.approx(0.0, abs=1e-6)
    unsure = torch.full((60, 6), 1 / 6)
    assert inception_score(unsure)["is"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="probabilities"):
        inception_score(torch.randn(10, 6))


def test_pixel_metrics():
    x = make_dataset("shapes", size=32, frames=4, num_clips=4).render(range(4))
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-5)
    assert psnr(x, x) == pytest.approx(100.0)
    assert mse(x, x) == 0.0
    y = x.clone()
    y[:, :, :, :16] = -1.0                                       # half of every frame blacked out
    assert ssim(x, y) < 0.95 and psnr(x, y) < psnr(x, (x + 0.01).clamp(-1, 1))
    # per-frame PSNR, not pooled: one perfect frame and one bad frame average their dB values
    a = torch.zeros(1, 1, 2, 4, 4)
    b = a.clone()
    b[:, :, 1] = 0.2                                              # [0, 1] error 0.1 -> MSE 0.01 -> 20 dB
    assert psnr(a, b, max_db=100) == pytest.approx((100 + 20) / 2)
    assert mse(a, b) == pytest.approx(0.005)
    with pytest.raises(ValueError, match="same shape"):
        ssim(x, x[:, :, :2])
    with pytest.raises(ValueError, match=r"values in \[-1.0, 1.0\]"):
        psnr(x * 3, x)


def test_acd_static_is_zero_and_moving_is_not():
    static = torch.randn(3, 1, 5).expand(3, 8, 5)
    assert acd(static) == 0.0
    steps = torch.arange(8.0).view(1, 8, 1) * torch.tensor([3.0, 4.0])   # moves 5 per frame
    assert acd(steps) == pytest.approx(5.0)
    assert acd_i(steps, torch.zeros(1, 2)) == pytest.approx(5.0 * 3.5)
    with pytest.raises(ValueError, match="do not match"):
        acd_i(steps, torch.zeros(2, 2))


def test_cas_right_and_wrong_classes():
    logits = torch.eye(6).repeat(5, 1) * 5
    labels = torch.arange(6).repeat(5)
    assert cas(logits, labels) == 1.0
    assert cas(logits, (labels + 1) % 6) == 0.0
    with pytest.raises(ValueError, match=r"lie in \[0, 6\)"):
        cas(logits, labels + 6)


def test_seam_score_sees_concatenated_clips_and_not_smooth_motion():
    from vgan_lesson.data import make_dataset
    from vgan_lesson.metrics import seam_score

    clips = make_dataset("shapes", "test", size=16, frames=16, num_clips=4).batch(range(4))["video"]
    stitched = torch.cat(list(clips), dim=1).unsqueeze(0)             # 4 independent clips end to end
    bounds = [16, 32, 48]
    assert seam_score(stitched, bounds)["ratio"] > 2               # (2.6 on these clips)
    ramp = torch.linspace(-1, 1, 64).view(1, 1, 64, 1, 1).expand(2, 3, 64, 4, 4)
    smooth = seam_score(ramp, bounds)
    assert smooth["ratio"] == pytest.approx(1.0, abs=1e-4) and smooth["seams"] == 3
    assert seam_score(torch.zeros(1, 3, 8, 4, 4), [4])["ratio"] == 1.0  # static: no jumps anywhere
    feats = torch.arange(64.0).view(1, 64, 1)
    assert seam_score(stitched[:1], bounds, features=feats)["ratio"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"boundaries must lie in \[1, 63\]"):
        seam_score(stitched, [0, 16])
    with pytest.raises(ValueError, match="do not match"):
        seam_score(stitched, bounds, features=torch.zeros(1, 10, 3))


def test_ssim_in_chunks_equals_one_call():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 4, 16, 16, generator=g) * 2 - 1
    y = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    assert ssim(x, y, chunk=8) == pytest.approx(ssim(x, y), abs=1e-6)       # 2 videos, then 1
