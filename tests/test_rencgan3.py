"""REncGAN3: Eq. 3 (recall reconstruction), the recall training step (Eq. 2, 4, 5), the Markov chain (Eq. 1).

Tiny networks at 16x16 on short dancer windows, so the file stays fast on 2 CPU cores.
"""
from __future__ import annotations

import itertools

import pytest
import torch

from vgan_lesson.__main__ import build_model
from vgan_lesson.__main__ import main as cli_main
from vgan_lesson.data import cut_clips, difference_maps, make_dataset, recall_reconstruct, reconstruct_from_differences
from vgan_lesson.losses import video_reconstruction
from vgan_lesson.models import REncGAN3, REncGAN3Config

from test_encgan3 import TINY, spy_updates  # the same tiny networks and update spy


def tiny(**overrides) -> REncGAN3Config:
    return REncGAN3Config.lesson(**{**TINY, **overrides})


@pytest.fixture(scope="module")
def windows() -> torch.Tensor:
    """Four real dancer windows of 24 frames (two clips of 16 overlapping by 8)."""
    return make_dataset("dancer", size=16, frames=24, num_clips=4).render(range(4))


# ----------------------------------------------------------------------------- Eq. 3
def _eq3_loops(reference: torch.Tensor, diffs: torch.Tensor, r: int) -> torch.Tensor:
    """Eq. 3 written as the paper's two recursions, frame by frame (the reference for the test)."""
    frames = [None] * (diffs.shape[2] + 1)
    frames[r] = reference
    for j in range(r, 0, -1):                       # x_{j-1} = x_j - v_j
        frames[j - 1] = frames[j] - diffs[:, :, j - 1]
    for j in range(r + 1, len(frames)):             # x_j = x_{j-1} + v_j
        frames[j] = frames[j - 1] + diffs[:, :, j - 1]
    return torch.stack(frames, 2)


@pytest.mark.parametrize("r", [0, 1, 8, 15])
def test_recall_reconstruct_inverts_the_difference_maps_of_real_clips(windows, r):
    clips = cut_clips(windows, 16, 8).flatten(0, 1).double()          # real dancer clips
    diffs = difference_maps(clips)
    rebuilt = recall_reconstruct(clips[:, :, r], diffs, r)
    assert torch.allclose(rebuilt, clips, atol=1e-12, rtol=0)         # exact (float64)
    assert torch.allclose(rebuilt, _eq3_loops(clips[:, :, r], diffs, r), atol=1e-12, rtol=0)
    if r == 0:
        assert torch.allclose(rebuilt, reconstruct_from_differences(clips[:, :, 0], diffs), atol=1e-12)
    # float32, the training dtype: as exact as the cumulative sum allows
    c32 = clips.float()
    assert (recall_reconstruct(c32[:, :, r], difference_maps(c32), r) - c32).abs().max() < 1e-5


def test_recall_reconstruct_rebuilds_around_the_reference_not_the_first_frame(windows):
    clip = cut_clips(windows, 16, 8)[:1, 0]
    reference = clip[:, :, 8] + 0.25                     # move the reference: every frame moves with it
    rebuilt = recall_reconstruct(reference, difference_maps(clip), 8)
    assert torch.allclose(rebuilt, clip + 0.25, atol=1e-5)


def test_recall_reconstruct_rejects_bad_input():
    ref, diffs = torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 15, 8, 8)
    with pytest.raises(ValueError, match=r"reference index r must be an int in \[0, 15\].*got 16"):
        recall_reconstruct(ref, diffs, 16)
    with pytest.raises(ValueError, match="do not match"):
        recall_reconstruct(ref[:1], diffs, 8)
    with pytest.raises(ValueError, match="reference"):
        recall_reconstruct(torch.zeros(8, 8), diffs, 8)


def test_reconstruction_term_around_a_reference_frame_by_hand():
    x = torch.zeros(1, 1, 4, 1, 1)
    x_hat = torch.tensor([0.0, 0.4, 0.8, 0.0]).view(1, 1, 4, 1, 1)
    # mean|x - x_hat| = 1.2 / 4 = 0.3; the reference frame 2 alone: 0.8
    assert float(video_reconstruction(x, x_hat)) == pytest.approx(0.3)                 # EncGAN3: frame 0
    assert float(video_reconstruction(x, x_hat, reference=2)) == pytest.approx(0.3 + 0.8)
    assert float(video_reconstruction(x, x_hat, reference=2, reference_weight=0.5)) == pytest.approx(0.3 + 0.4)
    with pytest.raises(ValueError, match="reference must be a frame index"):
        video_reconstruction(x, x_hat, reference=4)


# ----------------------------------------------------------------------------- config and clips
def test_config_rejects_bad_clips_and_overlaps():
    with pytest.raises(ValueError, match="must be even"):
        REncGAN3Config.lesson(frames=17, **TINY)
    with pytest.raises(ValueError, match="overlap must be smaller than the clip"):
        tiny(overlap=16)
    with pytest.raises(ValueError, match="overlap"):
        tiny(overlap=0)
    with pytest.raises(ValueError, match="needs its encoder"):
        tiny(use_encoder=False)
    with pytest.raises(ValueError, match="unknown REncGAN3Config field"):
        REncGAN3Config.for_scale("lesson", clip=3)
    c = tiny()
    assert (c.overlap, c.stride, c.reference_index, c.window) == (8, 8, 8, 24)
    assert tiny(clips_per_video=3).window == 32
    with pytest.raises(TypeError, match="REncGAN3Config"):
        REncGAN3(tiny().__class__.__bases__[0]())


def test_windows_are_cut_into_clips_that_share_the_reference_frame(windows):
    model = REncGAN3(tiny())
    clips = model.clips_of(windows)
    assert clips.shape == (4, 2, 3, 16, 16, 16)
    r = model.config.reference_index
    assert torch.equal(clips[:, 0, :, r], clips[:, 1, :, 0])      # x_{i,r} is x_{i+1,0} (Fig. 1)
    with pytest.raises(ValueError, match="expected windows of 24 frames"):
        model.clips_of(windows[:, :, :20])
    with pytest.raises(ValueError, match="shorter than one clip"):
        model.clips_of(windows[:, :, :10])


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("joint, order", [(True, ["D", ("Enc", "G")]), (False, ["D", "Enc", "G"])])
def test_train_step_order_d_then_enc_and_g(windows, monkeypatch, joint, order):
    torch.manual_seed(0)
    model = REncGAN3(tiny(joint=joint))
    calls = spy_updates(model, monkeypatch)
    logs = model.train_step({"video": windows}, 1, torch.Generator().manual_seed(0))
    assert [name for name, _ in calls] == order
    for name, changed in calls:   # each phase moves exactly its modules
        assert changed == ({name} if isinstance(name, str) else set(name))
    if joint:
        assert {"loss_EncG", "recon", "kl_x", "kl_v", "adv", "link", "loss_D"} <= set(logs)
    else:
        assert {"loss_Enc", "loss_G", "loss_D"} <= set(logs)
    assert all(torch.isfinite(v) for v in logs.values())


def test_the_recall_link_carries_gradients_from_the_next_clip_into_the_previous_one(windows):
    """With recall_generated, clip 2 is made from clip 1's *generated* reference frame: the loss of
    clip 2 reaches clip 1's codes (the chain of Eq. 1 is what is trained)."""
    torch.manual_seed(0)
    for linked in (True, False):
        model = REncGAN3(tiny(recall_generated=linked))
        clips = model.clips_of(windows)
        mu_x, _ = model.recall(clips[:, 0, :, 0])
        z_x = mu_x.detach().requires_grad_(True)
        mu_v, _ = model.motion_encoder(difference_maps(clips[:, 0]))
        first = model.generate(z_x, mu_v)
        content_in = first[:, :, 8] if linked else clips[:, 1, :, 0]
        second = model.generate(model.recall(content_in)[0], model.motion_encoder(difference_maps(clips[:, 1]))[0])
        (second - clips[:, 1]).abs().mean().backward()
        reached = z_x.grad is not None and float(z_x.grad.abs().sum()) > 0
        assert reached == linked


def test_prior_samples_are_chains_trained_through_the_recalled_code(windows, monkeypatch):
    """chain_prior: the joint step's fakes from prior noise are made as at generation time (Eq. 1):
    link i + 1 from the recalled code of link i's reference frame, its KL and its link error in L_EncG,
    gradients through the link. Without it they are independent prior clips and there is no recalled code."""
    torch.manual_seed(0)
    model = REncGAN3(tiny())
    clips, kl, link = model.prior_chain(3, 2, torch.Generator().manual_seed(0))
    assert clips.shape == (6, 3, 16, 16, 16) and kl.item() > 0 and kl.requires_grad
    pairs = clips.detach().view(3, 2, *clips.shape[1:])
    assert link.item() == pytest.approx((pairs[:, 1, :, 0] - pairs[:, 0, :, 8]).abs().mean().item())
    # window-major, like real clips: row 2w + 1 (link 2) is generated from row 2w's reference frame
    g = torch.Generator().manual_seed(0)
    z_x = model.randn(3, model.config.content_dim, generator=g)
    first = model.generate(z_x, model.randn(3, model.config.motion_dim, model.config.motion_length, generator=g))
    assert torch.allclose(clips.view(3, 2, *clips.shape[1:])[:, 0], first, atol=1e-6), (clips.view(3, 2, *clips.shape[1:])[:, 0] - first).abs().max()
    clips[1::2].mean().backward()                  # a loss on link 2 only reaches the content encoder
    grad = sum(float(p.grad.abs().sum()) for p in model.content_encoder.parameters() if p.grad is not None)
    assert grad > 0
    assert model.prior_chain(2, 1, torch.Generator().manual_seed(0))[1:] == (0.0, 0.0)
    model.config.rec_norm = "l2"                   # the link error follows the reconstruction norm
    link_l2 = model.prior_chain(3, 2, torch.Generator().manual_seed(0))[2]
    assert link_l2.item() == pytest.approx((pairs[:, 1, :, 0] - pairs[:, 0, :, 8]).square().mean().item(), rel=1e-5)
    model.config.rec_norm = "l1"
    for chained in (True, False):
        model = REncGAN3(tiny(chain_prior=chained))
        calls = []
        prior_chain = model.prior_chain
        monkeypatch.setattr(model, "prior_chain", lambda *a: (calls.append(a), prior_chain(*a))[1])
        logs = model.train_step({"video": windows}, 1, torch.Generator().manual_seed(0))
        assert ("kl_recall" in logs) == ("link_prior" in logs) == chained and len(calls) == int(chained)
        if chained:
            assert calls[0][:2] == (4, 2) and torch.isfinite(logs["kl_recall"]) and float(logs["link_prior"]) > 0


def test_training_is_deterministic_and_learns_to_reconstruct(windows):
    def run(steps):
        torch.manual_seed(0)
        model = REncGAN3(tiny(g_base=2, enc_width=8))
        g = torch.Generator().manual_seed(0)
        return [float(model.train_step({"video": windows}, s, g)["recon"]) for s in range(1, steps + 1)]

    a = run(30)
    assert a[:3] == run(3)                           # same seed, same numbers
    start, end = sum(a[:5]) / 5, sum(a[-5:]) / 5
    assert end < 0.75 * start, (start, end)


def test_build_model_and_cli_train_on_dancer_windows(tmp_path, capsys):
    assert isinstance(build_model("rencgan3", **TINY), REncGAN3)
    encg = build_model("rencgan3_encg", **TINY)
    assert not encg.config.joint and encg.config.name == "REncGAN3 (Enc_G)"
    with pytest.raises(ValueError, match="trains Enc and G separately"):
        build_model("rencgan3_encg", joint=True)
    out = tmp_path / "run"
    sets = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    assert cli_main(["train", "--model", "rencgan3", "--dataset", "dancer", "--steps", "2", "--batch-size", "2",
                     "--out", str(out), *sets]) == 0
    assert (out / "checkpoints" / "step_0000002.pt").is_file()
    assert "24 frames" in capsys.readouterr().out       # trained on windows of two overlapping clips


# ----------------------------------------------------------------------------- the chain (Eq. 1)
def test_chain_conditions_each_clip_on_the_previous_reference_frame(monkeypatch):
    torch.manual_seed(0)
    model = REncGAN3(tiny()).eval()
    seen, made = [], []
    recall, generate = model.recall, model.generate
    monkeypatch.setattr(model, "recall", lambda frame: (seen.append(frame.clone()), recall(frame))[1])
    monkeypatch.setattr(model, "generate", lambda z_x, z_v: (made.append(generate(z_x, z_v)), made[-1])[1])
    chunks = list(model.chain(2, 3, torch.Generator().manual_seed(1)))
    assert [tuple(c.shape) for c in chunks] == [(2, 3, 8, 16, 16)] * 3
    # link i + 1 is encoded from frame r of link i; each link yields frames 0..r-1 of its clip
    assert len(seen) == 3 and all(torch.equal(seen[i], made[i][:, :, 8]) for i in range(3))
    assert all(torch.equal(chunks[i], made[i][:, :, :8]) for i in range(3))


def test_sampled_links_draw_from_the_posterior_of_the_reference_frame(monkeypatch):
    """sample=True: link i + 1 starts from mu + sigma * eps of link i's reference frame (reproducible
    with the seed); the default takes mu. Link 1 is the same either way."""
    torch.manual_seed(0)
    model = REncGAN3(tiny()).eval()
    mean = list(model.links(2, 3, torch.Generator().manual_seed(1)))
    drawn = list(model.links(2, 3, torch.Generator().manual_seed(1), sample=True))
    again = list(model.links(2, 3, torch.Generator().manual_seed(1), sample=True))
    assert torch.equal(mean[0][0], drawn[0][0]) and torch.equal(mean[0][1], drawn[0][1])
    assert torch.equal(mean[1][0], model.recall(mean[0][1][:, :, 8])[0])
    assert not torch.allclose(drawn[1][0], model.recall(drawn[0][1][:, :, 8])[0])
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(drawn, again))
    # the draw is mu + exp(logvar / 2) * eps: a posterior with zero variance gives back the mean
    recall = model.recall
    monkeypatch.setattr(model, "recall", lambda f: (recall(f)[0], torch.full_like(recall(f)[1], -1e4)))
    tight = list(model.links(2, 3, torch.Generator().manual_seed(1), sample=True))
    assert torch.allclose(tight[1][0], model.recall(tight[0][1][:, :, 8])[0])
    with pytest.raises(TypeError, match="sample"):
        next(model.links(2, 3, torch.Generator(), sample="yes"))


def test_long_videos_are_deterministic_any_length_and_reject_bad_input():
    model = REncGAN3(tiny()).eval()
    a = model.long_video(2, 37, torch.Generator().manual_seed(3))
    b = model.long_video(2, 37, torch.Generator().manual_seed(3))
    assert a.shape == (2, 3, 37, 16, 16) and torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1
    endless = model.chain(1, None, torch.Generator().manual_seed(0))
    assert len(list(itertools.islice(endless, 20))) == 20     # clips=None never stops by itself
    start = make_dataset("dancer", size=16, frames=16, num_clips=2).render([0, 1])[:, :, 0]
    assert model.long_video(2, 16, torch.Generator(), start=start).shape[2] == 16
    with pytest.raises(ValueError, match="one frame per video"):
        next(model.chain(3, 1, torch.Generator(), start=start))
    with pytest.raises(ValueError, match="frames"):
        model.long_video(1, 0, torch.Generator())
