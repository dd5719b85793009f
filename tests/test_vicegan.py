"""VICE-GAN: the Table 1 autoencoders and their training, the GRU motion network, the losses by hand, the
Table 2 variants (all / single frame, fine-tuned / frozen), determinism, the shared training loop,
autoencoder files, and bad input.

Tiny networks at 16×16×4, so the file stays fast on one CPU core; the autoencoder inside the GAN is
randomly initialised except where loading is what is tested.
"""
from __future__ import annotations

import math
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vgan_lesson.data import make_dataset
from vgan_lesson.losses import category_cross_entropy, content_consistency
from vgan_lesson.models import VICEGAN, VICEGANConfig
from vgan_lesson.models.fevgan import FEVGAN, FEVGANConfig
from vgan_lesson.models.vicegan import (CONDITIONS, PAPER_TABLE_4, AutoencoderConfig, AutoencoderOutput,
                                        FaceAutoencoder, MotionRNN,
                                        autoencoder_loss, evaluate_autoencoder, load_autoencoder_file,
                                        save_autoencoder, train_autoencoder, variant_config, variant_configs)
from vgan_lesson.training import TrainConfig, latest_checkpoint, load_checkpoint, train

from test_encgan3 import _changed  # the same parameter-change helper as EncGAN3's and FEV-GAN's tests

TINY = dict(size=16, frames=4, ae_width=2, g_width=2, d_width=2, content_dim=8, motion_dim=3, noise_dim=3)
TABLE_1 = {"small": (2, 2), "medium": (4, 3), "large": (5, 4)}     # (#Conv, #Deconv)


def tiny(**overrides) -> VICEGANConfig:
    return VICEGANConfig.lesson(**{**TINY, **overrides})


def model(**overrides) -> VICEGAN:
    torch.manual_seed(0)
    return VICEGAN(tiny(**overrides))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def faces():
    return make_dataset("faces", size=16, frames=4, num_clips=8)


@pytest.fixture(scope="module")
def batch(faces):
    b = faces.batch(range(8))
    return {"video": b["video"], "label": b["label"]}


def quiet(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(steps=2, batch_size=4, progress=False, log_every=1, sample_every=0,
                                 checkpoint_every=0, out_dir=None), **kw})


GROUPS = {"D": ("image_discriminator", "video_discriminator"), "G": ("motion_rnn", "image_generator"),
          "AE": ("autoencoder",)}


def _snapshot(m: VICEGAN) -> dict[str, list[torch.Tensor]]:
    """Parameters (and, for the autoencoder, batch-norm statistics too) of each group."""
    out = {}
    for group, names in GROUPS.items():
        mods = [getattr(m, n) for n in names]
        tensors = [p for mod in mods for p in mod.parameters()]
        if group == "AE":
            tensors += [b for mod in mods for b in mod.buffers()]
        out[group] = [t.detach().clone() for t in tensors]
    return out


# ----------------------------------------------------------------------------- the autoencoders (Table 1)
@pytest.mark.parametrize("architecture", ["small", "medium", "large"])
@pytest.mark.parametrize("kind", ["standard", "variational"])
def test_autoencoders_of_table_1(kind, architecture):
    torch.manual_seed(0)
    ae = FaceAutoencoder(AutoencoderConfig.lesson(kind=kind, architecture=architecture, size=16, width=4))
    convs = sum(isinstance(m, nn.Conv2d) for m in ae.encoder.body.modules())
    deconvs = sum(isinstance(m, nn.ConvTranspose2d) for m in ae.decoder.modules())
    assert (convs, deconvs) == TABLE_1[architecture]
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    out = ae(x, generator=gen())
    assert out.reconstruction.shape == x.shape and out.reconstruction.abs().max() <= 1
    assert out.mu.shape == out.code.shape == (3, 50) and ae.encode(x).shape == (3, 50)
    assert (out.logvar is None) == (kind == "standard")
    if kind == "variational":                     # a sample while training, the mean as the content code
        assert not torch.equal(out.code, out.mu)
        assert torch.equal(ae.encode(x), out.mu)
    assert ae.decode(out.mu).shape == x.shape


def test_paper_widths_of_appendix_a():
    large = FaceAutoencoder(AutoencoderConfig.paper())
    widths = [m.out_channels for m in large.encoder.body.modules() if isinstance(m, nn.Conv2d)]
    assert widths == [32, 64, 128, 256, 512] and large.encoder.feature_shape == (512, 2, 2)   # Table 6 at 64 px
    assert [m.out_channels for m in large.decoder.modules() if isinstance(m, nn.ConvTranspose2d)] == [256, 128, 64, 32]
    medium = FaceAutoencoder(AutoencoderConfig.paper(architecture="medium"))
    assert medium.encoder.feature_shape == (256, 1, 1)                 # Table 7's strides 4, 4, 3, 3: 64 -> 1
    small = FaceAutoencoder(AutoencoderConfig.paper(architecture="small"))
    assert small.encoder.feature_shape == (4, 17, 17)                  # Table 8, then MaxPool(2, 2, 1)
    paper = AutoencoderConfig.paper()
    assert (paper.size, paper.content_dim, paper.lr, paper.name) == (64, 50, 0.005, "standard large")
    assert set(PAPER_TABLE_4) == {(k, a) for k in ("standard", "variational") for a in TABLE_1}


def test_autoencoder_loss_by_hand():
    frames = torch.zeros(1, 1, 1, 2)
    out = AutoencoderOutput(torch.tensor([[[[0.5, -0.5]]]]), torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), None)
    total, mse, kl = autoencoder_loss(frames, out, kl_weight=10.0)
    assert float(total) == float(mse) == 0.25 and float(kl) == 0.0
    out = out._replace(logvar=torch.zeros(1, 2))             # KL of N((1, 0), I) from N(0, I) = 0.5
    total, mse, kl = autoencoder_loss(frames, out, kl_weight=2.0)
    assert math.isclose(float(kl), 0.5) and math.isclose(float(total), 0.25 + 2.0 * 0.5)


def test_a_tiny_autoencoder_learns_in_50_steps():
    config = AutoencoderConfig.lesson(size=16, width=4, lr=5e-3)
    torch.manual_seed(0)
    before = evaluate_autoencoder(FaceAutoencoder(config), num_clips=8, frames=4)
    trained, losses = train_autoencoder(config, steps=50, batch_size=16, frames=4, num_clips=64)
    after = evaluate_autoencoder(trained, num_clips=8, frames=4)
    assert len(losses) == 50 and sum(losses[-5:]) < 0.5 * sum(losses[:5])
    assert after["mse"] < 0.6 * before["mse"], (before, after)
    assert after["ssim"] > before["ssim"] and 0 < after["ssim"] <= 1
    again, losses_again = train_autoencoder(config, steps=3, batch_size=4, frames=4, num_clips=64)
    assert losses_again == train_autoencoder(config, steps=3, batch_size=4, frames=4, num_clips=64)[1]   # seeded


def test_autoencoder_files_are_atomic_and_round_trip(tmp_path):
    torch.manual_seed(1)
    ae = FaceAutoencoder(AutoencoderConfig.lesson(size=16, width=2, content_dim=8))
    path = save_autoencoder(ae, tmp_path / "ae" / "faces_standard_large.pt", steps=3)
    assert sorted(os.listdir(tmp_path / "ae")) == ["faces_standard_large.pt"]       # no temporary file left
    payload = torch.load(path, weights_only=True)
    assert payload["config"]["width"] == 2 and payload["steps"] == 3
    back = load_autoencoder_file(path)
    assert not back.training
    assert all(torch.equal(v, back.state_dict()[k]) for k, v in ae.state_dict().items())
    m = model()
    assert m.load_autoencoder(path) is m
    assert all(torch.equal(v, m.autoencoder.state_dict()[k]) for k, v in ae.state_dict().items())
    assert not any(p.requires_grad for p in m.autoencoder.parameters())        # re-frozen after loading
    m.load_autoencoder(ae.state_dict())                                        # a plain state dict works too
    assert VICEGAN(tiny(), autoencoder=ae).autoencoder.encoder.head.weight.equal(ae.encoder.head.weight)


# ----------------------------------------------------------------------------- the GAN's parts
def test_every_part_has_the_documented_shape(batch):
    m = model()
    video, labels = batch["video"][:2], batch["label"][:2]
    assert m.frame_codes(video).shape == (2, 4, 8)
    assert m.content_codes(video).shape == (2, 4, 8)
    assert m.motion_codes(2, 4, gen()).shape == (2, 4, 3)
    assert m.config.latent_dim == 6 + 3 + 8
    clip = m.animate(video[:, :, 0], labels, gen())
    assert clip.shape == (2, 3, 4, 16, 16) and clip.abs().max() <= 1
    assert m.animate(video[:, :, 0], labels, gen(), frames=7).shape == (2, 3, 7, 16, 16)   # any length
    assert m.translate(video, torch.tensor([5, 0]), gen()).shape == (2, 3, 4, 16, 16)
    assert m.image_discriminator(video[:, :, 0]).shape == (2,)
    assert m.video_discriminator(video).shape == (2, 1 + 6)                 # real/fake + 6 category logits
    six = m.animate_all(video[0, :, 0], gen())
    assert six.shape == (6, 3, 4, 16, 16)
    assert all(not torch.allclose(six[0], six[k]) for k in range(1, 6))     # the category reaches the frames
    assert set(m.optimizers()) == {"D", "G"}
    paper = VICEGANConfig.paper()
    assert (paper.size, paper.frames, paper.content_dim, paper.motion_dim, paper.lr, paper.betas) == \
        (64, 16, 50, 10, 2e-4, (0.5, 0.999))
    assert VICEGAN(paper).image_generator.body[0][0].out_channels == 512    # MoCoGAN's 512-256-128-64


def test_the_gru_gets_fresh_noise_at_every_step():
    rnn = MotionRNN(noise_dim=3, motion_dim=3)
    seen = []
    original = rnn.cell.forward
    rnn.cell.forward = lambda eps, h: seen.append(eps.clone()) or original(eps, h)
    m = model()
    m.motion_rnn = rnn
    codes = m.motion_codes(2, 5, gen(3))
    assert len(seen) == 5 and all(not torch.equal(seen[0], s) for s in seen[1:])   # a new ε_t at each step
    assert not torch.allclose(codes[:, 0], codes[:, 1])
    assert torch.equal(codes, m.motion_codes(2, 5, gen(3)))                       # same seed, same numbers
    assert not torch.equal(codes, m.motion_codes(2, 5, gen(4)))
    h0, eps = torch.zeros(1, 3), torch.zeros(1, 3, 3)
    eps[0, 2] = 1.0                                       # noise only at the 3rd step changes steps 3 onwards
    with torch.no_grad():
        a, b = rnn(h0, torch.zeros(1, 3, 3)), rnn(h0, eps)
    assert torch.equal(a[:, :2], b[:, :2]) and not torch.allclose(a[:, 2], b[:, 2])


# ----------------------------------------------------------------------------- the losses, by hand
def test_content_consistency_and_category_losses_by_hand():
    real = torch.tensor([[[1.0, 2.0], [0.0, 0.0]]])             # (N=1, T=2, D=2)
    fake = torch.tensor([[[0.0, 2.0], [3.0, -1.0]]])
    assert math.isclose(float(content_consistency(real, fake)), (1 + 0 + 9 + 1) / 4)
    assert float(content_consistency(real, real)) == 0.0
    with pytest.raises(ValueError, match="pair up frame by frame"):
        content_consistency(real, fake[:, :1])
    logits = torch.tensor([[0.0, 0.0, 0.0], [math.log(3.0), 0.0, 0.0]])
    labels = torch.tensor([2, 0])
    expected = (math.log(3.0) + -math.log(3.0 / 5.0)) / 2      # -log(1/3) and -log(3/(3+1+1))
    assert math.isclose(float(category_cross_entropy(logits, labels)), expected, rel_tol=1e-6)
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\], got min 0, max 3"):
        category_cross_entropy(logits, torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="integer tensor"):
        category_cross_entropy(logits, torch.tensor([0.0, 1.0]))


def test_the_generator_loss_is_the_weighted_sum(batch):
    m = model(lambda_content=3.0, lambda_category=0.5)
    logs = m.train_step(batch, 1, gen())
    assert torch.isclose(logs["loss_G"], logs["adv"] + 3.0 * logs["content"] + 0.5 * logs["category"])
    assert torch.isclose(logs["loss_D"], logs["loss_DI"] + logs["loss_DV"] + 0.5 * logs["category_D"])
    assert all(torch.isfinite(v) for v in logs.values())


def test_content_loss_compares_real_and_generated_frames(batch, monkeypatch):
    m = model(content_encoding="all")
    seen = []
    original = m.generate

    def spy(z_c, z_m, labels):
        out = original(z_c, z_m, labels)
        seen.append((z_c.detach(), out.detach()))
        return out

    monkeypatch.setattr(m, "generate", spy)
    logs = m.train_step(batch, 1, gen())
    z_c, fake = seen[0]
    with torch.no_grad():                      # the frozen encoder is the same before and after the step
        real_codes = m.frame_codes(batch["video"])
        assert torch.allclose(z_c, real_codes)                     # "all frames": G_I is fed the real codes
        expected = ((real_codes - m.frame_codes(fake)) ** 2).mean()   # E(real frame t) vs E(generated frame t)
    assert torch.isclose(logs["content"], expected, rtol=1e-5, atol=1e-9)


# ----------------------------------------------------------------------------- Table 2: frozen / fine-tuned, single / all
def test_frozen_autoencoder_gets_no_gradient_and_no_optimizer(batch):
    m = model(fine_tune=False)
    m.train()
    assert not m.autoencoder.training and not m.autoencoder.encoder.training
    assert not any(p.requires_grad for p in m.autoencoder.parameters())
    optimized = {id(p) for opt in m.optimizers().values() for g in opt.param_groups for p in g["params"]}
    assert not optimized & {id(p) for p in m.autoencoder.parameters()}
    before = _snapshot(m)
    m.train_step(batch, 1, gen())
    m.train_step(batch, 2, gen())
    assert _changed(before, _snapshot(m)) == {"D", "G"}                     # the AE (and its BN stats) untouched
    assert all(p.grad is None for p in m.autoencoder.parameters())


def test_fine_tuned_autoencoder_is_trained_by_the_generator_loss(batch):
    m = model(fine_tune=True)
    m.train()
    assert set(m.optimizers()) == {"D", "G", "AE"}
    assert m.autoencoder.encoder.training and not m.autoencoder.decoder.training
    ae_params = {id(p) for g in m.optimizers()["AE"].param_groups for p in g["params"]}
    assert ae_params == {id(p) for p in m.autoencoder.encoder.parameters()}
    assert not any(p.requires_grad for p in m.autoencoder.decoder.parameters())  # the decoder is never used here
    before = _snapshot(m)
    m.train_step(batch, 1, gen())
    assert _changed(before, _snapshot(m)) == {"D", "G", "AE"}
    assert all(p.grad is not None for p in m.autoencoder.encoder.parameters())


def test_single_frame_and_all_frames_feed_different_content(batch, monkeypatch):
    video = batch["video"][:2]
    sizes = {}
    for encoding in ("single", "all"):
        m = model(content_encoding=encoding).eval()
        calls = []
        original = m.autoencoder.encoder.forward
        monkeypatch.setattr(m.autoencoder.encoder, "forward", lambda x: calls.append(x.shape[0]) or original(x))
        with torch.no_grad():
            codes = m.content_codes(video)
            changed = video.clone()
            changed[:, :, 1:] = -changed[:, :, 1:]                       # every frame but the first changes
            codes_changed = m.content_codes(changed)
        sizes[encoding] = list(calls)
        if encoding == "single":                                          # frame 1's code, repeated K times
            assert torch.equal(codes, codes[:, :1].expand_as(codes))
            assert torch.equal(codes, codes_changed)
            assert torch.allclose(codes[:, 0], m.autoencoder.encode(video[:, :, 0]))
        else:                                                             # every frame's own code
            assert not torch.allclose(codes[:, 0], codes[:, 1])
            assert torch.equal(codes[:, 0], codes_changed[:, 0]) and not torch.allclose(codes, codes_changed)
    assert sizes == {"single": [2, 2], "all": [2 * 4, 2 * 4]}             # the encoder sees 1 vs T frames per clip
    # and in training G_I is fed the same difference
    fed = {}
    for encoding in ("single", "all"):
        m = model(content_encoding=encoding)
        original = m.generate
        monkeypatch.setattr(m, "generate", lambda z_c, z_m, labels, e=encoding: fed.setdefault(e, z_c) is None
                            or original(z_c, z_m, labels))
        m.train_step(batch, 1, gen())
    assert torch.equal(fed["single"], fed["single"][:, :1].expand_as(fed["single"]))
    assert not torch.allclose(fed["all"][:, 0], fed["all"][:, 1])


def test_table_2_variants():
    configs = variant_configs("lesson", **TINY)
    assert list(configs) == ["Model 1", "Model 2", "Model 3", "Model 4"]
    expected = {"Model 1": ("all", True), "Model 2": ("all", False), "Model 3": ("single", True),
                "Model 4": ("single", False)}
    for name, config in configs.items():
        assert (config.content_encoding, config.fine_tune) == expected[name]
        assert config.table_2_model == int(name[-1]) and config.name.startswith(f"VICE-GAN {name} (")
        assert ("AE" in VICEGAN(config).optimizers()) == config.fine_tune
    assert VICEGANConfig.lesson().name == "VICE-GAN Model 4 (single frame, frozen AE)"     # the default
    assert variant_config("Model 2", "paper").size == 64
    assert CONDITIONS == {"unseen": ("train", "test"), "seen": ("seen_train", "seen_test")}


# ----------------------------------------------------------------------------- training: it moves, deterministically
def test_train_steps_change_the_parameters_deterministically(batch):
    runs = []
    for _ in range(2):
        m = model(content_encoding="all", fine_tune=True)
        before = _snapshot(m)
        g = gen(5)
        logs = [m.train_step(batch, step, g) for step in (1, 2)]
        assert _changed(before, _snapshot(m)) == {"D", "G", "AE"}
        runs.append((logs, m.state_dict()))
    (logs_a, state_a), (logs_b, state_b) = runs
    assert all(torch.equal(a[k], b[k]) for a, b in zip(logs_a, logs_b) for k in a)     # same seed, same numbers
    assert all(torch.equal(v, state_b[k]) for k, v in state_a.items())
    other = model(content_encoding="all", fine_tune=True)
    assert not torch.equal(other.train_step(batch, 1, gen(6))["loss_G"], logs_a[0]["loss_G"])


def test_the_shared_training_loop_trains_it(tmp_path, faces):
    m = model()
    history = train(m, faces, quiet(out_dir=str(tmp_path / "run"), checkpoint_every=1, sample_every=2,
                                    sample_count=3), callbacks=[])
    assert history.steps == [1, 2] and {"loss_D", "loss_G", "content", "category"} <= set(history.losses)
    assert not m.autoencoder.training or m.config.fine_tune
    resumed = model()
    load_checkpoint(latest_checkpoint(tmp_path / "run"), resumed)
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in m.state_dict().items())
    assert not any(p.requires_grad for p in resumed.autoencoder.parameters())
    with torch.no_grad():
        a, b = m.sample(3, gen(0)), m.sample(3, gen(0))
    assert a.shape == (3, 3, 4, 16, 16) and torch.equal(a, b)


# ----------------------------------------------------------------------------- bad input
def test_bad_input_gets_clear_errors(batch):
    m = model()
    face = batch["video"][:2, :, 0]
    with pytest.raises(ValueError, match=r"emotion classes in \[0, 5\] \(anger, .*surprise\), got \[6\]"):
        m.animate(face, torch.tensor([1, 6]), gen())
    with pytest.raises(ValueError, match=r"got \[-1\]"):
        m.animate(face, -1, gen())
    with pytest.raises(TypeError, match="integer emotion classes"):
        m.animate(face, torch.tensor([0.0, 1.0]), gen())
    with pytest.raises(TypeError, match="emotion classes"):
        m.animate(face, "happiness", gen())
    with pytest.raises(ValueError, match=r"shape \(2,\) \(one emotion per clip\), got \(3,\)"):
        m.animate(face, torch.tensor([0, 1, 2]), gen())
    with pytest.raises(ValueError, match=r"one image \(3, 16, 16\) without the batch axis"):
        m.animate(face[0], 0, gen())
    with pytest.raises(ValueError, match=r"got a video batch \(2, 3, 4, 16, 16\)"):
        m.animate(batch["video"][:2], 0, gen())
    with pytest.raises(ValueError, match=r"3 channels .*got shape \(2, 1, 16, 16\)"):
        m.animate(face[:, :1], 0, gen())
    with pytest.raises(ValueError, match=r"must be 16×16 faces for this model \(expected \(B, 3, 16, 16\)\), got \(2, 3, 32, 32\)"):
        m.animate(F.interpolate(face, size=32), 0, gen())
    with pytest.raises(ValueError, match=r"values in \[-1.0, 1.0\]"):
        m.animate(face * 3, 0, gen())
    with pytest.raises(TypeError, match="torch.Tensor"):
        m.animate(face.numpy(), 0, gen())
    with pytest.raises(ValueError, match="animate_all takes one face"):
        m.animate_all(face, gen())
    with pytest.raises(ValueError, match="a batch needs 'video'.*and 'label'"):
        m.train_step({"video": batch["video"][:2]}, 1, gen())
    with pytest.raises(ValueError, match=r"\(N, 3, 4, 16, 16\) for this model, got \(2, 3, 2, 16, 16\)"):
        m.train_step({"video": batch["video"][:2, :, :2], "label": batch["label"][:2]}, 1, gen())
    with pytest.raises(ValueError, match=r"unknown VICE-GAN variant \(Table 2\) 'Model 5'"):
        variant_config("Model 5")
    with pytest.raises(ValueError, match="Model 2 fixes \\['fine_tune'\\]"):
        variant_config("Model 2", fine_tune=True)
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        VICEGANConfig.for_scale("huge")
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        variant_configs("huge")
    with pytest.raises(ValueError, match="unknown content_encoding 'first'"):
        tiny(content_encoding="first")
    with pytest.raises(ValueError, match="unknown autoencoder architecture 'huge'"):
        tiny(ae_architecture="huge")
    with pytest.raises(TypeError, match="config must be a VICEGANConfig, got FEVGANConfig"):
        VICEGAN(FEVGANConfig.lesson())


def test_other_models_weights_are_refused(tmp_path, batch):
    m = model()
    fev = FEVGAN(FEVGANConfig.lesson(size=16, frames=4, enc_width=2, g_width=2, d_width=2, id_width=2, id_dim=8))
    before = {k: v.clone() for k, v in m.autoencoder.state_dict().items()}
    with pytest.raises(ValueError, match="whole FEV-GAN model, not of a VICE-GAN autoencoder"):
        m.load_autoencoder(fev.state_dict())
    with pytest.raises(ValueError, match="these weights are a FEV-GAN model's"):
        m.load_state_dict(fev.state_dict())
    # a training checkpoint of FEV-GAN, as a file: refused by load_autoencoder and by load_checkpoint
    out = tmp_path / "fevgan"
    train(fev, make_dataset("faces", size=16, frames=4, num_clips=4), quiet(steps=1, out_dir=str(out)), callbacks=[])
    ckpt = latest_checkpoint(out)
    with pytest.raises(ValueError, match="is a training checkpoint of FEVGAN, not a VICE-GAN autoencoder"):
        m.load_autoencoder(ckpt)
    with pytest.raises(ValueError, match=r"written by model class .*FEVGAN.*loaded is .*VICEGAN"):
        load_checkpoint(ckpt, m)
    # an autoencoder of another architecture: named field by field
    other = FaceAutoencoder(AutoencoderConfig.lesson(size=16, width=3, content_dim=8, architecture="medium"))
    with pytest.raises(ValueError, match="architecture: expected 'large', found 'medium'; .*width: expected 2, found 3"):
        m.load_autoencoder(other)
    with pytest.raises(ValueError, match=r"do not fit this model's standard large autoencoder: missing"):
        m.load_autoencoder({"encoder.extra": torch.zeros(1)})
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt or not a vgan_lesson file"):
        m.load_autoencoder(tmp_path / "junk.pt")
    assert all(torch.equal(v, before[k]) for k, v in m.autoencoder.state_dict().items())   # nothing half-loaded


def test_build_model_and_cli_wire_vicegan(tmp_path, capsys):
    from vgan_lesson.__main__ import build_model, main as cli_main
    from vgan_lesson.pretrained import RECIPES

    untrained = build_model("vicegan", autoencoder_weights=None)
    assert isinstance(untrained, VICEGAN) and untrained.config.size == 32
    with pytest.raises(ValueError, match="pretrain vicegan_autoencoder_faces"):
        build_model("vicegan", autoencoder_weights=str(tmp_path / "missing.pt"))
    assert RECIPES["vicegan_autoencoder_faces"].file == "autoencoders/faces_standard_large.pt"
    assert RECIPES["vicegan_faces"].needs == ("vicegan_autoencoder_faces",)
    with pytest.raises(SystemExit):
        cli_main(["train", "--model", "vicegan", "--dataset", "dancer", "--out", str(tmp_path / "x")])
    assert "use --dataset faces" in capsys.readouterr().err
