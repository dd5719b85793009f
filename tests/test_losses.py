"""Every loss against a value computed by hand."""
import math

import pytest
import torch

from vgan_lesson.losses import (d_loss, encoder_loss, g_adv_loss, generator_loss, kl_standard_normal,
                                l1_reconstruction, reparameterize, video_reconstruction)


def test_kl_by_hand():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # item 0: 0.5*(1 + 1 - 0 - 1) + 0.5*(0 + 2 - ln2 - 1) = 0.5 + 0.5*(1 - ln 2); item 1: 0
    expected = (0.5 + 0.5 * (1 - math.log(2.0))) / 2
    assert kl_standard_normal(mu, logvar).item() == pytest.approx(expected, rel=1e-6)
    assert kl_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0


def test_reparameterize_moments_and_gradients():
    mu = torch.full((20000, 1), 2.0, requires_grad=True)
    logvar = torch.full((20000, 1), math.log(0.25), requires_grad=True)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert z.mean().item() == pytest.approx(2.0, abs=0.01) and z.std().item() == pytest.approx(0.5, abs=0.01)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None
    same = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert torch.equal(z, same)


def test_reconstruction_by_hand():
    x = torch.zeros(1, 1, 2, 1, 2)
    x_hat = torch.tensor([[[[[1.0, 0.0]], [[0.0, -0.5]]]]])
    # first frame: mean |.| over 2 pixels = 0.5; whole clip: (1 + 0.5) / 4 = 0.375
    assert video_reconstruction(x, x_hat).item() == pytest.approx(0.875)
    assert l1_reconstruction(x, x_hat).item() == pytest.approx(0.375)


def test_squared_reconstruction_by_hand():
    x = torch.zeros(1, 1, 2, 1, 2)
    x_hat = torch.tensor([[[[[1.0, 0.0]], [[0.0, -0.5]]]]])
    # first frame: mean of squares over 2 pixels = 0.5; whole clip: (1 + 0.25) / 4 = 0.3125
    assert video_reconstruction(x, x_hat, norm="l2").item() == pytest.approx(0.8125)
    mu, lv = torch.tensor([[1.0]]), torch.tensor([[0.0]])            # KL 0.5 each
    assert encoder_loss(x, x_hat, mu, lv, mu, lv, norm="l2").item() == pytest.approx(0.8125 + 1.0)
    assert generator_loss([torch.tensor([0.0])], x, x_hat, rec_weight=2.0, norm="l2").item() == \
        pytest.approx(math.log(2) + 2 * 0.8125)
    with pytest.raises(ValueError, match="norm.*'l1'.*'l2'"):
        video_reconstruction(x, x_hat, norm="l3")


def test_l1_drops_a_small_object_that_l2_keeps():
    # the reason for norm="l2" on shapes: four clips, each with a one-pixel object at a different place
    # on a black frame. A reconstruction that cannot tell where the object is must predict the same frame
    # for all four; L1 prefers the empty background (its median), L2 the faint mean, which holds the object.
    x = torch.zeros(4, 1, 1, 2, 2)
    for i in range(4):
        x[i, 0, 0].view(-1)[i] = 1.0
    empty, mean = torch.zeros_like(x), x.mean(0, keepdim=True).expand_as(x)
    assert video_reconstruction(x, empty) < video_reconstruction(x, mean)                          # 0.5 < 0.75
    assert video_reconstruction(x, mean, norm="l2") < video_reconstruction(x, empty, norm="l2")   # 0.375 < 0.5


def test_encoder_loss_is_reconstruction_plus_kl():
    x = torch.zeros(1, 1, 2, 1, 2)
    x_hat = torch.tensor([[[[[1.0, 0.0]], [[0.0, -0.5]]]]])
    mu_x, lv_x = torch.tensor([[1.0]]), torch.tensor([[0.0]])       # KL 0.5
    mu_v, lv_v = torch.tensor([[0.0, 2.0]]), torch.zeros(1, 2)      # KL 2.0
    assert encoder_loss(x, x_hat, mu_x, lv_x, mu_v, lv_v).item() == pytest.approx(0.875 + 2.5)
    assert encoder_loss(x, x_hat, mu_x, lv_x, mu_v, lv_v, kl_weight=0.0).item() == pytest.approx(0.875)


def test_adversarial_losses_by_hand():
    real, fake1, fake2 = torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([math.log(3.0)])
    # BCE(logit 0, 1) = ln 2; BCE(logit 0, 0) = ln 2; BCE(logit ln3, 0) = -ln(1 - 3/4) = ln 4
    assert d_loss(real, fake1, fake2).item() == pytest.approx(2 * math.log(2) + math.log(4))
    # BCE(logit ln3, 1) = -ln(3/4)
    assert g_adv_loss(fake1, fake2).item() == pytest.approx(math.log(2) - math.log(0.75))
    x = torch.zeros(1, 1, 2, 1, 2)
    assert generator_loss([fake2], x, x).item() == pytest.approx(-math.log(0.75))


def test_losses_prefer_the_right_answer():
    good_d = d_loss(torch.tensor([5.0]), torch.tensor([-5.0]))
    bad_d = d_loss(torch.tensor([-5.0]), torch.tensor([5.0]))
    assert good_d < 0.02 < 10 < bad_d
    assert g_adv_loss(torch.tensor([5.0])) < g_adv_loss(torch.tensor([-5.0]))


@pytest.mark.parametrize("fn, args, match", [
    (kl_standard_normal, (torch.zeros(2, 3), torch.zeros(2, 4)), "same shape"),
    (video_reconstruction, (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)), r"\(N, C, T, H, W\)"),
    (l1_reconstruction, (torch.zeros(1, 3, 2, 8, 8), torch.zeros(1, 3, 2, 8, 4)), "same shape"),
])
def test_bad_input(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)
    with pytest.raises(ValueError, match="at least one"):
        g_adv_loss()
