"""EncGAN3 / G3AN: encoders, generator, the D -> Enc -> G update, ablations, resume, CLI, learning.

Everything runs on tiny networks at 16x16x16 so the file stays fast on 2 CPU cores.
"""
from __future__ import annotations

import pytest
import torch

from vgan_lesson.__main__ import build_model, main as cli_main
from vgan_lesson.data import difference_maps, make_dataset
from vgan_lesson.models.encgan3 import EncGAN3, EncGAN3Config, ablation_configs
from vgan_lesson.models.encoders import ContentEncoder, MotionEncoder
from vgan_lesson.training import TrainConfig, evaluating, frozen, latest_checkpoint, train

TINY = dict(size=16, g_base=1, d_width=4, enc_width=4, motion_hidden=16, content_dim=16, motion_dim=4)


def tiny(**overrides) -> EncGAN3Config:
    return EncGAN3Config.lesson(**{**TINY, **overrides})


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    return make_dataset("shapes", size=16, frames=16, num_clips=8).render(range(8))


def quiet(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(steps=2, batch_size=4, progress=False, log_every=1, sample_every=0,
                                 checkpoint_every=0, out_dir=None), **kw})


# ----------------------------------------------------------------------------- encoders
@pytest.mark.parametrize("size", [16, 32, 64])
def test_encoders_give_gaussian_posteriors_of_the_generator_latents(size):
    torch.manual_seed(0)
    video = torch.rand(2, 3, 16, size, size) * 2 - 1
    content = ContentEncoder(size, content_dim=12, width=4)
    motion = MotionEncoder(size, frames=16, motion_dim=5, motion_length=2, width=4, map_features=8, hidden=16)
    mu_x, logvar_x = content(video[:, :, 0])
    mu_v, logvar_v = motion(difference_maps(video))
    assert mu_x.shape == logvar_x.shape == (2, 12)
    assert mu_v.shape == logvar_v.shape == (2, 5, 2)
    # roles: the head is DCGAN-initialised, so every posterior starts near N(0, I)
    for t in (mu_x, logvar_x, mu_v, logvar_v):
        assert t.abs().max() < 3.0
    # mu is the mean and logvar the log-variance: the reparameterised codes have them as statistics
    from vgan_lesson.losses import reparameterize
    mu, logvar = torch.full((20000,), 1.5), torch.full((20000,), 2 * torch.log(torch.tensor(0.5)))
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert abs(float(z.mean()) - 1.5) < 0.02 and abs(float(z.std()) - 0.5) < 0.02


def test_motion_encoder_reads_the_order_of_the_difference_maps():
    torch.manual_seed(0)
    motion = MotionEncoder(16, frames=16, motion_dim=4, width=4, map_features=8, hidden=16).eval()
    v = difference_maps(torch.rand(1, 3, 16, 16, 16) * 2 - 1)
    mu, _ = motion(v)
    mu_reversed, _ = motion(v.flip(2))
    assert not torch.allclose(mu, mu_reversed)  # FC compression, not an order-blind pooling


def test_encoders_reject_bad_input_with_expected_and_found():
    content = ContentEncoder(32, width=4)
    motion = MotionEncoder(32, frames=16, width=4)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\).*got \(2, 3, 16, 16\)"):
        content(torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"values in \[-1.0, 1.0\].*max 3"):
        content(torch.full((2, 3, 32, 32), 3.0))
    with pytest.raises(ValueError, match=r"\(B, 3, 15, 32, 32\).*got \(2, 3, 16, 32, 32\)"):
        motion(torch.zeros(2, 3, 16, 32, 32))  # a clip instead of its 15 difference maps
    with pytest.raises(ValueError, match=r"\[-2.0, 2.0\]"):
        motion(torch.full((2, 3, 15, 32, 32), 5.0))
    with pytest.raises(ValueError, match="dims"):
        motion(torch.zeros(3, 15, 32, 32))
    model = EncGAN3(tiny())
    with pytest.raises(ValueError, match=r"values in \[-1"):
        model.encode(torch.full((2, 3, 16, 16, 16), 2.0))


# ----------------------------------------------------------------------------- generator and model API
def test_generator_output_and_api(clips):
    model = EncGAN3(tiny())
    g = torch.Generator().manual_seed(0)
    video = model.sample(3, g)
    assert video.shape == (3, 3, 16, 16, 16)
    assert video.min() >= -1 and video.max() <= 1
    z_x, z_v = model.prior(2, g)
    assert z_x.shape == (2, 16) and z_v.shape == (2, 4, 1)
    assert model.generate(z_x, torch.randn(2, 4, 2)).shape == (2, 3, 20, 16, 16)  # longer codes, longer clips
    posterior = model.encode(clips[:2])
    assert posterior.mu_x.shape == (2, 16) and posterior.mu_v.shape == (2, 4, 1)
    assert model.reconstruct(clips[:2]).shape == clips[:2].shape
    first, diffs = EncGAN3.content_and_motion(video)
    assert torch.allclose(torch.cat([first[:, :, None], first[:, :, None] + diffs.cumsum(2)], 2), video, atol=1e-5)
    assert set(model.optimizers()) == {"D", "Enc", "G"}


def test_g3an_has_no_encoder(clips):
    model = EncGAN3(tiny(use_encoder=False))
    assert model.content_encoder is None and model.motion_encoder is None
    assert set(model.optimizers()) == {"D", "G"}
    with pytest.raises(RuntimeError, match="no encoder"):
        model.encode(clips[:2])
    logs = model.train_step({"video": clips[:4]}, 1, torch.Generator().manual_seed(0))
    assert not {"recon", "loss_Enc", "kl_x", "kl_v"} & set(logs)
    assert {"loss_D", "loss_DI", "loss_DV", "loss_G"} <= set(logs)


# ----------------------------------------------------------------------------- the update order
GROUPS = {"D": ("image_discriminator", "video_discriminator"), "Enc": ("content_encoder", "motion_encoder"),
          "G": ("trunk", "head")}


def _snapshot(model: EncGAN3) -> dict[str, list[torch.Tensor]]:
    return {group: [p.detach().clone() for name in names if getattr(model, name) is not None
                    for p in getattr(model, name).parameters()] for group, names in GROUPS.items()}


def _changed(before, after) -> set[str]:
    return {g for g in before if any(not torch.equal(a, b) for a, b in zip(before[g], after[g]))}


def spy_updates(model, monkeypatch, snapshot=_snapshot) -> list[tuple[str, set[str]]]:
    """Record every ``model.update(name, loss)`` call with the parameter groups (``snapshot(model)``:
    group name -> tensors) it changed."""
    calls: list[tuple[str, set[str]]] = []
    original = model.update
    state = {"params": snapshot(model)}

    def spy(name, loss, retain_graph=False):
        original(name, loss, retain_graph)
        now = snapshot(model)
        calls.append((name, _changed(state["params"], now)))
        state["params"] = now

    monkeypatch.setattr(model, "update", spy)
    return calls


@pytest.mark.parametrize("use_encoder, order", [(True, ["D", "Enc", "G"]), (False, ["D", "G"])])
def test_train_step_updates_d_then_enc_then_g(clips, monkeypatch, use_encoder, order):
    model = EncGAN3(tiny(use_encoder=use_encoder))
    calls = spy_updates(model, monkeypatch)
    logs = model.train_step({"video": clips[:4]}, 1, torch.Generator().manual_seed(0))
    assert [name for name, _ in calls] == order
    for name, changed in calls:  # each phase moves its own module and nothing else
        assert changed == {name}
    expected = {"loss_D", "loss_DI", "loss_DV", "loss_G", "D_real", "D_fake"}
    if use_encoder:
        expected |= {"loss_Enc", "recon", "kl_x", "kl_v"}
    assert set(logs) == expected
    assert all(torch.isfinite(v) for v in logs.values())


def test_frozen_restores_requires_grad():
    layer = torch.nn.Linear(2, 2)
    layer.bias.requires_grad_(False)
    with frozen(layer):
        assert not any(p.requires_grad for p in layer.parameters())
    assert layer.weight.requires_grad and not layer.bias.requires_grad


def test_evaluating_restores_the_mode_it_found_also_on_errors():
    net = torch.nn.Sequential(torch.nn.BatchNorm1d(2), torch.nn.Dropout())
    for mode in (True, False):
        net.train(mode)
        with evaluating(net) as inside:
            assert inside is net and not any(m.training for m in net.modules())
        assert all(m.training == mode for m in net.modules())
    net.train()
    with pytest.raises(RuntimeError, match="boom"):
        with evaluating(net):
            raise RuntimeError("boom")
    assert net.training


# ----------------------------------------------------------------------------- configs and ablations
def test_ablation_configs_build_and_step(clips):
    configs = ablation_configs("lesson", **TINY)
    assert set(configs) == {"G3AN", "G3AN w/o F-SA", "EncGAN3", "EncGAN3 w/o F-SA", "no G_S", "no G_T",
                            "no G_S, G_T"}
    assert configs["G3AN"].use_encoder is False and configs["EncGAN3 w/o F-SA"].attention is False
    assert not configs["no G_S, G_T"].use_spatial and not configs["no G_S, G_T"].use_temporal
    g = torch.Generator().manual_seed(0)
    for name, config in configs.items():
        model = EncGAN3(config)
        assert (model.trunk.attention is None) == (not config.attention), name
        logs = model.train_step({"video": clips[:2]}, 1, g)
        assert all(torch.isfinite(v) for v in logs.values()), name


def test_scales_and_bad_configs():
    paper = EncGAN3Config.paper()
    assert (paper.size, paper.frames, paper.content_dim, paper.motion_dim, paper.lr, paper.betas) == \
        (64, 16, 128, 10, 2e-4, (0.5, 0.999))
    model = EncGAN3(EncGAN3Config.paper(128, use_encoder=False))  # 128 px: a sixth G3 module
    assert len(model.trunk.blocks) == 6 and model.trunk.attention_after == 3
    assert model.trunk.widths == (512, 512, 256, 128, 64, 32)
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        EncGAN3Config.for_scale("huge")
    with pytest.raises(ValueError, match=r"unknown EncGAN3Config field\(s\) \['widht'\]"):
        EncGAN3Config.for_scale("lesson", widht=3)
    with pytest.raises(ValueError, match="frames must be"):
        EncGAN3Config.lesson(frames=18)
    with pytest.raises(ValueError, match="64 and 128"):
        EncGAN3Config.paper(32)
    assert EncGAN3Config.lesson(betas=[0.0, 0.9]).betas == (0.0, 0.9)  # JSON lists from the CLI
    assert EncGAN3Config.lesson().effective_kl_weight == 1 / (3 * 16 * 32 * 32)
    with pytest.raises(ValueError, match=r"unknown rec_norm 'huber'; expected one of 'l1', 'l2'"):
        EncGAN3Config.lesson(rec_norm="huber")


def test_rec_norm_reaches_the_encoder_and_generator_losses(clips):
    """The same step from the same weights and seed: the logged reconstruction is the chosen norm's,
    and L2 (squares of errors below 1) comes out smaller than L1."""
    logs = {}
    for norm in ("l1", "l2"):
        torch.manual_seed(0)
        model = EncGAN3(tiny(rec_norm=norm))
        logs[norm] = model.train_step({"video": clips[:4]}, 1, torch.Generator().manual_seed(0))
    assert float(logs["l2"]["recon"]) < float(logs["l1"]["recon"])
    assert float(logs["l1"]["loss_D"]) == pytest.approx(float(logs["l2"]["loss_D"]))   # D's step is the same


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path, clips):
    data = [{"video": clips[:4]}]
    out = str(tmp_path / "run")
    train(EncGAN3(tiny()), data, quiet(out_dir=out), callbacks=[])
    assert latest_checkpoint(out) is not None
    with pytest.raises(ValueError, match=r"use_encoder: expected False .*found True"):
        train(EncGAN3(tiny(use_encoder=False)), data, quiet(steps=3, out_dir=out), resume=True, callbacks=[])


# ----------------------------------------------------------------------------- command line
def test_cli_train_runs_and_writes_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "cli"
    sets = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    assert cli_main(["train", "--model", "encgan3", "--dataset", "shapes", "--scale", "lesson", "--steps", "3",
                     "--batch-size", "2", "--seed", "1", "--out", str(out), *sets]) == 0
    assert (out / "checkpoints" / "step_0000003.pt").is_file()
    assert (out / "metrics.jsonl").read_text().count("\n") >= 1
    assert "checkpoint" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli_main(["train", "--scale", "huge", "--out", str(tmp_path / "x")])
    assert "unknown scale 'huge'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["train", "--model", "vae", "--out", str(tmp_path / "x")])
    assert "unknown model 'vae'" in capsys.readouterr().err


def test_cli_train_with_a_seed_starts_from_the_same_weights_whatever_ran_before(tmp_path):
    """The command builds the model under its seed (build_model(seed=...)): the global RNG's state before
    it (here two different ones; across processes torch's start-up seed) changes nothing, and is restored."""
    sets = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    weights = []
    for before in (1, 2):
        torch.manual_seed(before)
        out = tmp_path / f"run{before}"
        assert cli_main(["train", "--model", "g3an", "--dataset", "shapes", "--steps", "2", "--batch-size", "2",
                         "--seed", "3", "--out", str(out), *sets]) == 0
        weights.append(torch.load(out / "checkpoints" / "step_0000002.pt", weights_only=True)["model"])
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    build_model("g3an", "lesson", seed=3, **TINY)
    assert torch.equal(torch.rand(3), expected)                  # the caller's RNG is left as it was


# ----------------------------------------------------------------------------- it learns
def test_encoder_and_generator_learn_to_reconstruct(clips):
    torch.manual_seed(0)
    model = EncGAN3(tiny(g_base=2, enc_width=8))
    g = torch.Generator().manual_seed(0)
    batch = {"video": clips}
    recon = [float(model.train_step(batch, step, g)["recon"]) for step in range(1, 61)]
    start, end = sum(recon[:5]) / 5, sum(recon[-5:]) / 5
    assert end < 0.6 * start, (start, end)
