"""Losses shared by every model: VAE terms, the adversarial terms, EncGAN3's Eq. 1-4 and the
feature-space identity term of FEV-GAN (Eq. 5).

Sign conventions. EncGAN3 writes its losses as the papers often do, mixing quantities to maximise
and to minimise: Eq. 1 *subtracts* the KL divergences from a reconstruction error, and Eq. 2-4
are sums of ``log D(.)`` terms. Implemented literally, Eq. 1 would reward encoders for moving
*away* from the prior. Here every function returns a quantity to **minimise**:

* reconstruction + KL (the negative evidence lower bound) for Eq. 1;
* the adversarial terms as binary cross-entropy on logits (the numerically stable
  ``log sigmoid`` form): a discriminator minimises ``-log D(real) - log(1 - D(fake))`` (Eq. 3, 4),
  a generator the *non-saturating* ``-log D(fake)`` (Eq. 2's ``log D(G(z))`` terms), as in the
  public G3AN and MoCoGAN code (REFERENCE_FACTS.md).

The reconstruction norm ``||x - x_hat||`` of Eq. 1-2 is not specified in the paper; we use the
mean absolute error (L1) per pixel by default, or the mean squared error (``norm="l2"``, for data
whose subject is small: see :func:`video_reconstruction`), averaged over the batch, which keeps its
scale independent of the clip size. Each function documents its reduction.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import check_choice, check_tensor

Tensor = torch.Tensor

#: the reconstruction errors :func:`video_reconstruction` offers: absolute (L1) or squared (L2), per pixel
RECONSTRUCTION_NORMS = ("l1", "l2")


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """The reparameterisation trick: ``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)``.

    Gradients flow to ``mu`` and ``logvar``; ``generator`` makes ``eps`` reproducible. ``eps`` is drawn
    on the generator's device and moved to ``mu``'s, so a CPU generator gives the same codes on any device.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    device = mu.device if generator is None else generator.device
    eps = torch.randn(mu.shape, generator=generator, device=device, dtype=mu.dtype).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """``D_KL(N(mu, exp(logvar)) || N(0, I))``, summed over latent dimensions, averaged over the batch.

    Per dimension: ``0.5 * (mu^2 + exp(logvar) - logvar - 1)`` (Kingma & Welling, App. B).
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    per_dim = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)
    return per_dim.flatten(1).sum(1).mean()


def _check_pair(x: Tensor, x_hat: Tensor) -> None:
    check_tensor("x", x, (4, 5), "(N, C, H, W) or (N, C, T, H, W)")
    check_tensor("x_hat", x_hat, (4, 5), "(N, C, H, W) or (N, C, T, H, W)")
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")


def l1_reconstruction(x: Tensor, x_hat: Tensor) -> Tensor:
    """Mean absolute error per pixel between a clip (or frames) and its reconstruction."""
    _check_pair(x, x_hat)
    return pixel_error(x, x_hat).mean()


def pixel_error(x: Tensor, x_hat: Tensor, norm: str = "l1") -> Tensor:
    """The error of every element, ``|x - x_hat|`` (``norm="l1"``) or ``(x - x_hat)²`` (``"l2"``), same shape
    as ``x``: the reconstruction terms take its mean (see :func:`video_reconstruction` for the choice)."""
    check_choice("norm", norm, RECONSTRUCTION_NORMS)
    diff = x - x_hat
    return diff.abs() if norm == "l1" else diff.square()


def video_reconstruction(x: Tensor, x_hat: Tensor, reference: int = 0, reference_weight: float = 1.0,
                         norm: str = "l1") -> Tensor:
    """The reconstruction terms of EncGAN3 Eq. 1 and Eq. 2 and of REncGAN3 Eq. 2, for videos ``(N, C, T, H, W)``:

    ``||x_ref - x_hat_ref|| + sum_j ||x_j - x_hat_j||`` — the frame the clip is rebuilt from, once on
    its own, plus every frame of the clip rebuilt from it and the difference maps. EncGAN3 rebuilds
    from the content frame (``reference=0``), REncGAN3 from its reference frame ``r = T_c / 2``
    (Eq. 3). As a mean per pixel this is ``reference_weight · mean e(x_ref - x_hat_ref) + mean e(x - x_hat)``
    with ``e`` the absolute error (``norm="l1"``) or the squared error (``norm="l2"``).

    The papers write ``||·||`` without saying which norm. L1 keeps edges sharp on frames that the subject
    fills (faces, the dancer), but its per-pixel optimum is the *median*: where a small object covers a
    few percent of the frame (``shapes``), a network that cannot yet place the object exactly lowers L1
    most by painting the background alone, and reconstructions come out empty. The squared error's
    optimum is the mean, a faint blob where the object is, whose gradient then pulls the object into place.
    """
    check_tensor("x", x, 5, "(N, C, T, H, W)")
    _check_pair(x, x_hat)
    if isinstance(reference, bool) or not isinstance(reference, int) or not 0 <= reference < x.shape[2]:
        raise ValueError(f"reference must be a frame index in [0, {x.shape[2] - 1}], got {reference!r}")
    error = pixel_error(x, x_hat, norm)
    return reference_weight * error[:, :, reference].mean() + error.mean()


def identity_l1(reference: Tensor, frame_features: Tensor) -> Tensor:
    """FEV-GAN Eq. 5: the L1 distance between the identity features of a reference (the input face)
    and those of frames of a generated video, ``sum_i ||F(I) - F^i(Y_hat)||_1``.

    ``reference`` ``(N, D)`` (one feature vector per video) and ``frame_features`` ``(N, K, D)`` (K frames
    per video), or ``(N, K, D)`` for both (a per-frame reference, e.g. the matching frames of the real
    video). Returns the mean absolute difference over videos, frames and feature dimensions: the
    paper's sum over frames becomes a mean (so the weight does not depend on K) and the L1 norm is
    divided by D (as :func:`l1_reconstruction` divides by the number of pixels).
    """
    check_tensor("frame_features", frame_features, 3, "(N, K, D)")
    check_tensor("reference", reference, (2, 3), "(N, D) or (N, K, D)")
    ref = reference.unsqueeze(1) if reference.ndim == 2 else reference
    n, k, d = frame_features.shape
    if ref.shape[0] != n or ref.shape[2] != d or ref.shape[1] not in (1, k):
        raise ValueError(f"reference {tuple(reference.shape)} does not fit frame_features "
                         f"{tuple(frame_features.shape)}: expected ({n}, {d}) or ({n}, {k}, {d})")
    return (frame_features - ref).abs().mean()


def encoder_loss(x: Tensor, x_hat: Tensor, mu_x: Tensor, logvar_x: Tensor, mu_v: Tensor, logvar_v: Tensor,
                 kl_weight: float = 1.0, norm: str = "l1") -> Tensor:
    """EncGAN3 Eq. 1, as a loss to minimise: video reconstruction + KL of the content code ``z_x``
    + KL of the motion code ``z_v`` (both priors ``N(0, I)``; the two encoders are trained together).

    ``kl_weight`` scales both KL terms (1 in the paper); ``norm`` is the reconstruction's
    (:func:`video_reconstruction`).
    """
    return video_reconstruction(x, x_hat, norm=norm) + kl_weight * (kl_standard_normal(mu_x, logvar_x)
                                                         + kl_standard_normal(mu_v, logvar_v))


def d_loss(real_logits: Tensor, *fake_logits: Tensor) -> Tensor:
    """A discriminator's loss: ``BCE(D(real), 1) + sum_k BCE(D(fake_k), 0)``.

    EncGAN3 Eq. 3 (image discriminator: a real frame, a frame of the reconstruction, a frame of a
    prior sample) and Eq. 4 (video discriminator: the real clip, a prior sample, the reconstruction),
    with ``log D`` turned into a minimised cross-entropy. Each term is a mean over the batch.
    """
    loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    for fake in fake_logits:
        loss = loss + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    return loss


def g_adv_loss(*fake_logits: Tensor) -> Tensor:
    """A generator's adversarial loss, non-saturating: ``sum_k BCE(D(fake_k), 1) = -sum_k log D(fake_k)``."""
    if not fake_logits:
        raise ValueError("g_adv_loss needs at least one tensor of discriminator logits")
    return sum(F.binary_cross_entropy_with_logits(f, torch.ones_like(f)) for f in fake_logits)


def generator_loss(fake_logits: list[Tensor], x: Tensor, x_hat: Tensor, rec_weight: float = 1.0,
                   norm: str = "l1") -> Tensor:
    """EncGAN3 Eq. 2: the adversarial terms on frames and clips from encoded codes and from prior
    noise, plus the reconstruction terms of Eq. 1 (weighted by ``rec_weight``; 1 in the paper; ``norm``
    as in :func:`video_reconstruction`)."""
    return g_adv_loss(*fake_logits) + rec_weight * video_reconstruction(x, x_hat, norm=norm)


def content_consistency(real_codes: Tensor, fake_codes: Tensor) -> Tensor:
    """VICE-GAN's content-consistency loss (Sec. 3.2.2 and Sec. 4.3.5, "Content-consistency loss"; the
    paper's equations are unnumbered): ``L_content = E[(z_c(v) - z_c(ṽ))²]``, the mean squared error
    between the content codes of real frames and of the generated frames paired with them, both made
    by the same (pretrained) autoencoder's encoder. The paper prints ``E[z_c(v) - z_c(ṽ)]`` without the
    square but says in words "computed as the mean squared error between each pair".

    ``real_codes`` and ``fake_codes``: the same shape, ``(N, D)`` (one code per frame) or ``(N, T, D)``
    (one per frame of each clip). Returns the mean over every element (frames and code dimensions), so
    the weight does not depend on the clip length or the code size.
    """
    check_tensor("real_codes", real_codes, (2, 3), "(N, D) or (N, T, D)")
    check_tensor("fake_codes", fake_codes, (2, 3), "(N, D) or (N, T, D)")
    if real_codes.shape != fake_codes.shape:
        raise ValueError(f"real_codes and fake_codes must pair up frame by frame (same shape), got "
                         f"{tuple(real_codes.shape)} and {tuple(fake_codes.shape)}")
    return (real_codes - fake_codes).pow(2).mean()


def category_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """The category loss of MoCoGAN (Sec. 3.2, categorical dynamics) and VICE-GAN (Sec. 4.3.5,
    ``L_category(G_I, D_V)``): the cross-entropy ``-log softmax(logits)[label]`` of class logits
    ``(N, K)`` (e.g. the category head of D_V) against class indices ``(N,)``, averaged over the batch.

    The discriminator minimises it on real clips with their true labels (it learns the categories);
    the generator on its clips with the labels it was asked for (they must be recognisable).
    """
    check_tensor("logits", logits, 2, "(N, K)")
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.ndim != 1:
        raise TypeError(f"labels must be an integer tensor of class indices (N,), got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}")
    n, k = logits.shape
    if labels.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},) to match logits {tuple(logits.shape)}, got {tuple(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= k):
        raise ValueError(f"labels must be class indices in [0, {k - 1}], got min {int(labels.min())}, "
                         f"max {int(labels.max())}")
    return F.cross_entropy(logits.float(), labels.long())
