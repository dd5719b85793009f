"""The frame baselines of lesson 01: a VAE, a GAN (DCGAN) and the VAE/GAN hybrid of Larsen et al.

Every model here works on single frames ``(B, C, H, W)``, and all three are assembled from the
same two networks and the same discriminator, so that the only thing that differs between them is
the *objective* — which is the lesson's point:

==============  ===================================  =================================================
model           networks                             objective (all minimised)
==============  ===================================  =================================================
``FrameVAE``    FrameEncoder + FrameDecoder          L1 reconstruction + β·KL (Kingma & Welling 2014)
``FrameGAN``    FrameDecoder (as G) + D_I            non-saturating GAN (Goodfellow et al. 2014;
                                                     DCGAN, Radford et al. 2016)
``FrameVAEGAN`` FrameEncoder + FrameDecoder + D_I    KL + learned-similarity reconstruction + GAN on
                                                     reconstructions *and* prior samples (Larsen,
                                                     Sønderby, Larochelle & Winther, ICML 2016)
==============  ===================================  =================================================

EncGAN3 (Sec. 1, Sec. 3) is the video descendant of the third row: an encoder gives the generator
codes of real videos, and the generator is trained on reconstruction and adversarial losses at once.

Frames from videos. The models train on the procedural video datasets, whose batches are dicts
with ``video`` ``(N, C, T, H, W)``. Each step takes **one random frame per clip**, its index drawn
from the training generator (so the choice is seeded, saved in checkpoints and resumed exactly);
a batch of ``N`` clips gives ``N`` frames. A batch dict with ``frames`` ``(N, C, H, W)`` is used as
it is. Frames are not flattened out of whole clips because the 16 frames of one clip are nearly
identical, which would shrink the batch's real diversity 16-fold at 16 times the cost.

Architectures (DCGAN-style, built from :mod:`vgan_lesson.models.blocks`): the encoder halves the
frame with (4, 2, 1) convolutions down to 4×4 (widths ``width·min(2^i, 8)``, batch norm after all but
the first, LeakyReLU 0.2), then a linear layer gives ``[μ, log σ²]``. The decoder mirrors it:
``z`` → 4×4 with a (4, 1, 0) transposed conv, one (4, 2, 1) transposed conv per doubling (batch norm,
ReLU), and a last transposed conv to ``C`` channels with ``tanh``, so frames land in [-1, 1]. The
discriminator is the package's :class:`~vgan_lesson.models.discriminators.ImageDiscriminator` D_I.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import check_choice, check_images, check_int, check_tensor
from ..losses import d_loss, g_adv_loss, kl_standard_normal, l1_reconstruction, reparameterize
from ..training import Trainable
from .blocks import _levels_for, conv2d_block, deconv2d_block, init_weights
from .discriminators import ImageDiscriminator

Tensor = torch.Tensor


# --------------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------------

@dataclass
class FrameModelConfig:
    """The knobs of all three frame models (each uses the ones it needs).

    size, channels: frames are ``(B, channels, size, size)``; size is 4·2^k with k >= 1 (8, 16, 32, 64, 128).
    latent_dim: dimension of ``z`` (the prior is ``N(0, I)``).
    width: channels of the first encoder / discriminator stage and of the decoder's last hidden stage.
    lr, betas: Adam, for every optimizer (DCGAN's 2e-4 and (0.5, 0.999), as in G3AN and EncGAN3).
    kl_weight: β, the weight of ``D_KL(q(z|x) || N(0, I))`` (VAE, VAE-GAN). Small, because our
        reconstruction term is a *mean* over pixels while the KL is a *sum* over latent dimensions.
    rec_weight: weight of the reconstruction term: pixel L1 for the VAE, the learned-similarity
        ``L_llike^{Dis_l}`` for the VAE-GAN.
    gamma: γ of Larsen et al. (Algorithm 1): the decoder minimises ``γ·L_llike + L_GAN``; γ < 1 lets
        the adversarial term dominate the decoder while the encoder still sees the full ``L_llike``.
    feature_layer: which stage of D_I gives ``Dis_l`` (Python index into ``features``; -2 is the
        second-to-last stage, 8×8 at 32 and 64 px, in the spirit of Larsen et al.'s third of four layers).
    pixel_weight: an extra pixel L1 term in the VAE-GAN's reconstruction (0 is Larsen et al.'s pure
        learned similarity; a little helps colours settle in very short CPU runs).
    """

    size: int = 32
    channels: int = 3
    latent_dim: int = 64
    width: int = 32
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    kl_weight: float = 1e-3
    rec_weight: float = 1.0
    gamma: float = 1.0
    feature_layer: int = -2
    pixel_weight: float = 0.0

    def __post_init__(self) -> None:
        check_int("channels", self.channels, minimum=1)
        check_int("latent_dim", self.latent_dim, minimum=1)
        check_int("width", self.width, minimum=1)
        if _levels_for(self.size) < 2:  # also rejects sizes that are not 4·2^k
            raise ValueError(f"size must be at least 8 (one down-sampling stage), got {self.size}")
        check_int("feature_layer", self.feature_layer)
        for name in ("lr", "kl_weight", "rec_weight", "gamma", "pixel_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        betas = tuple(self.betas)
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))

    @property
    def stages(self) -> int:
        """Number of halvings from ``size`` down to 4×4 (3 at 32 px, 4 at 64 px)."""
        return _levels_for(self.size) - 1

    def stage_width(self, i: int) -> int:
        """Channels of down-sampling stage ``i`` (``width·min(2^i, 8)``; the decoder mirrors them)."""
        return self.width * min(2 ** i, 8)


# --------------------------------------------------------------------------------------------------
# the shared networks
# --------------------------------------------------------------------------------------------------

def _check_frames(name: str, frames: Tensor, config: FrameModelConfig) -> None:
    check_images(frames, name, config.channels, config.size, "frames", value_range=None)


class FrameEncoder(nn.Module):
    """The inference network ``q(z | x) = N(μ(x), diag σ²(x))`` of a VAE (Kingma & Welling 2014,
    Sec. 2.4 and App. C.2), as a DCGAN-style convolutional stack.

    ``forward(frames)``: ``(B, C, size, size)`` → ``(mu, logvar)``, each ``(B, latent_dim)``. It returns
    ``log σ²`` rather than ``σ``: any real number is a valid log-variance, so no positivity constraint
    is needed, and the KL term uses ``log σ²`` directly.
    """

    def __init__(self, config: FrameModelConfig) -> None:
        super().__init__()
        self.config = config
        stages, c_in = [], config.channels
        for i in range(config.stages):          # size → size/2 → ... → 4
            stages.append(conv2d_block(c_in, config.stage_width(i), norm="none" if i == 0 else "batch",
                                       act="leaky"))
            c_in = config.stage_width(i)
        self.body = nn.Sequential(*stages)
        self.to_gaussian = init_weights(nn.Linear(c_in * 4 * 4, 2 * config.latent_dim))

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """Frames ``(B, C, H, W)`` in [-1, 1] → ``(mu, logvar)``, each ``(B, latent_dim)``."""
        _check_frames("frames", frames, self.config)
        mu, logvar = self.to_gaussian(self.body(frames).flatten(1)).chunk(2, dim=1)
        return mu, logvar


class FrameDecoder(nn.Module):
    """The decoder ``p(x | z)`` of the VAE, which is also the generator ``G(z)`` of the GAN and
    ``Dec`` of the VAE/GAN (Larsen et al. 2016, Sec. 2.2: "we collapse the VAE decoder and the GAN
    generator into one"). DCGAN's generator (Radford et al. 2016, Fig. 1) at ``size`` pixels.

    ``forward(z)``: ``(B, latent_dim)`` → frames ``(B, C, size, size)`` in [-1, 1] (tanh).
    """

    def __init__(self, config: FrameModelConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.stage_width(i) for i in reversed(range(config.stages))]   # e.g. 4w, 2w, w
        layers = [deconv2d_block(config.latent_dim, widths[0], 4, 1, 0)]            # 1×1 → 4×4
        for c_in, c_out in zip(widths[:-1], widths[1:]):                              # 4 → 8 → ... → size/2
            layers.append(deconv2d_block(c_in, c_out))
        layers.append(deconv2d_block(widths[-1], config.channels, norm="none", act="none"))   # → size
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """Codes ``(B, latent_dim)`` → frames ``(B, C, size, size)`` in [-1, 1]."""
        check_tensor("z", z, 2, f"(B, {self.config.latent_dim})")
        if z.shape[1] != self.config.latent_dim:
            raise ValueError(f"z must have shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        return torch.tanh(self.body(z[:, :, None, None]))


# --------------------------------------------------------------------------------------------------
# the three models
# --------------------------------------------------------------------------------------------------

class FrameModel(Trainable):
    """What the three frame models share: the config, the decoder/generator, picking frames out of
    video batches, and sampling ``x = Dec(z)``, ``z ~ N(0, I)``."""

    def __init__(self, config: FrameModelConfig | None = None) -> None:
        super().__init__()
        config = FrameModelConfig() if config is None else config
        if not isinstance(config, FrameModelConfig):
            raise TypeError(f"config must be a FrameModelConfig, got {type(config).__name__}")
        self.config = config
        self.decoder = FrameDecoder(config)

    def _adam(self, *modules: nn.Module) -> torch.optim.Adam:
        params = [p for m in modules for p in m.parameters()]
        return torch.optim.Adam(params, lr=self.config.lr, betas=self.config.betas)

    def frames_of(self, batch: dict[str, Any], generator: torch.Generator) -> Tensor:
        """The training frames of a batch: one random frame per clip of ``batch["video"]``
        ``(N, C, T, H, W)`` (indices drawn from ``generator``), or ``batch["frames"]`` ``(N, C, H, W)``."""
        if not isinstance(batch, dict):
            raise TypeError(f"a batch must be a dict with 'video' (N, C, T, H, W) or 'frames' (N, C, H, W), "
                            f"got {type(batch).__name__}")
        if "frames" in batch:
            frames = batch["frames"]
        elif "video" in batch:
            video = batch["video"]
            c, s = self.config.channels, self.config.size
            check_tensor("batch['video']", video, 5, f"(N, {c}, T, {s}, {s})", channels=c)
            n, _, t = video.shape[:3]
            index = (self.rand(n, generator=generator) * t).long().clamp_(max=t - 1).to(video.device)
            frames = video[torch.arange(n, device=video.device), :, index]            # (N, C, H, W)
        else:
            raise ValueError(f"a batch must hold 'video' (N, C, T, H, W) or 'frames' (N, C, H, W); "
                             f"got keys {sorted(batch)}")
        _check_frames("training frames", frames, self.config)
        return frames

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` frames ``(n, C, size, size)`` decoded from prior codes ``z ~ N(0, I)``."""
        check_int("n", n, minimum=1)
        return self.decoder(self.randn(n, self.config.latent_dim, generator=generator))


class _EncodingModel(FrameModel):
    """A frame model with an encoder: adds ``encode`` and ``reconstruct``."""

    def __init__(self, config: FrameModelConfig | None = None) -> None:
        super().__init__(config)
        self.encoder = FrameEncoder(self.config)

    def encode(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` of ``q(z | frames)``, each ``(B, latent_dim)``."""
        return self.encoder(frames)

    @torch.no_grad()
    def reconstruct(self, frames: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``Dec(z)`` for the frames' codes, without gradients: ``z = μ`` (the posterior mean) by
        default, or a posterior sample ``z = μ + σ·ε`` when a ``generator`` is given.

        Uses the model's current mode: call ``model.eval()`` first to use batch norm's running
        statistics (as for any picture shown after training).
        """
        mu, logvar = self.encoder(frames)
        z = mu if generator is None else reparameterize(mu, logvar, generator)
        return self.decoder(z)


class FrameVAE(_EncodingModel):
    """The variational autoencoder (Kingma & Welling, ICLR 2014), on frames.

    Minimises the negative evidence lower bound (lesson 01, Eq. 1)::

        L_VAE = rec_weight · mean|x - Dec(z)|  +  kl_weight · D_KL(N(μ, σ²) || N(0, I)),
        z = μ + σ ⊙ ε,  ε ~ N(0, I)      (the reparameterisation trick, Kingma & Welling Sec. 2.4)

    The L1 term is the negative log-likelihood of a Laplace decoder up to constants and scale. Logs
    ``rec`` (the L1 term), ``kl`` and ``loss``. One optimizer, ``"vae"``, over encoder and decoder.
    """

    def __init__(self, config: FrameModelConfig | None = None) -> None:
        super().__init__(config)
        self.opt_vae = self._adam(self.encoder, self.decoder)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt_vae}

    def train_step(self, batch: dict[str, Any], step: int, generator: torch.Generator) -> dict[str, Tensor]:
        x = self.frames_of(batch, generator)
        mu, logvar = self.encoder(x)
        eps = self.randn(*mu.shape, generator=generator)
        x_rec = self.decoder(mu + torch.exp(0.5 * logvar) * eps).float()
        rec = l1_reconstruction(x, x_rec)
        kl = kl_standard_normal(mu.float(), logvar.float())
        loss = self.config.rec_weight * rec + self.config.kl_weight * kl
        self.update("vae", loss)
        return {"rec": rec, "kl": kl, "loss": loss}


class FrameGAN(FrameModel):
    """DCGAN (Radford, Metz & Chintala, ICLR 2016) with the non-saturating loss of Goodfellow et al.
    (NeurIPS 2014, Sec. 3), on frames: generator = ``FrameDecoder``, discriminator = D_I.

    One step (lesson 01, Eq. 3 and 4)::

        D:  minimise  -log D(x) - log(1 - D(G(z)))        (binary cross-entropy on logits)
        G:  minimise  -log D(G(z))                        (non-saturating: strong gradients early on)

    Logs ``D``, ``G`` and ``p_real`` / ``p_fake``, D's mean probability of "real" on the real and the
    generated frames of the batch. No encoder: a GAN cannot reconstruct a given frame.
    """

    def __init__(self, config: FrameModelConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.discriminator = ImageDiscriminator(size=c.size, channels=c.channels, width=c.width)
        self.opt_g = self._adam(self.decoder)
        self.opt_d = self._adam(self.discriminator)

    @property
    def generator(self) -> FrameDecoder:
        """The decoder, in its GAN role ``G(z)``."""
        return self.decoder

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def train_step(self, batch: dict[str, Any], step: int, generator: torch.Generator) -> dict[str, Tensor]:
        x = self.frames_of(batch, generator)
        fake = self.decoder(self.randn(x.shape[0], self.config.latent_dim, generator=generator))
        real_logits, fake_logits = self.discriminator(x).float(), self.discriminator(fake.detach()).float()
        loss_d = d_loss(real_logits, fake_logits)
        self.update("D", loss_d)
        loss_g = g_adv_loss(self.discriminator(fake).float())
        self.update("G", loss_g)
        return {"D": loss_d, "G": loss_g, "p_real": torch.sigmoid(real_logits).mean(),
                "p_fake": torch.sigmoid(fake_logits).mean()}


class FrameVAEGAN(_EncodingModel):
    """The VAE/GAN of Larsen, Sønderby, Larochelle & Winther, "Autoencoding beyond pixels using a
    learned similarity metric" (ICML 2016): a VAE whose decoder is also a GAN generator, and whose
    reconstruction error is measured in the discriminator's feature space.

    With ``Dis_l(x)`` the feature map of D_I's stage ``feature_layer`` (:meth:`ImageDiscriminator.features`)::

        L_prior   = D_KL(q(z|x) || N(0, I))
        L_llike   = mean (Dis_l(x) - Dis_l(Dec(z)))²,  z ~ q(z|x)    (Gaussian in feature space, Sec. 2.2)
                    [+ pixel_weight · mean|x - Dec(z)|]
        L_GAN     = log D(x) + log(1 - D(Dec(z))) + log(1 - D(Dec(z_p))),  z_p ~ N(0, I)

    and each network gets its own part (Larsen et al., Algorithm 1; lesson 01, Eq. 5)::

        Enc:  kl_weight · L_prior + rec_weight · L_llike            (no GAN gradient reaches Enc)
        Dec:  γ · rec_weight · L_llike  + (-log D(Dec(z)) - log D(Dec(z_p)))   (non-saturating)
        Dis:  -L_GAN as a cross-entropy: BCE(D(x), 1) + BCE(D(Dec(z)), 0) + BCE(D(Dec(z_p)), 0)

    ``L_llike`` is *not* used to train D (its features would collapse to make it small). The fake
    frames judged by D are both reconstructions and prior samples, as in the paper ("samples from
    q(z|x) in addition to p(z)"). Update order: D, then encoder and decoder from one forward pass
    (each loss back-propagated only into its own network's parameters).

    Logs ``D``, ``G_adv``, ``llike``, ``kl`` and ``rec_l1`` (pixel L1 of the reconstruction, whether or
    not it is part of the loss, so the three models' reconstruction errors can be compared).
    """

    def __init__(self, config: FrameModelConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.discriminator = ImageDiscriminator(size=c.size, channels=c.channels, width=c.width)
        stages = len(self.discriminator.stages)
        if not -stages <= c.feature_layer < stages:
            raise ValueError(f"feature_layer must index one of the discriminator's {stages} stages "
                             f"({-stages} … {stages - 1}), got {c.feature_layer}")
        self.opt_enc = self._adam(self.encoder)
        self.opt_dec = self._adam(self.decoder)
        self.opt_d = self._adam(self.discriminator)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"D": self.opt_d, "Enc": self.opt_enc, "Dec": self.opt_dec}

    def similarity_features(self, frames: Tensor) -> Tensor:
        """``Dis_l(frames)``: D_I's feature map at ``config.feature_layer``."""
        return self.discriminator.features(frames)[self.config.feature_layer]

    def _backward_into(self, loss: Tensor, module: nn.Module, retain_graph: bool) -> None:
        """Back-propagate ``loss`` into ``module``'s parameters only (others keep their gradients)."""
        with torch.autocast(device_type=loss.device.type, enabled=False):
            loss.backward(inputs=list(module.parameters()), retain_graph=retain_graph)

    def train_step(self, batch: dict[str, Any], step: int, generator: torch.Generator) -> dict[str, Tensor]:
        c = self.config
        x = self.frames_of(batch, generator)
        mu, logvar = self.encoder(x)
        eps = self.randn(*mu.shape, generator=generator)
        x_rec = self.decoder(mu + torch.exp(0.5 * logvar) * eps)
        x_prior = self.decoder(self.randn(x.shape[0], c.latent_dim, generator=generator))

        # 1. the discriminator: real frames against reconstructions and prior samples
        real_logits = self.discriminator(x).float()
        loss_d = d_loss(real_logits, self.discriminator(x_rec.detach()).float(),
                        self.discriminator(x_prior.detach()).float())
        self.update("D", loss_d)

        # 2. encoder and decoder, from the updated discriminator
        target = self.similarity_features(x).detach()
        llike = F.mse_loss(self.similarity_features(x_rec).float(), target.float())
        rec_l1 = l1_reconstruction(x, x_rec.float())
        similarity = llike + c.pixel_weight * rec_l1
        kl = kl_standard_normal(mu.float(), logvar.float())
        g_adv = g_adv_loss(self.discriminator(x_rec).float(), self.discriminator(x_prior).float())
        loss_enc = c.kl_weight * kl + c.rec_weight * similarity
        loss_dec = c.gamma * c.rec_weight * similarity + g_adv
        for name in ("Enc", "Dec"):
            self._optimizer(name).zero_grad(set_to_none=True)
        self._backward_into(loss_enc, self.encoder, retain_graph=True)
        self._backward_into(loss_dec, self.decoder, retain_graph=False)
        self.step_optimizer("Enc")
        self.step_optimizer("Dec")
        return {"D": loss_d, "G_adv": g_adv, "llike": llike, "kl": kl, "rec_l1": rec_l1}


# --------------------------------------------------------------------------------------------------
# factory
# --------------------------------------------------------------------------------------------------

FRAME_MODELS: dict[str, Callable[[FrameModelConfig | None], FrameModel]] = {
    "vae": FrameVAE,
    "gan": FrameGAN,
    "vaegan": FrameVAEGAN,
}


def make_frame_model(name: str, config: FrameModelConfig | None = None) -> FrameModel:
    """Build a frame model by name: ``"vae"``, ``"gan"`` or ``"vaegan"`` (unknown names: ``ValueError``)."""
    check_choice("frame model", name, tuple(FRAME_MODELS))
    return FRAME_MODELS[name](config)


__all__ = ["FrameModelConfig", "FrameEncoder", "FrameDecoder", "FrameModel", "FrameVAE", "FrameGAN",
           "FrameVAEGAN", "FRAME_MODELS", "make_frame_model"]
