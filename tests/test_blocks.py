"""Shared network blocks: conv blocks, the G3 module and trunk, F-SA, and the two discriminators."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import vgan_lesson.models.attention as attention_module
from vgan_lesson.models import (FactorizedSelfAttention, G3Block, G3Trunk, ImageDiscriminator, SpatialSelfAttention,
                                TemporalSelfAttention, VideoDiscriminator, VideoHead, conv2d_block, conv3d_block,
                                count_parameters, deconv2d_block, deconv3d_block, from_spatial_tokens,
                                from_temporal_tokens, g3_widths, has_spectral_norm, init_weights, one_hot_labels,
                                random_frame, split_logits, to_spatial_tokens, to_temporal_tokens)


# ---------------------------------------------------------------- plain conv blocks
@pytest.mark.parametrize("make, x, k, s, p, expected", [
    (conv2d_block, (2, 3, 32, 32), 4, 2, 1, (2, 8, 16, 16)),
    (deconv2d_block, (2, 3, 1, 1), 4, 1, 0, (2, 8, 4, 4)),
    (deconv2d_block, (2, 3, 16, 16), 4, 2, 1, (2, 8, 32, 32)),
    (conv3d_block, (2, 3, 16, 32, 32), 4, 2, 1, (2, 8, 8, 16, 16)),
    (conv3d_block, (2, 3, 16, 32, 32), (1, 4, 4), (1, 2, 2), (0, 1, 1), (2, 8, 16, 16, 16)),
    (deconv3d_block, (2, 3, 4, 8, 8), 4, 2, 1, (2, 8, 8, 16, 16)),
    (deconv3d_block, (2, 3, 2, 1, 1), (4, 1, 1), 1, 0, (2, 8, 5, 1, 1)),
])
def test_conv_block_shapes(make, x, k, s, p, expected):
    assert make(3, 8, k, s, p)(torch.randn(*x)).shape == expected


def test_conv_block_options():
    plain = conv2d_block(3, 8, norm="none", act="none")
    assert len(plain) == 1 and plain[0].bias is not None           # no norm: keep the bias
    full = deconv3d_block(3, 8, norm="batch", act="relu", spectral_norm=True)
    assert isinstance(full[1], nn.BatchNorm3d) and isinstance(full[2], nn.ReLU)
    assert full[0].bias is None and has_spectral_norm(full[0])     # batch norm cancels a bias
    assert isinstance(conv3d_block(3, 8, act="leaky")[-1], nn.LeakyReLU)
    assert not has_spectral_norm(conv2d_block(3, 8)[0])
    with pytest.raises(ValueError, match="unknown norm"):
        conv2d_block(3, 8, norm="layer")
    with pytest.raises(ValueError, match="unknown act"):
        conv2d_block(3, 8, act="gelu")


def test_init_weights_dcgan_statistics():
    torch.manual_seed(0)
    conv, sn_conv, bn = nn.Conv2d(64, 64, 4), nn.utils.parametrizations.spectral_norm(nn.Conv2d(64, 64, 4)), \
        nn.BatchNorm2d(256)
    for m in (conv, sn_conv, bn):
        init_weights(m)
    assert abs(conv.weight.std().item() - 0.02) < 2e-3 and torch.all(conv.bias == 0)
    assert abs(sn_conv.parametrizations.weight.original.std().item() - 0.02) < 2e-3 and has_spectral_norm(sn_conv)
    assert abs(bn.weight.mean().item() - 1.0) < 5e-3 and torch.all(bn.bias == 0)


# ---------------------------------------------------------------- the G3 module
def _g3_inputs(b=2, main=6, content=4, motion=3, t=4, s=4):
    return torch.randn(b, main, t, s, s), torch.randn(b, content, 1, s, s), torch.randn(b, motion, t, 1, 1)


def test_g3_block_geometry():
    first = G3Block(7, 4, 3, 8, first=True)
    out = first(torch.randn(2, 7, 1, 1, 1), torch.randn(2, 4, 1, 1, 1), torch.randn(2, 3, 1, 1, 1))
    assert out.main.shape == (2, 16, 4, 4, 4)           # T' = 1 -> T' + 3 = 4, 1x1 -> 4x4, channels doubled
    assert out.content.shape == (2, 8, 1, 4, 4) and out.motion.shape == (2, 8, 4, 1, 1)
    up = G3Block(6, 4, 3, 5)(*_g3_inputs())
    assert up.main.shape == (2, 10, 8, 8, 8)
    assert up.content.shape == (2, 5, 1, 8, 8) and up.motion.shape == (2, 5, 8, 1, 1)
    keep = G3Block(6, 4, 3, 5, upsample_time=False)(*_g3_inputs())
    assert keep.main.shape == (2, 10, 4, 8, 8) and keep.motion.shape == (2, 5, 4, 1, 1)
    with pytest.raises(ValueError, match="first G3 module"):
        G3Block(7, 4, 3, 8, first=True, upsample_time=False)


def test_g3_fusion_order_and_channel_doubling():
    """main = concat(G_S broadcast over T, G_V(main) + G_T broadcast over H, W); G_S and G_T ignore main."""
    torch.manual_seed(0)
    block = G3Block(6, 4, 3, 5).eval()  # eval: spectral norm and batch norm are fixed functions
    main, content, motion = _g3_inputs()
    out = block(main, content, motion)
    h_s, h_t, h_v = block.spatial(content), block.temporal(motion), block.main(main)
    assert out.main.shape[1] == 2 * 5 == block.main_out_channels
    assert torch.allclose(out.main[:, :5], h_s.expand(-1, -1, 8, -1, -1))    # content first ...
    assert torch.allclose(out.main[:, 5:], h_v + h_t)                         # ... then main + motion
    assert torch.allclose(out.content, h_s) and torch.allclose(out.motion, h_t)
    other = block(torch.randn_like(main), content, motion)
    assert torch.equal(other.content, out.content) and torch.equal(other.motion, out.motion)
    assert not torch.allclose(other.main, out.main)


def test_g3_block_spectral_norm_and_input_errors():
    block = G3Block(6, 4, 3, 5)
    convs = [m for m in block.modules() if isinstance(m, nn.ConvTranspose3d)]
    assert len(convs) == 4 and all(has_spectral_norm(c) for c in convs)
    main, content, motion = _g3_inputs()
    with pytest.raises(ValueError, match="6 channels"):
        block(main[:, :5], content, motion)
    with pytest.raises(ValueError, match="content stream must have shape"):
        block(main, content[..., :2, :2], motion)
    with pytest.raises(ValueError, match="motion stream must have shape"):
        block(main, content, motion[:, :, :2])
    with pytest.raises(ValueError, match="content=None"):
        block(main, None, motion)
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        block(main[:, :, 0], content, motion)


# ---------------------------------------------------------------- the G3 trunk and head
def _tiny_trunk(**kw):
    kw.setdefault("widths", (8, 8, 4, 4))
    return G3Trunk(content_dim=6, motion_dim=3, **kw)


@pytest.mark.parametrize("t_latent", [1, 2, 5])
def test_trunk_length_rule_4_times_t_plus_3(t_latent):
    trunk = _tiny_trunk(attention_after=2)
    out = trunk(torch.randn(2, 6), torch.randn(2, 3, t_latent))
    assert out.shape == (2, 8, 4 * (t_latent + 3), 32, 32) == (2, *trunk.output_shape(t_latent))


@pytest.mark.parametrize("size", [32, 64, 128])
def test_trunk_sizes_and_head(size):
    widths = g3_widths(base=1, size=size)
    assert len(widths) == {32: 4, 64: 5, 128: 6}[size]
    trunk = G3Trunk(content_dim=4, motion_dim=2, widths=widths)
    head = VideoHead(trunk.out_channels)
    video = head(trunk(torch.randn(1, 4, 1, 1, 1), torch.randn(1, 2, 1, 1, 1)))
    assert video.shape == (1, 3, 16, size, size)
    assert video.abs().max() <= 1.0


def test_g3_widths_match_the_paper():
    assert g3_widths(64, 64) == (512, 512, 256, 128, 64)
    assert g3_widths(64, 128) == (512, 512, 256, 128, 64, 32)
    assert g3_widths(64, 32) == (512, 512, 256, 128)
    with pytest.raises(ValueError, match="4·2\\^k"):
        g3_widths(64, 48)


def test_paper_width_parameter_count():
    """G3AN at full width has about 23 M generator parameters (REFERENCE_FACTS)."""
    trunk = G3Trunk.paper(size=64)
    assert trunk.widths == (512, 512, 256, 128, 64) and trunk.attention_after == 3
    assert trunk.attention.channels == 256                      # F-SA on the 256-channel main stream at 32x32
    total = count_parameters(trunk) + count_parameters(VideoHead(trunk.out_channels))
    assert 22e6 < total < 24e6


def test_trunk_attention_placement():
    trunk = _tiny_trunk(attention_after=2)
    assert trunk.attention.channels == 2 * 4
    seen = []
    trunk.attention.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    trunk(torch.randn(2, 6), torch.randn(2, 3, 1))
    assert seen == [(2, 8, 16, 16, 16)]                         # after the third module, before the fourth
    assert _tiny_trunk().attention is None


@pytest.mark.parametrize("use_spatial, use_temporal", [(False, True), (True, False), (False, False)])
def test_trunk_ablations(use_spatial, use_temporal):
    """EncGAN3 Table 4: each stream can be switched off; shapes still work out, outputs change."""
    z_c, z_m = torch.randn(2, 6), torch.randn(2, 3, 1)
    torch.manual_seed(0)
    full = _tiny_trunk(attention_after=2)
    torch.manual_seed(0)
    ablated = _tiny_trunk(attention_after=2, use_spatial=use_spatial, use_temporal=use_temporal)
    out_full, out = full(z_c, z_m), ablated(z_c, z_m)
    width = 4 * (2 if use_spatial else 1)                       # no G_S: no concatenation, no doubling
    assert ablated.out_channels == width and out.shape == (2, width, 16, 32, 32)
    assert count_parameters(ablated) < count_parameters(full)
    assert all((b.spatial is not None) == use_spatial and (b.temporal is not None) == use_temporal
               for b in ablated.blocks)
    head_full, head = VideoHead(full.out_channels), VideoHead(ablated.out_channels)
    assert not torch.allclose(head_full(out_full), head(out))
    # motion still reaches the video through the main stream's input even without G_T
    assert not torch.allclose(ablated(z_c, torch.randn(2, 3, 1)), out)


def test_trunk_input_errors():
    trunk = _tiny_trunk()
    with pytest.raises(ValueError, match=r"z_content must have shape \(B, 6\)"):
        trunk(torch.randn(2, 5), torch.randn(2, 3, 1))
    with pytest.raises(ValueError, match=r"z_motion must have shape \(B, 3, T'\)"):
        trunk(torch.randn(2, 6), torch.randn(2, 4, 1))
    with pytest.raises(ValueError, match="batch size"):
        trunk(torch.randn(3, 6), torch.randn(2, 3, 1))
    with pytest.raises(ValueError, match="dims"):
        trunk(torch.randn(2, 6, 1), torch.randn(2, 3, 1))
    with pytest.raises(ValueError, match="attention_after"):
        _tiny_trunk(attention_after=4)
    with pytest.raises(ValueError, match="channels"):
        VideoHead(8)(torch.randn(1, 6, 2, 4, 4))


def test_generator_blocks_deterministic_under_manual_seed():
    def run():
        torch.manual_seed(123)
        trunk = _tiny_trunk(attention_after=2)
        head = VideoHead(trunk.out_channels)
        return head(trunk(torch.randn(2, 6), torch.randn(2, 3, 1)))
    assert torch.equal(run(), run())


# ---------------------------------------------------------------- F-SA
def _buggy_from_temporal_tokens(tokens, shape):
    """The public G3AN inverse reshape: ``out.view(b, h, w, -1, t).permute(0, 3, 4, 1, 2)`` (wrong)."""
    b, _, t, h, w = shape
    return tokens.reshape(b, h, w, -1, t).permute(0, 3, 4, 1, 2)


def _buggy_from_spatial_tokens(tokens, shape):
    b, _, t, h, w = shape
    return tokens.reshape(b, h, w, -1, t).permute(0, 3, 4, 1, 2)


def test_token_layouts_round_trip_and_meaning():
    x = torch.randn(2, 16, 4, 3, 5)
    tt, st = to_temporal_tokens(x), to_spatial_tokens(x)
    assert tt.shape == (2 * 3 * 5, 4, 16) and st.shape == (2 * 4, 3 * 5, 16)
    assert torch.equal(tt[1 * 15 + 2 * 5 + 3, 1], x[1, :, 1, 2, 3])   # token (b, h, w), time t
    assert torch.equal(st[1 * 4 + 2, 1 * 5 + 3], x[1, :, 2, 1, 3])    # token (b, t), pixel (h, w)
    assert torch.equal(from_temporal_tokens(tt, x.shape), x)
    assert torch.equal(from_spatial_tokens(st, x.shape), x)
    # the public code's inverse keeps the shape but scrambles the values
    assert _buggy_from_temporal_tokens(tt, x.shape).shape == x.shape
    assert not torch.equal(_buggy_from_temporal_tokens(tt, x.shape), x)
    assert not torch.equal(_buggy_from_spatial_tokens(st, x.shape), x)


def test_fsa_is_identity_at_initialisation():
    fsa = FactorizedSelfAttention(16)
    x = torch.randn(2, 16, 4, 8, 8)
    assert torch.equal(fsa(x), x)                               # gamma = 0: out = 0·attn + x exactly


def _identity_fsa(channels=16, sharpness=1000.0):
    """An F-SA whose attention is the identity: value = identity map; queries/keys read positional codes
    (channels 0-1 code time, 2-3 code space) so that q_i·k_j peaks sharply at i = j."""
    fsa = FactorizedSelfAttention(channels, spectral_norm=False)
    with torch.no_grad():
        for part, (a, b) in ((fsa.temporal, (0, 1)), (fsa.spatial, (2, 3))):
            for conv in (part.query, part.key, part.value):
                conv.weight.zero_()
                conv.bias.zero_()
            part.query.weight[0, a], part.query.weight[1, b] = sharpness, sharpness
            part.key.weight[0, a], part.key.weight[1, b] = 1.0, 1.0
            part.value.weight[:, :, 0, 0, 0] = torch.eye(channels)
            part.gamma.fill_(1.0)
    return fsa


def _coded_input(b=2, c=16, t=4, h=4, w=4):
    torch.manual_seed(0)
    x = torch.randn(b, c, t, h, w)
    angle_t = 2 * torch.pi * torch.arange(t) / t
    angle_s = 2 * torch.pi * torch.arange(h * w).view(h, w) / (h * w)
    x[:, 0], x[:, 1] = angle_t.cos().view(t, 1, 1), angle_t.sin().view(t, 1, 1)
    x[:, 2], x[:, 3] = angle_s.cos(), angle_s.sin()
    return x


def test_fsa_identity_attention_returns_input():
    """attn = x in both halves, so out = 2·(2·x) = 4·x; the channel/time/space order must survive."""
    fsa, x = _identity_fsa(), _coded_input()
    assert torch.allclose(fsa.temporal.attend(x), x, atol=1e-4)
    assert torch.allclose(fsa.spatial.attend(x), x, atol=1e-4)
    assert torch.allclose(fsa(x), 4 * x, atol=1e-4)


@pytest.mark.parametrize("name, buggy", [("from_temporal_tokens", _buggy_from_temporal_tokens),
                                         ("from_spatial_tokens", _buggy_from_spatial_tokens)])
def test_identity_attention_test_catches_public_reshape_bug(monkeypatch, name, buggy):
    monkeypatch.setattr(attention_module, name, buggy)
    fsa, x = _identity_fsa(), _coded_input()
    assert fsa(x).shape == x.shape                              # the bug is silent on shapes ...
    assert not torch.allclose(fsa(x), 4 * x, atol=1e-4)         # ... and caught by the identity test


def _reference_attention(part, x, axis):
    """softmax(q·k) v written directly on (B, C, T, H, W) with einsum, without the token helpers."""
    q, k, v = part.query(x), part.key(x), part.value(x)
    if axis == "temporal":
        a = torch.softmax(torch.einsum("bcihw,bcjhw->bhwij", q, k) * part.scale, dim=-1)
        return torch.einsum("bhwij,bcjhw->bcihw", a, v)
    q, k, v = (y.flatten(3) for y in (q, k, v))
    a = torch.softmax(torch.einsum("bcti,bctj->btij", q, k) * part.scale, dim=-1)
    return torch.einsum("btij,bctj->bcti", a, v).view(x.shape)


@pytest.mark.parametrize("cls, axis", [(TemporalSelfAttention, "temporal"), (SpatialSelfAttention, "spatial")])
@pytest.mark.parametrize("scale", [1.0, None])
def test_fused_attention_matches_naive_softmax(cls, axis, scale):
    torch.manual_seed(1)
    part = cls(24, spectral_norm=False, scale=scale)
    x = torch.randn(2, 24, 4, 5, 3)
    assert part.qk_channels == 3
    assert torch.allclose(part.attend(x), _reference_attention(part, x, axis), atol=1e-5)


def test_temporal_attention_is_permutation_equivariant_over_time():
    torch.manual_seed(2)
    part = TemporalSelfAttention(16).eval()
    with torch.no_grad():
        part.gamma.fill_(0.7)
    x, perm = torch.randn(2, 16, 6, 4, 4), torch.tensor([3, 0, 5, 1, 4, 2])
    assert torch.allclose(part(x[:, :, perm]), part(x)[:, :, perm], atol=1e-5)
    assert not torch.allclose(part(x), x, atol=1e-3)


def test_fsa_gradient_reaches_gamma():
    torch.manual_seed(3)
    fsa = FactorizedSelfAttention(16)
    x = torch.randn(2, 16, 4, 4, 4, requires_grad=True)
    (fsa(x) * torch.randn(2, 16, 4, 4, 4)).sum().backward()
    for part in (fsa.temporal, fsa.spatial):
        assert part.gamma.grad is not None and part.gamma.grad.abs().item() > 0
    assert x.grad is not None and torch.isfinite(x.grad).all()
    with pytest.raises(ValueError, match="16 channels"):
        fsa(torch.randn(2, 8, 4, 4, 4))


# ---------------------------------------------------------------- discriminators
def _convs(module):
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]


@pytest.mark.parametrize("size", [32, 64, 128])
def test_image_discriminator_sizes(size):
    d = ImageDiscriminator(size=size, width=2)
    assert d(torch.randn(3, 3, size, size)).shape == (3,)
    convs = _convs(d)
    assert len(convs) == {32: 4, 64: 5, 128: 6}[size] and all(has_spectral_norm(c) for c in convs)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in d.modules())


def test_image_discriminator_paper_layout():
    d = ImageDiscriminator(size=64, width=64)
    assert [c.out_channels for c in _convs(d)] == [64, 128, 256, 512, 1]
    assert _convs(d)[-1].kernel_size == (4, 4) and _convs(d)[-1].stride == (1, 1)


@pytest.mark.parametrize("size, frames", [(32, 8), (32, 16), (32, 32), (64, 16), (128, 8), (64, 32)])
def test_video_discriminator_sizes(size, frames):
    d = VideoDiscriminator(size=size, frames=frames, width=2)
    assert d(torch.randn(2, 3, frames, size, size)).shape == (2,)
    assert all(has_spectral_norm(c) for c in _convs(d))


def test_category_head_and_label_input():
    x = torch.randn(4, 3, 16, 32, 32)
    head = VideoDiscriminator(32, 16, width=4, num_classes=6)
    assert head.label_mode == "head" and head(x).shape == (4, 7)
    real_fake, classes = split_logits(head(x))
    assert real_fake.shape == (4,) and classes.shape == (4, 6)
    cond = VideoDiscriminator(32, 16, width=4, num_classes=6, label_mode="input").eval()  # fixed spectral norm
    labels = torch.tensor([0, 5, 2, 2])
    out = cond(x, labels)
    assert out.shape == (4,)
    assert torch.allclose(out, cond(x, one_hot_labels(labels, 6, 4)))        # indices == one-hot
    assert not torch.allclose(out, cond(x, torch.tensor([1, 1, 1, 1])))      # the label matters
    image_cond = ImageDiscriminator(32, width=4, num_classes=6, label_mode="input").eval()
    assert image_cond(x[:, :, 0], labels).shape == (4,)
    assert ImageDiscriminator(32, width=4, num_classes=6)(x[:, :, 0]).shape == (4, 7)
    with pytest.raises(ValueError, match="pass labels"):
        cond(x)
    with pytest.raises(ValueError, match=r"class indices in \[0, 5\]"):
        cond(x, torch.tensor([0, 6, 1, 1]))
    with pytest.raises(ValueError, match="label_mode=None"):
        VideoDiscriminator(32, 16, width=4)(x, labels)
    with pytest.raises(ValueError, match="needs num_classes"):
        VideoDiscriminator(32, 16, label_mode="input")
    with pytest.raises(ValueError, match="unknown label_mode"):
        VideoDiscriminator(32, 16, num_classes=6, label_mode="concat")


def test_discriminator_input_errors():
    dv, di = VideoDiscriminator(32, 16, width=2), ImageDiscriminator(32, width=2)
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\).*got shape \(2, 3, 32, 32\)"):
        dv(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="3 channels"):
        dv(torch.randn(2, 1, 16, 32, 32))
    with pytest.raises(ValueError, match=r"expected \(B, 3, 16, 32, 32\)"):
        dv(torch.randn(2, 3, 16, 64, 64))
    with pytest.raises(ValueError, match="16 frames"):
        dv(torch.randn(2, 3, 8, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        di(torch.randn(2, 3, 16, 32, 32))
    with pytest.raises(ValueError, match=r"expected \(B, 3, 32, 32\)"):
        di(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match="4·2\\^k"):
        VideoDiscriminator(size=48)
    with pytest.raises(ValueError, match="4·2\\^k"):
        ImageDiscriminator(size=100)


def test_random_frame_is_seeded_and_correct():
    video = torch.randn(3, 3, 16, 8, 8)
    frames, index = random_frame(video, torch.Generator().manual_seed(0))
    again, index2 = random_frame(video, torch.Generator().manual_seed(0))
    assert isinstance(index, int) and index == index2 and torch.equal(frames, again)
    assert frames.shape == (3, 3, 8, 8) and torch.equal(frames, video[:, :, index])
    picked, idx = random_frame(video, torch.Generator().manual_seed(1), per_sample=True)
    assert idx.shape == (3,) and all(torch.equal(picked[i], video[i, :, idx[i]]) for i in range(3))
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        random_frame(video[0])


def test_video_discriminator_learns_real_from_frozen_clips():
    """60 Adam steps: D_V separates real `shapes` clips from copies whose frame is frozen in time.

    (30 steps reach only 0.8-0.95 depending on the seed: a few slow `pulse`/`walk` clips barely move,
    so their frozen copies are close to the originals; 60 steps give >= 0.98 on every seed we tried.)"""
    from vgan_lesson.data import make_dataset

    real = make_dataset("shapes", size=32, frames=16, num_clips=32).batch(range(32))["video"]
    g = torch.Generator().manual_seed(0)
    still = torch.randint(16, (32,), generator=g)
    frozen = real[torch.arange(32), :, still].unsqueeze(2).expand(-1, -1, 16, -1, -1)
    x, y = torch.cat([real, frozen]), torch.cat([torch.ones(32), torch.zeros(32)])
    torch.manual_seed(0)
    d = VideoDiscriminator(size=32, frames=16, width=8)
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))
    for _ in range(60):
        loss = F.binary_cross_entropy_with_logits(d(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = ((d.eval()(x) > 0).float() == y).float().mean().item()
    assert accuracy > 0.9, f"accuracy {accuracy:.2f} after 60 steps (loss {loss.item():.3f})"
