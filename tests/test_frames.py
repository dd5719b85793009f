"""Frame baselines of lesson 01 (VAE, DCGAN, Larsen et al.'s VAE/GAN), D_I's features, blur measures."""
import pytest
import torch
import torch.nn.functional as F

from vgan_lesson.data import make_dataset
from vgan_lesson.models import ImageDiscriminator
from vgan_lesson.models.frames import (FrameDecoder, FrameEncoder, FrameGAN, FrameModelConfig, FrameVAE,
                                       FrameVAEGAN, make_frame_model)
from vgan_lesson.sharpness import gradient_sharpness, high_frequency_energy, relative_sharpness

SMALL = dict(size=16, latent_dim=8, width=8)


def _snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(module, before):
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before))


@pytest.fixture(scope="module")
def clips():
    return make_dataset("shapes", "train", size=16, frames=4, num_clips=8, seed=0).batch(range(8))


# ----------------------------------------------------------------------------- networks
@pytest.mark.parametrize("size", [16, 32, 64])
def test_encoder_decoder_shapes_and_range(size):
    cfg = FrameModelConfig(size=size, latent_dim=12, width=4)
    x = torch.rand(3, 3, size, size) * 2 - 1
    mu, logvar = FrameEncoder(cfg)(x)
    assert mu.shape == logvar.shape == (3, 12)
    out = FrameDecoder(cfg)(torch.randn(5, 12) * 10)
    assert out.shape == (5, 3, size, size) and out.abs().max() <= 1


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="size"):
        FrameModelConfig(size=24)
    with pytest.raises(ValueError, match="at least 8"):
        FrameModelConfig(size=4)
    with pytest.raises(ValueError, match="kl_weight"):
        FrameModelConfig(kl_weight=-1.0)
    with pytest.raises(ValueError, match="betas"):
        FrameModelConfig(betas=(0.5, 1.5))
    with pytest.raises(ValueError, match="feature_layer"):
        FrameVAEGAN(FrameModelConfig(**SMALL, feature_layer=5))


def test_factory_builds_each_model_and_names_the_choices():
    assert isinstance(make_frame_model("vae"), FrameVAE)
    assert isinstance(make_frame_model("gan", FrameModelConfig(**SMALL)), FrameGAN)
    assert isinstance(make_frame_model("vaegan", FrameModelConfig(**SMALL)), FrameVAEGAN)
    with pytest.raises(ValueError, match="'vae', 'gan', 'vaegan'"):
        make_frame_model("vqvae")
    with pytest.raises(TypeError, match="FrameModelConfig"):
        FrameVAE({"size": 32})


def test_bad_inputs_get_clear_errors(clips):
    model, g = FrameVAE(FrameModelConfig(**SMALL)), torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"\(B, 3, 16, 16\)"):
        model.encode(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="3 channels"):
        model.encode(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match=r"\(N, 3, T, 16, 16\)"):
        model.train_step({"video": torch.zeros(2, 3, 16, 16)}, 1, g)
    with pytest.raises(ValueError, match="'video'"):
        model.train_step({"label": torch.zeros(2)}, 1, g)
    with pytest.raises(ValueError, match="z must have shape"):
        model.decoder(torch.zeros(2, 9))


def test_frames_of_takes_one_seeded_frame_from_each_clip(clips):
    model = FrameVAE(FrameModelConfig(**SMALL))
    video = clips["video"]
    a = model.frames_of(clips, torch.Generator().manual_seed(3))
    b = model.frames_of(clips, torch.Generator().manual_seed(3))
    assert a.shape == (8, 3, 16, 16) and torch.equal(a, b)
    for i in range(8):   # each frame is one of its own clip's frames
        assert any(torch.equal(a[i], video[i, :, t]) for t in range(video.shape[2]))
    frames = video[:, :, 0]
    assert torch.equal(model.frames_of({"frames": frames}, torch.Generator()), frames)


# ----------------------------------------------------------------------------- D_I features
def test_image_discriminator_features_match_forward():
    d = ImageDiscriminator(size=32, width=4).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    feats = d.features(x)
    assert [tuple(f.shape) for f in feats] == [(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4)]
    torch.testing.assert_close(d.head(feats[-1]).flatten(1)[:, 0], d(x))
    with pytest.raises(ValueError, match="32×32"):
        d.features(torch.zeros(2, 3, 16, 16))


# ----------------------------------------------------------------------------- one step of each model
@pytest.mark.parametrize("name, logs, trained, frozen", [
    ("vae", {"rec", "kl", "loss"}, ["encoder", "decoder"], []),
    ("gan", {"D", "G", "p_real", "p_fake"}, ["decoder", "discriminator"], []),
    ("vaegan", {"D", "G_adv", "llike", "kl", "rec_l1"}, ["encoder", "decoder", "discriminator"], []),
])
def test_train_step_logs_and_updates_the_right_networks(clips, name, logs, trained, frozen):
    torch.manual_seed(0)
    model = make_frame_model(name, FrameModelConfig(**SMALL))
    before = {n: _snapshot(getattr(model, n)) for n in trained}
    out = model.train_step(clips, 1, torch.Generator().manual_seed(0))
    assert set(out) == logs and all(torch.isfinite(torch.as_tensor(v)).all() for v in out.values())
    for n in trained:
        assert _changed(getattr(model, n), before[n]), f"{name}: {n} did not change"
    g = torch.Generator().manual_seed(1)
    assert model.sample(5, g).shape == (5, 3, 16, 16)
    if name != "gan":
        assert model.reconstruct(clips["video"][:, :, 0]).shape == (8, 3, 16, 16)
    else:
        assert not hasattr(model, "encoder")


def test_vaegan_sends_no_gan_gradient_to_the_encoder(clips):
    """Larsen et al., Algorithm 1: the encoder minimises L_prior + L_llike only; with both weights 0
    its gradient is exactly zero (so Adam leaves it unchanged) while decoder and D still train."""
    torch.manual_seed(0)
    model = FrameVAEGAN(FrameModelConfig(**SMALL, kl_weight=0.0, rec_weight=0.0))
    enc, dec = _snapshot(model.encoder), _snapshot(model.decoder)
    model.train_step(clips, 1, torch.Generator().manual_seed(0))
    assert not _changed(model.encoder, enc) and _changed(model.decoder, dec)
    assert all(p.grad is None or not p.grad.any() for p in model.encoder.parameters())


def test_vae_learns_and_its_reconstructions_are_blurry():
    """The lesson's claim, measured: the VAE's L1 reconstruction error on a fixed batch of 32 px
    `shapes` frames falls below 60 % of its start within 80 steps, and its reconstructions have a
    lower RMS gradient (are blurrier) than the real frames."""
    torch.manual_seed(0)
    data = make_dataset("shapes", "train", size=32, frames=2, num_clips=32, seed=0)
    frames = data.render(range(32))[:, :, 0]
    batch = {"frames": frames}
    model = FrameVAE(FrameModelConfig(size=32, latent_dim=16, width=16, lr=1e-3))
    g = torch.Generator().manual_seed(0)
    first = float(model.train_step(batch, 1, g)["rec"].detach())
    for step in range(2, 81):
        last = float(model.train_step(batch, step, g)["rec"].detach())
    assert last < 0.6 * first, (first, last)
    model.eval()
    recon = model.reconstruct(frames)
    ratio = relative_sharpness(recon, frames)
    assert ratio < 0.8, ratio
    assert float(high_frequency_energy(recon).mean()) < float(high_frequency_energy(frames).mean())


# ----------------------------------------------------------------------------- blur measures
def test_gradient_sharpness_closed_form_and_blur():
    w = 9
    edge = torch.full((1, 1, w, w), -1.0)
    edge[..., w // 2:] = 1.0                                          # one vertical step of height 2
    # dx² = 4 on one column of the (w-1)×(w-1) grid: rms = sqrt(4 (w-1) / (w-1)²) = 2 / sqrt(w-1)
    torch.testing.assert_close(gradient_sharpness(edge), torch.tensor([2 / (w - 1) ** 0.5]))
    assert float(gradient_sharpness(torch.zeros(2, 3, 8, 8)).abs().max()) == 0.0
    frames = make_dataset("shapes", "train", size=32, frames=2, num_clips=8, seed=0).render(range(8))[:, :, 0]
    blurred = F.avg_pool2d(F.pad(frames, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    assert (gradient_sharpness(blurred) < gradient_sharpness(frames)).all()
    assert relative_sharpness(frames, frames) == pytest.approx(1.0)
    assert gradient_sharpness(frames[0]).shape == (1,)
    with pytest.raises(ValueError, match="constant"):
        relative_sharpness(frames, torch.zeros(2, 3, 8, 8))


def test_high_frequency_energy_bounds():
    checker = (torch.arange(8).view(-1, 1) + torch.arange(8).view(1, -1)) % 2 * 2.0 - 1.0
    assert float(high_frequency_energy(checker.expand(1, 3, 8, 8))) == pytest.approx(1.0)
    assert float(high_frequency_energy(torch.ones(1, 3, 8, 8))) == 0.0
    wave = torch.cos(torch.arange(16) * 2 * torch.pi / 16).view(1, 1, 1, 16).expand(1, 3, 16, 16)
    assert float(high_frequency_energy(wave)) < 1e-6                  # one cycle per frame: all low
    with pytest.raises(ValueError, match="cutoff"):
        high_frequency_energy(checker.expand(1, 3, 8, 8), cutoff=1.5)
