"""FEV-GAN: the parts and their shapes, Eq. 1/3/4/5, the frozen E_Id, Algorithm 1's order, ablations,
labels, bad input, learning, train/resume and the E_Id loading paths.

Tiny networks at 16×16×8 (a 32-px model only where the size itself is tested), so the file stays
fast on one CPU core; E_Id is randomly initialised except where loading is what is tested.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vgan_lesson.data import make_dataset
from vgan_lesson.evaluators import Evaluator
from vgan_lesson.losses import d_loss, g_adv_loss, identity_l1, l1_reconstruction
from vgan_lesson.models import VideoDecoder, time_upsampling
from vgan_lesson.models.encgan3 import EncGAN3, EncGAN3Config
from vgan_lesson.models.encoders import SpatialEncoder
from vgan_lesson.models.fevgan import (FEVGAN, FEVGANConfig, IdentityEncoder, ablation_configs,
                                       fevgan_generator_loss, identity_frames, pretrain_identity_encoder)
from vgan_lesson.pretrained import checkpoint_dir
from vgan_lesson.training import TrainConfig, latest_checkpoint, load_checkpoint, train

from test_encgan3 import _changed, spy_updates  # the same parameter-change spy as EncGAN3's update-order test

TINY = dict(size=16, frames=8, enc_width=2, g_width=2, d_width=2, id_width=2, id_dim=8)


def tiny(**overrides) -> FEVGANConfig:
    return FEVGANConfig.lesson(**{**TINY, **overrides})


def model(**overrides) -> FEVGAN:
    torch.manual_seed(0)
    return FEVGAN(tiny(**overrides))


@pytest.fixture(scope="module")
def faces():
    return make_dataset("faces", size=16, frames=8, num_clips=8)


@pytest.fixture(scope="module")
def batch(faces):
    return faces.batch(range(8))


def quiet(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(steps=2, batch_size=4, progress=False, log_every=1, sample_every=0,
                                 checkpoint_every=0, out_dir=None), **kw})


# ----------------------------------------------------------------------------- parts and shapes
def test_every_part_has_the_documented_shape(batch):
    m = model()
    image, video = batch["video"][:4, :, 0], batch["video"][:4]
    ident = m.identity_encoder(image)
    assert ident.maps.shape == (4, m.identity_encoder.out_channels, 4, 4)
    assert ident.embedding.shape == (4, 8)
    assert torch.allclose(ident.embedding.norm(dim=1), torch.ones(4), atol=1e-5)   # L2-normalised
    enc = m.encode(image)
    assert enc.identity.shape == ident.maps.shape
    assert enc.spatial.shape == (4, m.spatial_encoder.out_channels, 4, 4)
    assert m.decoder.in_channels == enc.identity.shape[1] + enc.spatial.shape[1] + 6    # [F_Id, F_s, L]
    clip = m.generate(image, batch["label"][:4])
    assert clip.shape == (4, 3, 8, 16, 16) and clip.min() >= -1 and clip.max() <= 1
    assert m.video_discriminator(video, m.one_hot(batch["label"][:4], 4)).shape == (4,)
    assert m.identity_features(video).shape == (4, 8, 8)
    assert set(m.optimizers()) == {"D", "G"}


@pytest.mark.parametrize("size, frames, first, doublings", [(16, 8, 2, 2), (32, 16, 2, 3), (64, 32, 2, 4),
                                                            (32, 12, 3, 2), (32, 15, 15, 0), (16, 2, 1, 1)])
def test_video_decoder_makes_any_length(size, frames, first, doublings):
    assert time_upsampling(frames, round(math.log2(size / 4))) == (first, doublings)
    decoder = VideoDecoder(5, 3, size, frames, width=2)
    assert (decoder.first_frames, decoder.time_doublings) == (first, doublings)
    assert decoder(torch.randn(2, 5, 4, 4)).shape == (2, 3, frames, size, size)
    with pytest.raises(ValueError, match=r"\(B, 5, 4, 4\).*got \(2, 5, 8, 8\)"):
        decoder(torch.randn(2, 5, 8, 8))


def test_paper_layout_of_the_decoder_and_encoder():
    decoder = VideoDecoder(10, 3, size=64, frames=32, width=64)
    assert decoder.widths == (512, 256, 128, 64)                         # VGAN's widths
    encoder = SpatialEncoder(64, width=64)
    assert encoder.out_channels == 512                                   # "512 feature maps" (Sec. 3.1)
    assert [f.shape[1:] for f in encoder.features(torch.zeros(1, 3, 64, 64))] == \
        [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]


def test_configs_and_scales():
    paper = FEVGANConfig.paper()
    assert (paper.size, paper.frames, paper.lr, paper.betas, paper.id_frames) == (64, 32, 2e-5, (0.5, 0.999), 4)
    lesson = FEVGANConfig.lesson()
    assert (lesson.size, lesson.frames) == (32, 16) and lesson.lr > paper.lr
    assert lesson.id_width != 24        # not the measuring evaluator's architecture
    assert FEVGANConfig.lesson(betas=[0.0, 0.9]).betas == (0.0, 0.9)      # JSON lists from the CLI
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        FEVGANConfig.for_scale("huge")
    with pytest.raises(ValueError, match=r"unknown FEVGANConfig field\(s\) \['lamda_id'\]"):
        FEVGANConfig.for_scale("lesson", lamda_id=1.0)
    with pytest.raises(ValueError, match="at least one encoder"):
        tiny(use_spatial_encoder=False, use_identity_encoder=False)
    with pytest.raises(ValueError, match="id_frames"):
        tiny(id_frames=9)
    with pytest.raises(ValueError, match="unknown id_reference"):
        tiny(id_reference="label")


# ----------------------------------------------------------------------------- the losses, by hand
def test_losses_against_hand_computed_values():
    # Eq. 3: logits 0 are D = 1/2: each BCE term is log 2
    zero = torch.zeros(3)
    assert torch.isclose(d_loss(zero, zero), torch.tensor(2 * math.log(2)))
    assert torch.isclose(g_adv_loss(torch.full((2,), math.log(3.0))), torch.tensor(-math.log(0.75)))  # D = 3/4
    # Eq. 4: per-pixel mean of |Y - Ŷ|
    y, y_hat = torch.zeros(1, 1, 2, 1, 2), torch.tensor([0.5, -1.0, 0.0, 0.5]).view(1, 1, 2, 1, 2)
    assert torch.isclose(l1_reconstruction(y, y_hat), torch.tensor(0.5))
    # Eq. 5: |F(I) - F^i(Ŷ)| averaged over videos, frames and features
    ref = torch.tensor([[1.0, 0.0]])
    frames = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]])
    assert torch.isclose(identity_l1(ref, frames), torch.tensor((0 + 2 + 1) / 6))
    assert torch.isclose(identity_l1(frames, frames), torch.tensor(0.0))          # a per-frame reference
    with pytest.raises(ValueError, match="does not fit"):
        identity_l1(torch.zeros(1, 3), frames)
    # Eq. 1
    total = fevgan_generator_loss(torch.tensor(1.0), torch.tensor(0.5), torch.tensor(0.25), 10.0, 4.0)
    assert float(total) == 1.0 + 5.0 + 1.0
    assert identity_frames(16, 4).tolist() == [0, 5, 10, 15]
    assert identity_frames(32, 4).tolist() == [0, 10, 21, 31]


def test_identity_loss_uses_exactly_id_frames(batch, monkeypatch):
    m = model(id_frames=3)
    seen: list[int] = []
    original = m.identity_encoder.forward
    monkeypatch.setattr(m.identity_encoder, "forward", lambda x: seen.append(x.shape[0]) or original(x))
    video = batch["video"][:4]
    m.train_step({"video": video, "label": batch["label"][:4]}, 1, torch.Generator())
    assert seen == [4, 4 * 3]                  # E_Id(I) for the 4 inputs, then 3 frames of each Ŷ
    # and the value is Eq. 5 on those frames: frames 0, 4 and 7 of 8
    m.eval()
    with torch.no_grad():
        y_hat = m.generate(video[:, :, 0], batch["label"][:4])
        ref = original(video[:, :, 0]).embedding
        picked = original(y_hat[:, :, [0, 4, 7]].transpose(1, 2).reshape(12, 3, 16, 16)).embedding.view(4, 3, -1)
        expected = (picked - ref[:, None]).abs().mean()
        assert torch.isclose(m.identity_loss(y_hat, ref), expected)
    seen.clear()
    m2 = model(id_frames=2, id_reference="video")   # Algorithm 1, line 13: the real clip's frames
    monkeypatch.setattr(m2.identity_encoder, "forward", lambda x: seen.append(x.shape[0]) or original(x))
    m2.train_step({"video": video, "label": batch["label"][:4]}, 1, torch.Generator())
    assert seen == [4, 4 * 2, 4 * 2]


# ----------------------------------------------------------------------------- Algorithm 1 and the frozen E_Id
GROUPS = {"D": ("video_discriminator",), "G": ("spatial_encoder", "decoder"), "E_Id": ("identity_encoder",)}


def _snapshot(m: FEVGAN) -> dict[str, list[torch.Tensor]]:
    out = {}
    for group, names in GROUPS.items():
        mods = [getattr(m, n) for n in names if getattr(m, n) is not None]
        tensors = [p for mod in mods for p in mod.parameters()]
        if group == "E_Id":
            tensors += [b for mod in mods for b in mod.buffers()]     # batch-norm statistics too
        out[group] = [t.detach().clone() for t in tensors]
    return out


def test_train_step_follows_algorithm_1_and_never_moves_e_id(batch, monkeypatch):
    m = model()
    m.train()
    assert m.training and not m.identity_encoder.training               # eval mode kept
    assert not any(p.requires_grad for p in m.identity_encoder.parameters())
    trained = {id(p) for opt in m.optimizers().values() for group in opt.param_groups for p in group["params"]}
    assert not trained & {id(p) for p in m.identity_encoder.parameters()}   # no optimizer holds E_Id
    assert {id(p) for p in m.spatial_encoder.parameters()} <= trained

    calls = spy_updates(m, monkeypatch, snapshot=_snapshot)
    before = _snapshot(m)
    g = torch.Generator().manual_seed(0)
    for step in (1, 2):
        logs = m.train_step({"video": batch["video"][:4], "label": batch["label"][:4]}, step, g)
    assert calls == [("D", {"D"}), ("G", {"G"})] * 2                     # D then G; each moves only itself
    assert "E_Id" not in _changed(before, _snapshot(m))
    assert not m.identity_encoder.training
    assert set(logs) == {"loss_D", "loss_G", "adv", "rec", "id", "D_real", "D_fake"}
    assert all(torch.isfinite(v) for v in logs.values())


@pytest.mark.parametrize("lambda_id", [0.0, 1.0])
def test_lambdas_weight_eq_1(batch, lambda_id):
    m = model(lambda_rec=3.0, lambda_id=lambda_id)
    logs = m.train_step({"video": batch["video"][:4], "label": batch["label"][:4]}, 1, torch.Generator())
    assert torch.isclose(logs["loss_G"], logs["adv"] + 3.0 * logs["rec"] + lambda_id * logs["id"])
    assert logs["id"] > 0                                               # logged even when not trained on


def test_table_3_ablations_build_and_step(batch):
    configs = ablation_configs("lesson", **TINY)
    assert list(configs) == ["FEV-GAN", "FEV-GAN w/o E_s", "FEV-GAN w/o E_Id"]
    full_in = None
    for name, config in configs.items():
        torch.manual_seed(0)
        m = FEVGAN(config)
        assert config.name == name
        full_in = m.decoder.in_channels if full_in is None else full_in
        if name == "FEV-GAN w/o E_s":
            assert m.spatial_encoder is None and m.encode(batch["video"][:2, :, 0]).spatial is None
            assert m.decoder.in_channels == m.identity_encoder.out_channels + 6
        if name == "FEV-GAN w/o E_Id":
            assert m.encode(batch["video"][:2, :, 0]).identity is None
            assert m.decoder.in_channels == m.spatial_encoder.out_channels + 6
        logs = m.train_step({"video": batch["video"][:4], "label": batch["label"][:4]}, 1, torch.Generator())
        assert all(torch.isfinite(v) for v in logs.values()), name
        assert "id" in logs                     # "the same losses": L_id stays in both ablations
    assert full_in == 2 * 2 + 2 * 2 + 6         # at 16 px: F_Id 2·id_width, F_s 2·enc_width maps, 6 labels


# ----------------------------------------------------------------------------- the label matters
def test_the_label_reaches_the_clip_and_the_discriminator(batch):
    m = model().eval()
    image = batch["video"][:2, :, 0]
    with torch.no_grad():
        anger, happy = m.generate(image, 0), m.generate(image, torch.tensor([3, 3]))
        assert not torch.allclose(anger, happy)
        one_hot = m.generate(image, F.one_hot(torch.tensor([3, 3]), 6).float())
        assert torch.allclose(one_hot, happy)
        video = batch["video"][:2]
        d = m.video_discriminator
        assert not torch.allclose(d(video, m.one_hot(0, 2)), d(video, m.one_hot(3, 2)))
        six = m.animate_all(image[0])
    assert six.shape == (6, 3, 8, 16, 16)
    assert all(not torch.allclose(six[0], six[k]) for k in range(1, 6))
    assert torch.allclose(six[3], happy[0], atol=1e-6)


def test_sample_animates_held_out_faces_deterministically():
    m = model().eval()
    images, labels = m.sample_inputs(8)
    assert images.shape == (8, 3, 16, 16) and labels.tolist() == [0, 1, 2, 3, 4, 5, 0, 1]
    assert torch.equal(images[0], images[5]) and not torch.equal(images[0], images[6])   # identity j // 6
    with torch.no_grad():
        a, b = m.sample(8, torch.Generator().manual_seed(0)), m.sample(8, torch.Generator().manual_seed(1))
    assert a.shape == (8, 3, 8, 16, 16) and torch.equal(a, b)
    m.set_sample_inputs(images[:2], [4, 5])
    assert m.sample_inputs(3)[1].tolist() == [4, 5, 4]


# ----------------------------------------------------------------------------- bad input
def test_bad_input_gets_clear_errors(batch):
    m = model()
    image = batch["video"][:2, :, 0]
    with pytest.raises(ValueError, match=r"expression class in \[0, 5\] \(anger, .*surprise\), got \[6\]"):
        m.generate(image, torch.tensor([1, 6]))
    with pytest.raises(ValueError, match=r"expression class in \[0, 5\]"):
        m.generate(image, -1)
    with pytest.raises(TypeError, match="expression class"):
        m.generate(image, "happiness")
    with pytest.raises(ValueError, match=r"one image \(3, 16, 16\) without the batch axis"):
        m.generate(image[0], 0)
    with pytest.raises(ValueError, match=r"got a video batch .*video\[:, :, 0\]"):
        m.generate(batch["video"][:2], 0)
    with pytest.raises(ValueError, match="3 channels"):
        m.generate(image[:, :1], 0)
    with pytest.raises(ValueError, match=r"values in \[-1.0, 1.0\]"):
        m.generate(image * 3, 0)
    with pytest.raises(ValueError, match="animate_all takes one face"):
        m.animate_all(image)
    big = FEVGAN(FEVGANConfig.lesson(size=32, frames=8, enc_width=2, g_width=2, d_width=2, id_width=2, id_dim=8))
    with pytest.raises(ValueError, match=r"must be 32×32 faces .*\(B, 3, 32, 32\)\), got \(2, 3, 16, 16\)"):
        big.generate(image, 0)
    with pytest.raises(ValueError, match="a batch needs 'video'.*and 'label'"):
        m.train_step({"video": batch["video"][:2]}, 1, torch.Generator())
    with pytest.raises(ValueError, match=r"\(N, 3, 8, 16, 16\) for this model, got \(2, 3, 4, 16, 16\)"):
        m.train_step({"video": batch["video"][:2, :, :4], "label": batch["label"][:2]}, 1, torch.Generator())


# ----------------------------------------------------------------------------- it learns; train, resume, checkpoints
def test_a_few_dozen_steps_reduce_the_reconstruction_loss(batch):
    m = model(enc_width=4, g_width=4, lr=1e-3)
    g = torch.Generator()
    rec = [float(m.train_step(batch, step, g)["rec"]) for step in range(1, 31)]
    start, end = sum(rec[:3]) / 3, sum(rec[-3:]) / 3
    assert end < 0.7 * start, (start, end)


def test_train_checkpoint_and_exact_resume(tmp_path, faces):
    straight = model()
    h_straight = train(straight, faces, quiet(), callbacks=[])
    first = model()
    train(first, faces, quiet(steps=1, out_dir=str(tmp_path / "b")), callbacks=[])     # a checkpoint at step 1
    torch.manual_seed(123)
    resumed = FEVGAN(tiny())                                  # other weights: all must come from the checkpoint
    h_resumed = train(resumed, faces, quiet(out_dir=str(tmp_path / "b")), resume=True, callbacks=[])
    assert h_resumed.steps == h_straight.steps == [1, 2]
    assert h_resumed.losses == h_straight.losses               # bit-identical
    for (name, x), y in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(x, y), name
    assert not resumed.identity_encoder.training
    assert not any(p.requires_grad for p in resumed.identity_encoder.parameters())
    # a checkpoint of the other model is refused clearly
    other = EncGAN3(EncGAN3Config.lesson(size=16, g_base=1, d_width=2, enc_width=2, motion_hidden=8,
                                         content_dim=4, motion_dim=2, attention=False))
    out = str(tmp_path / "encgan3")
    train(other, [{"video": faces.batch(range(4))["video"].repeat(1, 1, 2, 1, 1)}],
          quiet(steps=1, out_dir=out), callbacks=[])
    with pytest.raises(ValueError, match=r"written by model class .*EncGAN3.*loaded is .*FEVGAN"):
        load_checkpoint(latest_checkpoint(out), model())
    with pytest.raises(ValueError, match="EncGAN3"):
        train(model(), faces, quiet(out_dir=out, steps=3), resume=True, callbacks=[])


# ----------------------------------------------------------------------------- loading E_Id
def test_load_identity_encoder_from_an_evaluator_file(tmp_path, batch):
    m = model()
    torch.manual_seed(7)
    pretrained = Evaluator(tiny().identity_config())
    path = tmp_path / "faces_identity.pt"
    torch.save({"config": {"dataset": "faces", "kind": "identity", "size": 16, "width": 2, "feature_dim": 8},
                "state_dict": pretrained.state_dict()}, path)
    assert m.load_identity_encoder(path) is m
    for k, v in pretrained.state_dict().items():
        assert torch.equal(m.identity_encoder.network.state_dict()[k], v), k
    assert not any(p.requires_grad for p in m.identity_encoder.parameters()) and not m.identity_encoder.training
    logs = m.train_step({"video": batch["video"][:4], "label": batch["label"][:4]}, 1, torch.Generator())
    assert torch.isfinite(logs["id"])
    # another architecture: named field by field
    torch.save({"config": {"dataset": "faces", "kind": "identity", "size": 16, "width": 3, "feature_dim": 8},
                "state_dict": Evaluator(tiny(id_width=3).identity_config()).state_dict()}, path)
    with pytest.raises(ValueError, match="width: expected 2, found 3"):
        m.load_identity_encoder(path)
    before = {k: v.clone() for k, v in m.identity_encoder.state_dict().items()}
    partial = {**pretrained.state_dict(), "body.0.0.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match=r"do not fit Evaluator: of another shape \['body.0.0.weight'\]"):
        m.load_identity_encoder(partial)
    with pytest.raises(ValueError, match=r"missing \[.*unexpected \['extra'\]"):
        m.load_identity_encoder({"extra": torch.zeros(1)})
    assert all(torch.equal(v, before[k]) for k, v in m.identity_encoder.state_dict().items())   # nothing half-loaded
    with pytest.raises(ValueError, match="not a vgan_lesson file|corrupt"):
        (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
        m.load_identity_encoder(tmp_path / "junk.pt")


class TinyFaceNet(nn.Module):
    """A stand-in for a user's VGG-Face: conv maps of ``channels`` channels at half the input size."""

    def __init__(self, channels: int = 5):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, channels, 3, 2, 1), nn.ReLU())

    def forward(self, x):
        return self.features(x)


def test_load_a_foreign_face_network_from_a_state_dict_file(tmp_path, batch):
    torch.manual_seed(3)
    net = TinyFaceNet()
    path = tmp_path / "vgg_face.pth"
    torch.save(net.state_dict(), path)
    m = FEVGAN(tiny(), identity_network=TinyFaceNet(), identity_input_size=24)
    assert m.identity_encoder.out_channels == 5 and m.identity_encoder.embedding_dim == 5 * 12 * 12
    m.load_identity_encoder(path)
    assert torch.equal(m.identity_encoder.network.features[0].weight, net.features[0].weight)
    assert not any(p.requires_grad for p in m.identity_encoder.parameters())
    assert m.generate(batch["video"][:2, :, 0], 1).shape == (2, 3, 8, 16, 16)
    m.train_step({"video": batch["video"][:4], "label": batch["label"][:4]}, 1, torch.Generator())
    # network + file: the weights go into the given module, which becomes E_Id
    other = TinyFaceNet()
    m.load_identity_encoder(path, network=other, input_size=24)
    assert m.identity_encoder.network is other and not any(p.requires_grad for p in other.parameters())
    with pytest.raises(ValueError, match="do not fit TinyFaceNet"):
        m.load_identity_encoder(path, network=TinyFaceNet(channels=4))
    torch.save(TinyFaceNet(channels=4).state_dict(), path)
    with pytest.raises(ValueError, match="F_Id with 4 channels, the decoder was built for 5"):
        m.load_identity_encoder(path, network=TinyFaceNet(channels=4))


def test_the_measuring_evaluator_is_refused_as_e_id():
    path = checkpoint_dir() / "evaluators" / "faces_identity.pt"
    if not path.is_file():
        pytest.skip("the shipped identity evaluator is not present")
    config = torch.load(path, weights_only=True)["config"]
    m = FEVGAN(FEVGANConfig.lesson(size=config["size"], frames=8, enc_width=2, g_width=2, d_width=2,
                                   id_width=config["width"], id_dim=config["feature_dim"]))
    with pytest.raises(ValueError, match="measures ACD and ACD-I"):
        m.load_identity_encoder(path)
    m.load_identity_encoder(path, allow_evaluator=True)          # on purpose, to show the trap
    with pytest.raises(ValueError, match="holds the measuring identity evaluator"):
        pretrain_identity_encoder(checkpoint_dir() / "evaluators", steps=1)


def test_identity_encoder_wraps_vectors_and_gray_faces():
    class Vector(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3 * 8 * 8, 6)

        def forward(self, x):
            return self.fc(x.flatten(1))

    enc = IdentityEncoder(Vector(), size=16, input_size=8)
    out = enc(torch.zeros(2, 1, 16, 16))                          # gray, resized to 8×8
    assert out.maps.shape == (2, 6, 4, 4) and out.embedding.shape == (2, 6)
    assert torch.equal(out.maps[..., 0, 0], out.maps[..., 3, 3])  # a vector is broadcast over the grid


def test_build_model_and_cli_wire_fevgan(tmp_path, capsys):
    from vgan_lesson.__main__ import build_model, main as cli_main
    from vgan_lesson.pretrained import RECIPES

    untrained = build_model("fevgan", identity_weights=None)
    assert isinstance(untrained, FEVGAN) and untrained.config.size == 32
    with pytest.raises(ValueError, match="pretrain fevgan_identity_encoder_faces"):
        build_model("fevgan", identity_weights=str(tmp_path / "missing.pt"))
    # E_Id is shipped apart from the evaluators that measure the model (same file name, other folder)
    assert RECIPES["fevgan_identity_encoder_faces"].file == "identity_encoders/faces_identity.pt"
    assert RECIPES["evaluator_faces_identity"].file == "evaluators/faces_identity.pt"
    with pytest.raises(SystemExit):
        cli_main(["train", "--model", "fevgan", "--dataset", "shapes", "--out", str(tmp_path / "x")])
    assert "use --dataset faces" in capsys.readouterr().err


@pytest.mark.skipif(not (checkpoint_dir() / "identity_encoders" / "faces_identity.pt").exists(),
                    reason="no shipped E_Id")
def test_shipped_identity_encoder_loads_frozen_and_is_not_the_measuring_evaluator():
    from vgan_lesson.__main__ import build_model
    from vgan_lesson.pretrained import manifest_entry

    entry = manifest_entry("fevgan_identity_encoder_faces")
    assert entry["command"].startswith("python -m vgan_lesson pretrain fevgan_identity_encoder_faces")
    assert entry["held_out"]["verification_accuracy"] > 0.9 and entry["seed"] == 1
    m = build_model("fevgan")                                            # loads it by default
    assert not any(p.requires_grad for p in m.identity_encoder.parameters())
    evaluator = torch.load(checkpoint_dir() / "evaluators" / "faces_identity.pt", weights_only=True)
    mine = {k: v for k, v in m.identity_encoder.network.state_dict().items()}
    assert set(mine) != set(evaluator.get("state_dict", {})) or any(
        mine[k].shape != v.shape or not torch.equal(mine[k], v) for k, v in evaluator["state_dict"].items())


def test_choice_widget_redraws_the_clip_of_the_chosen_face_and_expression():
    """viz.choice_widget (lesson 06's face and expression picker): the first GIF is drawn at once (what a
    headless run keeps) and a new choice redraws it; bad choices get clear errors."""
    from vgan_lesson.data.faces import EXPRESSIONS
    from vgan_lesson.viz import choice_widget, gif_bytes

    m = model().eval()
    faces = torch.rand(2, 3, 16, 16) * 2 - 1
    calls = []

    def render(face, expression):
        calls.append((face, expression))
        with torch.no_grad():
            return m.generate(faces[face:face + 1], expression)[0]

    box = choice_widget(render, {"face": [("first", 0), ("second", 1)],
                                 "expression": [(name, k) for k, name in enumerate(EXPRESSIONS)]},
                        value={"expression": 3}, scale=1)
    face, expression = box.children[0].children
    image = box.children[-1]
    assert calls == [(0, 3)] and bytes(image.value) == gif_bytes(render(0, 3), scale=1)
    first = bytes(image.value)
    face.value = 1
    assert calls[-1] == (1, 3) and bytes(image.value) != first
    expression.value = 0
    assert calls[-1] == (1, 0)
    with pytest.raises(ValueError, match="not one of the options"):
        choice_widget(render, {"face": [0, 1]}, value={"face": 5})
    with pytest.raises(ValueError, match="not among the choices"):
        choice_widget(render, {"face": [0, 1]}, value={"colour": 5})
