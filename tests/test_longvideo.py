"""Long videos (REncGAN3 Eq. 1 streamed): writers, generate_long, reading back, and the measurements."""
import math
import sys
import warnings

import av
import numpy as np
import pytest
import torch

from vgan_lesson.data.clipfile import to_uint8
from vgan_lesson.data.dancer import DancerDataset
from vgan_lesson.longvideo import (GifWriter, LongVideoResult, Mp4Writer, NpyWriter, chain_drift, concatenate_independent,
                                   generate_long, long_video_seams, long_video_shape, look_change, look_kept, open_writer,
                                   peak_memory, quality_over_length, read_long_video, repetition)
from vgan_lesson.models.encgan3 import EncGAN3, EncGAN3Config
from vgan_lesson.models.rencgan3 import REncGAN3, REncGAN3Config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return REncGAN3(REncGAN3Config.lesson(size=16, d_width=4, enc_width=4))


def _random_video(n=2, c=3, t=20, size=16, seed=0):
    return torch.rand(n, c, t, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _decoded_frames(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _no_leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


# ---------------------------------------------------------------------------------------- writers
@pytest.mark.parametrize("channels", [1, 3])
def test_npy_writer_round_trip_is_exact(tmp_path, channels):
    video = _random_video(c=channels)
    path = tmp_path / "v.npy"
    with open_writer(path, frames=20) as w:
        assert isinstance(w, NpyWriter) and not path.exists()          # appears only on close
        for t0 in (0, 7, 14):
            w.write(video[:, :, t0:t0 + 7][:, :, :20 - t0])
    stored = np.load(path)
    expected = to_uint8(video).permute(0, 2, 3, 4, 1).numpy()
    assert stored.dtype == np.uint8 and stored.shape == (2, 20, 16, 16, channels)
    np.testing.assert_array_equal(stored, expected)
    assert long_video_shape(path) == (2, channels, 20, 16, 16)
    back = read_long_video(path, 5, 12)
    assert back.shape == (2, channels, 7, 16, 16)
    assert float((back - video[:, :, 5:12]).abs().max()) <= 1 / 255 + 1e-6            # half a grey level
    torch.testing.assert_close(read_long_video(path), read_long_video(path, 0, 20))
    assert _no_leftovers(tmp_path)


def test_npy_writer_closed_early_keeps_a_valid_shorter_file(tmp_path):
    video = _random_video(n=3, t=12)
    path = tmp_path / "short.npy"
    w = open_writer(path, frames=40)
    w.write(video[:, :, :5])
    w.write(video[:, :, 5:12])
    assert w.close() == path and not w.complete
    stored = np.load(path)
    assert stored.shape == (3, 12, 16, 16, 3)                           # every video keeps its own frames
    np.testing.assert_array_equal(stored, to_uint8(video).permute(0, 2, 3, 4, 1).numpy())
    assert _no_leftovers(tmp_path)


@pytest.mark.parametrize("suffix,cls", [(".mp4", Mp4Writer), (".gif", GifWriter)])
@pytest.mark.parametrize("n", [1, 3])
def test_mp4_and_gif_open_with_pyav_with_every_frame(tmp_path, suffix, cls, n):
    video = _random_video(n=n, t=13, size=15)                           # odd size: the mp4 is padded
    path = tmp_path / f"v{suffix}"
    with open_writer(path, fps=10) as w:
        assert isinstance(w, cls)
        w.write(video[:, :, :8])
        w.write(video[:, :, 8:])
    frames = _decoded_frames(path)
    assert len(frames) == 13
    height, width = frames[0].shape[:2]
    assert height >= 15 and width >= n * 15 + (n - 1)                   # tiled side by side
    if suffix == ".mp4":
        assert height % 2 == 0 and width % 2 == 0
    assert _no_leftovers(tmp_path)


def test_gif_keeps_few_colours_exactly(tmp_path):
    video = -torch.ones(1, 3, 4, 8, 8)
    video[:, 0, :, 2:6, 2:6] = 1.0                                        # a red square on black
    video[:, :, 2:] *= -1                                                 # then inverted
    with open_writer(tmp_path / "v.gif") as w:
        w.write(video)
    frames = np.stack(_decoded_frames(tmp_path / "v.gif"))
    expected = to_uint8(video)[0].permute(1, 2, 3, 0).numpy()
    np.testing.assert_array_equal(frames, expected)


def test_writer_rejects_bad_chunks_and_aborts_on_errors(tmp_path):
    path = tmp_path / "v.npy"
    with pytest.raises(ValueError, match="needs the total number of frames"):
        open_writer(path)
    with pytest.raises(ValueError, match=r"unknown video file suffix '\.avi'.*\.npy, \.mp4, \.gif"):
        open_writer(tmp_path / "v.avi", frames=4)
    w = open_writer(path, frames=4)
    w.write(_random_video(n=2, t=2))
    with pytest.raises(ValueError, match=r"shape of the first, \(2, 3, t, 16, 16\); got \(1, 3, 2, 16, 16\)"):
        w.write(_random_video(n=1, t=2))
    with pytest.raises(ValueError, match="opened for 4 frames; 2 are written and a chunk of 3"):
        w.write(_random_video(n=2, t=3))
    with pytest.raises(ValueError, match=r"values in \[-1.0, 1.0\]"):
        w.write(_random_video(n=2, t=1) * 3)
    w.abort()
    assert not path.exists() and _no_leftovers(tmp_path)
    path.write_bytes(b"old")                                              # a failed run keeps the old file
    with pytest.raises(RuntimeError):
        with open_writer(path, frames=4) as w:
            w.write(_random_video(n=2, t=2))
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old" and _no_leftovers(tmp_path)


# ---------------------------------------------------------------------------------------- generate_long
def test_generate_long_exact_length_and_deterministic(model, tmp_path):
    stride = model.config.stride
    frames = 3 * stride + 5                                               # the last link is trimmed
    a = generate_long(model, frames, tmp_path / "a.npy", n=2, seed=3, progress=False)
    b = generate_long(model, frames, tmp_path / "b.npy", n=2, seed=3, progress=False)
    c = generate_long(model, frames, tmp_path / "c.npy", n=2, seed=4, progress=False)
    assert isinstance(a, LongVideoResult) and a.frames_written == frames and not a.interrupted
    assert a.path == tmp_path / "a.npy" and a.video is None and a.frames_per_second > 0
    va = np.load(a.path)
    assert va.shape == (2, frames, 16, 16, 3)
    np.testing.assert_array_equal(va, np.load(b.path))
    assert not np.array_equal(va, np.load(c.path))
    memory = generate_long(model, frames, None, n=2, seed=3, progress=False)
    assert memory.path is None and memory.video.shape == (2, 3, frames, 16, 16)
    model.eval()
    chained = model.long_video(2, frames, torch.Generator().manual_seed(3))
    torch.testing.assert_close(memory.video, chained)                    # the chain of Eq. 1, unchanged
    np.testing.assert_array_equal(va, to_uint8(chained).permute(0, 2, 3, 4, 1).numpy())
    start = chained[:, :, -1]                                             # continue from given frames
    resumed = generate_long(model, 12, None, n=2, seed=3, progress=False, start=start).video
    torch.testing.assert_close(resumed, model.long_video(2, 12, torch.Generator().manual_seed(3), start))
    assert not torch.equal(resumed, chained[:, :, :12])


def test_generate_long_restores_train_mode_and_writes_video_files(model, tmp_path):
    model.train()
    first = generate_long(model, 12, tmp_path / "v.gif", seed=1, progress=False)
    assert model.training                                                 # restored
    again = generate_long(model, 12, None, seed=1, progress=False)       # eval inside: no spectral-norm step
    assert len(_decoded_frames(first.path)) == 12
    np.testing.assert_array_equal(np.stack(_decoded_frames(first.path)),
                                  to_uint8(again.video)[0].permute(1, 2, 3, 0).numpy())
    mp4 = generate_long(model, 12, tmp_path / "v.mp4", seed=1, progress=False)
    assert len(_decoded_frames(mp4.path)) == 12


@pytest.mark.parametrize("suffix", [".npy", ".gif"])
def test_interrupt_keeps_a_valid_file_with_the_frames_so_far(model, tmp_path, monkeypatch, suffix):
    stride = model.config.stride
    full = generate_long(model, 6 * stride, None, seed=0, progress=False).video
    real_chain = model.chain

    def stopped_chain(*args, **kwargs):                                   # the stop button after 3 links
        for i, link in enumerate(real_chain(*args, **kwargs)):
            if i == 3:
                raise KeyboardInterrupt
            yield link

    monkeypatch.setattr(model, "chain", stopped_chain)
    path = tmp_path / f"stopped{suffix}"
    result = generate_long(model, 6 * stride, path, seed=0, progress=False)
    assert result.interrupted and result.frames_written == 3 * stride and result.path == path
    expected = to_uint8(full[:, :, :3 * stride]).permute(0, 2, 3, 4, 1).numpy()
    if suffix == ".npy":
        np.testing.assert_array_equal(np.load(path), expected)
        assert read_long_video(path).shape == (1, 3, 3 * stride, 16, 16)
    else:
        np.testing.assert_array_equal(np.stack(_decoded_frames(path)), expected[0])
    assert _no_leftovers(tmp_path)


def test_interrupt_before_the_first_frame_leaves_no_file(model, tmp_path, monkeypatch):
    def stopped_chain(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(model, "chain", stopped_chain)
    result = generate_long(model, 16, tmp_path / "none.npy", progress=False)
    assert result.interrupted and result.frames_written == 0 and result.path is None
    assert list(tmp_path.iterdir()) == []


def test_generate_long_bad_input_fails_before_any_work(model, tmp_path):
    path = tmp_path / "v.npy"
    cases = [
        (dict(frames=0), ValueError, "frames must be >= 1, got 0"),
        (dict(frames=-5), ValueError, "frames must be >= 1, got -5"),
        (dict(frames=2.5), TypeError, "frames must be an int, got float"),
        (dict(n=0), ValueError, "n must be >= 1, got 0"),
        (dict(path=tmp_path / "v.avi"), ValueError, r"unknown video file suffix '\.avi'"),
        (dict(path=tmp_path / "noext"), ValueError, r"suffix '\(none\)'"),
        (dict(fps=0), ValueError, r"fps must be a number in \(0, 100\], got 0"),
        (dict(start=torch.zeros(2, 3, 16, 16)), ValueError, r"\(n=1, C, H, W\) = \(1, 3, 16, 16\); got shape \(2, 3"),
        (dict(start=torch.zeros(1, 3, 32, 32)), ValueError, r"= \(1, 3, 16, 16\); got shape \(1, 3, 32, 32\)"),
        (dict(sample=1), TypeError, "sample must be True or False, got 1"),
    ]
    for overrides, error, message in cases:
        with pytest.raises(error, match=message):
            generate_long(model, **{"frames": 16, "path": path, "progress": False, **overrides})
    g3an = EncGAN3(EncGAN3Config.lesson(size=16, d_width=4, enc_width=4, use_encoder=False))
    with pytest.raises(TypeError, match="model must be a REncGAN3.*got EncGAN3"):
        generate_long(g3an, 16, path, progress=False)
    assert list(tmp_path.iterdir()) == []                                 # nothing was written


def test_read_long_video_errors(tmp_path):
    np.save(tmp_path / "float.npy", np.zeros((1, 4, 8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"uint8 frames \(n, T, H, W, C\).*float32"):
        read_long_video(tmp_path / "float.npy")
    with pytest.raises(FileNotFoundError, match="long video not found"):
        read_long_video(tmp_path / "missing.npy")
    np.save(tmp_path / "ok.npy", np.zeros((1, 4, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="stop must be <= 4, got 9"):
        read_long_video(tmp_path / "ok.npy", 0, 9)
    with pytest.raises(ValueError, match="stop must be >= 3, got 2"):
        read_long_video(tmp_path / "ok.npy", 2, 2)
    assert float(read_long_video(tmp_path / "ok.npy", 3).max()) == -1.0


def test_read_long_video_selects_videos(tmp_path):
    video = _random_video(n=4, t=6)
    path = tmp_path / "four.npy"
    with open_writer(path, frames=6) as w:
        w.write(video)
    everything = read_long_video(path, 1, 5)
    torch.testing.assert_close(read_long_video(path, 1, 5, videos=2), everything[:2])
    torch.testing.assert_close(read_long_video(path, 1, 5, videos=slice(1, None, 2)), everything[1::2])
    torch.testing.assert_close(read_long_video(path, 1, 5, videos=[3, 0]), everything[[3, 0]])
    for bad, error in ((5, ValueError), (0, ValueError), ([4], ValueError), ([], TypeError), ("0", TypeError),
                       (slice(4, None), ValueError), (True, TypeError)):
        with pytest.raises(error, match="videos"):
            read_long_video(path, videos=bad)


# ---------------------------------------------------------------------------------------- measurements
@pytest.fixture(scope="module")
def dancer_clips():
    """8 clips of 16 frames from 8 different dancers (32 px: the shipped evaluators' size)."""
    return DancerDataset(size=32, frames=16, num_clips=8, seed=0, split="test").batch(range(8))["video"]


def test_quality_over_length_shape_and_values(dancer_clips, tmp_path):
    from vgan_lesson.pretrained import load_pretrained_evaluator

    evaluator = load_pretrained_evaluator("dancer", "video")
    same = dancer_clips.repeat(1, 1, 4, 1, 1)                              # every position holds the real clips
    same = torch.cat([same, same[:, :, :5]], dim=2)                        # + a remainder, left out
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q = quality_over_length(same, dancer_clips, evaluator)
    assert [str(w.message) for w in caught if "singular" in str(w.message)].__len__() == 1   # said once
    assert q["positions"] == [0, 16, 32, 48] and len(q["fvd"]) == 4 and q["videos"] == 8
    assert max(abs(v) for v in q["fvd"]) < 1e-2
    noise = _random_video(n=8, t=64, size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        far = quality_over_length(noise, dancer_clips, evaluator)
        with open_writer(tmp_path / "noise.npy", frames=64) as w:         # the same from a file, slice by slice
            for t0 in range(0, 64, 8):
                w.write(noise[:, :, t0:t0 + 8])
        from_file = quality_over_length(tmp_path / "noise.npy", dancer_clips, evaluator.features)
    assert min(far["fvd"]) > 10
    assert from_file["positions"] == far["positions"]
    assert np.allclose(from_file["fvd"], far["fvd"], rtol=0.05)            # uint8 rounding only
    with pytest.raises(ValueError, match="at least 2 long videos.*got n=1"):
        quality_over_length(noise[:1], dancer_clips, evaluator)
    with pytest.raises(ValueError, match=r"clip_len=16 frames.*got shape \(8, 3, 8, 32, 32\)"):
        quality_over_length(noise, dancer_clips[:, :, :8], evaluator)


def test_seams_concatenated_clips_versus_a_smooth_video(dancer_clips):
    smooth = DancerDataset(size=32, frames=64, num_clips=4, seed=1, split="test").batch(range(4))["video"]
    steady = long_video_seams(smooth, 8)
    assert steady["seams"] == 7 and steady["stride"] == 8
    assert 0.8 < steady["ratio"] < 1.25
    glued = concatenate_independent(dancer_clips, 8)                       # 8 dancers, 8 frames each
    assert glued.shape == (1, 3, 64, 32, 32)
    torch.testing.assert_close(glued[0, :, 8:16], dancer_clips[1, :, :8])
    assert long_video_seams(glued, 8)["ratio"] > 1.5
    batched = concatenate_independent(dancer_clips.view(2, 4, 3, 16, 32, 32), 8)
    assert batched.shape == (2, 3, 32, 32, 32)
    torch.testing.assert_close(batched[1, :, 24:], dancer_clips[7, :, :8])
    with pytest.raises(ValueError, match="stride must be >= 2, got 1"):
        long_video_seams(smooth, 1)
    with pytest.raises(ValueError, match="clips of 16 frames cannot give stride=20"):
        concatenate_independent(dancer_clips, 20)


def test_look_change_real_dancers_keep_their_look_glued_clips_do_not(dancer_clips):
    """Real long videos keep their clothes and background (ratio near 0); glued independent clips change
    look at every join (ratio about 1); videos that all fade to one shared colour are far from 0."""
    real = DancerDataset(size=32, frames=64, num_clips=8, seed=1, split="test").batch(range(8))["video"]
    kept = look_change(real, 8)
    assert len(kept["drift"]) == 8 and kept["drift"][0] == 0 and kept["window"] == 8
    assert kept["between"] > 0.1 and kept["ratio"] < 0.15
    glued = concatenate_independent(dancer_clips.view(2, 4, 3, 16, 32, 32).transpose(0, 1), 8)   # 4 videos of 2
    assert 0.5 < look_change(glued, 8)["ratio"] < 2.0
    fading = real.clone()
    fading[:, :, 32:] = 0.3                                        # every video ends on the same flat colour
    assert look_change(fading, 8)["ratio"] > 0.5
    # the colours are what they say: one video red then blue, another green throughout
    toy = torch.zeros(2, 3, 4, 2, 2)
    toy[0, 0, :2], toy[0, 2, 2:], toy[1, 1] = 1.0, 1.0, 1.0
    figures = look_change(toy, 2)
    assert figures["drift"] == pytest.approx([0.0, 2 ** 0.5 / 2])       # video 0 moves by sqrt(2), video 1 stays
    assert figures["between"] == pytest.approx(2 ** 0.5)
    with pytest.raises(ValueError, match="at least 2 videos"):
        look_change(real[:1], 8)
    with pytest.raises(ValueError, match="fewer than two stretches"):
        look_change(real, 40)
    with pytest.raises(ValueError, match="same mean colour"):
        look_change(torch.zeros(2, 3, 4, 2, 2), 2)


def test_seams_of_a_generated_chain_are_finite(model):
    video = generate_long(model, 40, None, n=2, progress=False).video
    seams = long_video_seams(video, model.config.stride)
    assert seams["seams"] == 4 and math.isfinite(seams["ratio"]) and seams["within"] > 0


def test_chain_drift_sees_codes_that_grow_collapse_or_stay(model, monkeypatch):
    """chain_drift reads the codes the chain really used: a recall that keeps the code gives growth 1,
    one that scales it by 1.2 per link gives 1.2 ** (links - 1), one that sends every video to the same
    code collapses the spread."""
    model.train()
    base = chain_drift(model, links=3, n=4, seed=1)
    assert model.training                                         # the mode is restored
    assert set(base) == {"code_norm", "brightness", "spread", "motion", "prior_norm", "growth", "look", "look_ratio"}
    assert all(len(base[k]) == 3 for k in ("code_norm", "brightness", "spread", "motion", "look"))
    assert base["look"][0] == 0 and base["look_ratio"] >= 0
    assert base["prior_norm"] == pytest.approx(model.config.content_dim ** 0.5)
    assert base == chain_drift(model, links=3, n=4, seed=1)       # deterministic
    first = {}

    def keep(frame, factor=1.0, same=False):
        n = frame.shape[0]
        if "z" not in first:    # the prior code of link 1, as links() drew it
            first["z"] = model.randn(n, model.config.content_dim, generator=torch.Generator().manual_seed(1))
        first["z"] = first["z"][:1].expand(n, -1).clone() if same else first["z"] * factor
        return first["z"], torch.zeros_like(first["z"])

    for factor, growth in ((1.0, 1.0), (1.2, 1.2 ** 2)):
        first.clear()
        monkeypatch.setattr(model, "recall", lambda frame, f=factor: keep(frame, f))
        assert chain_drift(model, links=3, n=4, seed=1)["growth"] == pytest.approx(growth, rel=1e-5)
    first.clear()
    monkeypatch.setattr(model, "recall", lambda frame: keep(frame, same=True))
    collapsed = chain_drift(model, links=3, n=4, seed=1)
    assert collapsed["spread"][0] > 0 and collapsed["spread"][1] < 0.5 * collapsed["spread"][0]
    assert collapsed["look_ratio"] > 0.3                           # three of the four videos changed their look
    with pytest.raises(ValueError, match="links"):
        chain_drift(model, links=1)
    with pytest.raises(TypeError, match="REncGAN3"):
        chain_drift(EncGAN3(EncGAN3Config.lesson(size=16, d_width=4, enc_width=4)))


class _ReplayChain(torch.nn.Module):
    """A stand-in chain whose link k is ``clips[k]``, whatever frame it starts from: with the real videos
    themselves it is a perfect chain; with the videos of other dancers it keeps nobody's look."""

    def __init__(self, clips):
        super().__init__()
        self.clips = clips
        self.probe = torch.nn.Linear(1, 1)                                 # a parameter, for the device
        self.config = type("Config", (), {"stride": 8})()

    def links(self, n, clips, generator, start=None, sample=False):
        assert start is not None and start.shape[0] == n                   # the chains start from real frames
        for k in range(clips):
            yield None, self.clips[k]

    def chain(self, n, clips, generator, start=None, sample=False):
        for _, clip in self.links(n, clips, generator, start, sample):
            yield clip[:, :, :8]


def test_look_kept_scores_each_factor_against_the_dancer_the_chain_started_from(dancer_clips, model):
    """A chain that replays the real videos scores exactly the real ceiling on every factor; one whose
    links show other dancers scores below 0 on the colours; the frame evaluator must regress factors."""
    from vgan_lesson.evaluators import Evaluator, EvaluatorConfig
    from vgan_lesson.pretrained import load_pretrained_evaluator

    evaluator = load_pretrained_evaluator("dancer", "frame")
    factors = DancerDataset(size=32, frames=16, num_clips=8, seed=0, split="test").factors
    perfect = look_kept(_ReplayChain([dancer_clips] * 2), dancer_clips, factors, evaluator, links=2, batch_size=3)
    assert perfect["targets"] == ["shirt", "trousers", "wall", "height", "build"]
    assert all(perfect["real"][t] > 0.5 for t in ("shirt", "trousers", "wall"))   # the evaluator reads real dancers
    assert perfect["links"] == {t: [perfect["real"][t]] * 2 for t in perfect["targets"]}
    others = dancer_clips.roll(1, dims=0)                                  # link k shows the dancer of video k - 1
    forgot = look_kept(_ReplayChain([dancer_clips, others]), dancer_clips, factors, evaluator, links=2)
    assert forgot["real"] == perfect["real"]
    assert forgot["links"]["shirt"][0] == perfect["real"]["shirt"]
    assert all(forgot["links"][t][1] < 0 for t in ("shirt", "trousers", "wall"))
    with pytest.raises(ValueError, match="regresses factors"):
        look_kept(model, dancer_clips, factors, Evaluator(EvaluatorConfig(dataset="shapes", kind="frame")))
    with pytest.raises(ValueError, match="missing"):
        look_kept(model, dancer_clips, {"shirt": factors["shirt"]}, evaluator)
    with pytest.raises(ValueError, match="one row per video"):
        look_kept(model, dancer_clips[:4], factors, evaluator)
    with pytest.raises(ValueError, match="at least 2 videos"):
        look_kept(model, dancer_clips[:1], factors, evaluator)
    with pytest.raises(TypeError, match="frame Evaluator"):
        look_kept(model, dancer_clips, factors, load_pretrained_evaluator("dancer", "video"))
    with pytest.raises(TypeError, match="REncGAN3"):
        look_kept(EncGAN3(EncGAN3Config.lesson(size=16, d_width=4, enc_width=4)), dancer_clips, factors, evaluator)


def test_repetition_loops_frozen_and_fresh_motion():
    g = torch.Generator().manual_seed(0)
    walk = torch.randn(400, 8, generator=g).cumsum(0)
    loop = walk[:50].repeat(8, 1)                                          # a 50-frame loop
    pose = DancerDataset(size=16, frames=400, num_clips=1, seed=0).motion([0])["pose"][0]
    looped = repetition(loop)
    assert looped["ratio"] < 0.05 and looped["lag"] == 50 and looped["peak"] > 0.95 and not looped["frozen"]
    for fresh in (repetition(walk), repetition(pose)):
        assert fresh["ratio"] > 2 and not fresh["frozen"]
        assert fresh["peak"] is None or fresh["peak"] < 0.5
    frozen = repetition(torch.ones(100, 4))
    assert frozen == {"closest": 0.0, "step": 0.0, "ratio": 0.0, "lag": None, "peak": None, "frozen": True}
    assert repetition(loop[:, 0])["lag"] == 50                             # one signal (T,)
    with pytest.raises(ValueError, match="at least 2 \\* window = 64 frames.*got T=50"):
        repetition(walk[:50])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resident memory is read from /proc on Linux")
def test_peak_memory_sees_a_large_allocation():
    def allocate(mib):
        block = torch.ones(mib * 2**18)                                   # float32: 4 bytes each
        return float(block[-1])

    value, small = peak_memory(allocate, 1)
    assert value == 1.0 and small["rss_peak_mib"] >= small["rss_before_mib"] > 0
    _, big = peak_memory(allocate, 200)
    assert big["rss_peak_mib"] - big["rss_before_mib"] > 150
    if small["rss_method"].startswith("VmHWM, reset"):                     # the peak is per call
        assert small["rss_peak_mib"] - small["rss_before_mib"] < 100
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        peak_memory(3)
