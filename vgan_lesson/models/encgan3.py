"""EncGAN3 (Yang & Bors, ICIP 2022) and, with ``use_encoder=False``, G3AN (Wang et al., CVPR 2020).

The whole model in one file, nanoGPT style: a config dataclass, then the model.

    x (B, C, T, H, W) ──► x_0 ──────────► ContentEncoder ──► mu_x, logvar_x ──► z_x  (B, 128)
                      └─► v_j = x_j - x_{j-1} ► MotionEncoder ─► mu_v, logvar_v ──► z_v  (B, 10, T')
    (z_x, z_v) or prior noise (z̃_x, z̃_v) ~ N(0, I) ──► G3Trunk ──► VideoHead ──► x̂ (B, C, T, H, W)
    x̂ ──► D_I (one random frame)  and  D_V (the whole clip)

Training (EncGAN3 Sec. 4, last paragraph) updates three modules, each with its own loss and its own
Adam optimizer, in this order on every batch:

1. **D** with Eq. 3 (D_I: a real frame vs a frame of the reconstruction x̂ and of the prior sample x̃)
   and Eq. 4 (D_V: the real clip vs x̃ and x̂);
2. **Enc** with Eq. 1 (reconstruction of the clip through the generator + the two KL terms);
3. **G** with Eq. 2 ("we re-run the model with the optimized Discriminator and Encoder on the same
   video and considering (z̃_x, z̃_v) as input"): adversarial terms for x̂ (from the re-encoded codes)
   and x̃ (from prior noise), plus the reconstruction terms.

With ``use_encoder=False`` there is no encoder and no reconstruction: step 1 sees only x̃ and step 3
is G3AN's generator step — exactly G3AN's training (REFERENCE_FACTS: D step then G step,
non-saturating BCE, D_I on one random frame, Adam 2e-4, β = (0.5, 0.999)).

"Content frame + difference maps". The paper describes a video as a content frame ``x_0`` plus the
difference maps ``v_j = x_j - x_{j-1}``, and writes the reconstruction of Eq. 1 as
``x̂_j(v̂_j, x̂_0)``. The G3 generator outputs the whole clip ``x̂`` at once; its content frame is
``x̂_0`` and its difference maps are ``v̂_j = x̂_j - x̂_{j-1}``, and ``x̂_0 + Σ_{i≤j} v̂_i = x̂_j``
exactly (:func:`vgan_lesson.data.reconstruct_from_differences`). So the reconstruction term of Eq. 1
is simply ``||x_j - x̂_j||`` on the generated frames (:func:`vgan_lesson.losses.video_reconstruction`),
and :meth:`EncGAN3.content_and_motion` splits any clip into the two parts for display.

Where our choices fill the paper's gaps, the config says so (``kl_weight``, ``rec_weight``, widths).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn as nn

from ..checks import check_choice, check_int, check_video
from ..data.diffmaps import difference_maps
from ..losses import (RECONSTRUCTION_NORMS, d_loss, encoder_loss, g_adv_loss, generator_loss, kl_standard_normal,
                      reparameterize, video_reconstruction)
from ..training import Trainable, frozen
from .config import SCALES, ScaledConfig
from .blocks import G3Trunk, VideoHead, count_parameters
from .discriminators import ImageDiscriminator, VideoDiscriminator, random_frame
from .encoders import ContentEncoder, MotionEncoder

Tensor = torch.Tensor



# --------------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------------

@dataclass
class EncGAN3Config(ScaledConfig):
    """Every knob of EncGAN3 / G3AN. Build one with :meth:`lesson` or :meth:`paper`.

    Data: ``size`` (frame side, 4·2^k: 16, 32, 64, 128), ``frames`` (16 in the papers; any
    ``4·(T' + 3)``, i.e. 16, 20, 24, …), ``channels``.
    Latents: ``content_dim`` (z_x, G3AN's 128-d z_a), ``motion_dim`` (z_v, G3AN's 10-d z_m).
    Widths: ``g_base`` (generator: ``g3_widths(g_base, size)``, 64 = G3AN's 512…64), ``d_width``
    (first conv of D_I and D_V, 64 = G3AN), ``enc_width`` (first conv of both encoders),
    ``motion_hidden`` (the motion encoder's FC layer).
    Ablations: ``attention`` (F-SA after G3_3; EncGAN3 Table 3), ``use_spatial`` / ``use_temporal``
    (the streams G_S / G_T; Table 4), ``use_encoder`` (False: G3AN, trained from noise alone).
    Optimisation: ``lr``, ``betas`` (Adam, the same for D, Enc and G).
    Loss weights (the paper writes plain sums; ours are per-pixel means, see ``losses.py``):
    ``kl_weight`` multiplies both KL terms of Eq. 1; ``None`` means ``1 / (C·T·H·W)``, which makes
    per-pixel-mean L1 + KL the same balance as the paper's summed L1 + KL. ``rec_weight`` multiplies
    the reconstruction terms in Eq. 2 (the generator's loss); the paper's summed norm would weigh them
    tens of thousands of times more than the adversarial terms, our default 10 keeps the GAN terms
    in charge of sharpness while the reconstruction anchors the codes (ImaGINator uses 100).
    ``rec_norm``: the reconstruction error of Eq. 1-2, ``"l1"`` (absolute) or ``"l2"`` (squared), per
    pixel; the paper's ``||·||`` does not say which. L1 suits frames that the subject fills; on
    ``shapes``, where the object is a few percent of the frame, L1's median optimum leaves it out of the
    reconstructions (see :func:`vgan_lesson.losses.video_reconstruction`), and ``"l2"`` is used.
    Other: ``spectral_norm`` (every conv of G and D, as G3AN), ``encoder_norm`` (``"batch"`` or
    ``"none"``), ``per_sample_frame`` (D_I sees one random frame index per clip instead of one per
    batch, G3AN's choice).
    """

    size: int = 64
    frames: int = 16
    channels: int = 3
    content_dim: int = 128
    motion_dim: int = 10
    g_base: int = 64
    d_width: int = 64
    enc_width: int = 64
    motion_hidden: int = 256
    attention: bool = True
    use_spatial: bool = True
    use_temporal: bool = True
    use_encoder: bool = True
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    kl_weight: float | None = None
    rec_weight: float = 10.0
    rec_norm: str = "l1"
    spectral_norm: bool = True
    encoder_norm: str = "batch"
    per_sample_frame: bool = False

    def __post_init__(self) -> None:
        self._check_fields(counts=("size", "frames", "channels", "content_dim", "motion_dim", "g_base", "d_width",
                                   "enc_width", "motion_hidden"),
                           flags=("attention", "use_spatial", "use_temporal", "use_encoder", "spectral_norm",
                                  "per_sample_frame"),
                           amounts=("lr", "rec_weight") + (("kl_weight",) if self.kl_weight is not None else ()))
        check_choice("encoder_norm", self.encoder_norm, ("batch", "none"))
        check_choice("rec_norm", self.rec_norm, RECONSTRUCTION_NORMS)
        if self.size < 16:
            raise ValueError(f"size must be at least 16 (three G3 modules), got {self.size}")
        if self.frames % 4 or self.frames < 16:
            raise ValueError(f"frames must be 4·(T' + 3) for a motion code of length T' >= 1 (16, 20, 24, ...), "
                             f"got {self.frames}")

    @property
    def motion_length(self) -> int:
        """T', the temporal length of z_v: ``frames = 4·(T' + 3)`` (G3AN), so 1 for 16 frames."""
        return self.frames // 4 - 3

    @property
    def effective_kl_weight(self) -> float:
        """``kl_weight``, or ``1 / (C·T·H·W)`` when it is ``None`` (see the class docstring)."""
        if self.kl_weight is not None:
            return self.kl_weight
        return 1.0 / (self.channels * self.frames * self.size * self.size)

    @property
    def name(self) -> str:
        """``"EncGAN3"`` or ``"G3AN"`` (``use_encoder=False``)."""
        return "EncGAN3" if self.use_encoder else "G3AN"

    @classmethod
    def lesson(cls, **overrides: Any) -> "EncGAN3Config":
        """Lesson scale: 16 frames of 32×32, narrow networks: G widths ``g3_widths(2, 32)`` = (16, 16, 8, 4)
        with F-SA where the paper puts it (after the second-to-last module, here on 16×16 features),
        D width 16, encoder width 8. One EncGAN3 step on 16 clips takes about 0.8 s on one busy CPU
        core (about half that on 2 free cores; G3AN about a third of it), so a notebook cell trains
        a couple of hundred steps in two minutes. F-SA is over half of that time
        (``attention=False`` halves the step)."""
        return cls(**{**dict(size=32, frames=16, g_base=2, d_width=16, enc_width=8, motion_hidden=128),
                      **overrides})

    @classmethod
    def paper(cls, size: int = 64, **overrides: Any) -> "EncGAN3Config":
        """Paper scale (EncGAN3 Sec. 5; G3AN): 16 frames of 64×64 (or 128×128, which adds a sixth G3
        module), G3AN's widths ``g3_widths(64, size)`` = (512, 512, 256, 128, 64) at 64 px, D width 64,
        F-SA after G3_3, Adam 2e-4, β = (0.5, 0.999)."""
        if size not in (64, 128):
            raise ValueError(f"the paper's sizes are 64 and 128, got {size}")
        return cls(**{**dict(size=size, frames=16, g_base=64, d_width=64, enc_width=64, motion_hidden=256),
                      **overrides})


#: The reconstruction settings (``EncGAN3Config.rec_norm``, ``rec_weight``) that EncGAN3 trains with on each
#: dataset where they differ from the defaults (L1, 10): on ``shapes`` the object covers a few percent of
#: the frame, so the squared error (L1 drops the object, see :func:`vgan_lesson.losses.video_reconstruction`)
#: weighted 100 (at 10 the object faded out of the reconstructions after the first frames, 3000 steps).
DATASET_RECONSTRUCTION: dict[str, dict[str, Any]] = {"shapes": {"rec_norm": "l2", "rec_weight": 100.0}}


def reconstruction_settings(dataset: str) -> dict[str, Any]:
    """The config overrides ``{"rec_norm": ..., "rec_weight": ...}`` for training EncGAN3 on ``dataset``
    (:data:`DATASET_RECONSTRUCTION`, else the defaults): ``EncGAN3Config.lesson(**reconstruction_settings(d))``."""
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a dataset name (str), got {type(dataset).__name__}")
    defaults = {"rec_norm": EncGAN3Config.rec_norm, "rec_weight": EncGAN3Config.rec_weight}
    return {**defaults, **DATASET_RECONSTRUCTION.get(dataset, {})}


def ablation_configs(scale: str = "lesson", **overrides: Any) -> dict[str, EncGAN3Config]:
    """The trained variants of EncGAN3 Tables 3 and 4, by name, at ``scale``.

    Table 3 (F-SA on / off, with and without the encoder): ``"G3AN"``, ``"G3AN w/o F-SA"``,
    ``"EncGAN3"``, ``"EncGAN3 w/o F-SA"``. Its rows "EncGAN3 (G)" and "EncGAN3 (Enc+G)" are two ways of
    *using* one trained EncGAN3, not two trainings: (G) generates from prior noise
    (:meth:`EncGAN3.sample`), (Enc+G) encodes real videos and generates from their codes
    (:meth:`EncGAN3.reconstruct`).
    Table 4 (the auxiliary streams of the generator): ``"no G_S"``, ``"no G_T"``, ``"no G_S, G_T"``
    (EncGAN3 with F-SA; the full model is ``"EncGAN3"``).
    """
    variants = {
        "G3AN": dict(use_encoder=False),
        "G3AN w/o F-SA": dict(use_encoder=False, attention=False),
        "EncGAN3": {},
        "EncGAN3 w/o F-SA": dict(attention=False),
        "no G_S": dict(use_spatial=False),
        "no G_T": dict(use_temporal=False),
        "no G_S, G_T": dict(use_spatial=False, use_temporal=False),
    }
    return {name: EncGAN3Config.for_scale(scale, **{**overrides, **flags}) for name, flags in variants.items()}


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------

class Posterior(NamedTuple):
    """What the two-stream encoder returns for a batch of clips: the Gaussian posteriors of Eq. 1."""

    mu_x: Tensor      # (B, content_dim)
    logvar_x: Tensor  # (B, content_dim)
    mu_v: Tensor      # (B, motion_dim, T')
    logvar_v: Tensor  # (B, motion_dim, T')


class EncGAN3(Trainable):
    """EncGAN3: two-stream encoder + G3 generator + two-stream discriminator (``use_encoder=False``: G3AN).

    Sub-networks: ``content_encoder`` and ``motion_encoder`` (``None`` for G3AN), ``trunk`` (the stacked
    G3 modules with F-SA) and ``head`` (to RGB) forming the generator, ``image_discriminator`` (D_I) and
    ``video_discriminator`` (D_V). Optimizers: ``"D"`` (D_I and D_V), ``"Enc"`` (both encoders; EncGAN3
    only), ``"G"``.

    >>> model = EncGAN3(EncGAN3Config.lesson(size=16, g_base=2, d_width=4, enc_width=4))
    >>> model.sample(2, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 16, 16, 16])
    """

    def __init__(self, config: EncGAN3Config | None = None) -> None:
        super().__init__()
        config = EncGAN3Config.lesson() if config is None else config
        if not isinstance(config, EncGAN3Config):
            raise TypeError(f"config must be an EncGAN3Config, got {type(config).__name__}")
        self.config = c = config
        # ---- generator G: latent codes -> stacked G3 modules (+ F-SA) -> RGB clip
        self.trunk = G3Trunk.paper(c.size, c.g_base, c.content_dim, c.motion_dim, attention=c.attention,
                                   use_spatial=c.use_spatial, use_temporal=c.use_temporal,
                                   spectral_norm=c.spectral_norm)
        self.head = VideoHead(self.trunk.out_channels, c.channels)
        expected = (c.frames, c.size, c.size)
        if self.trunk.output_shape(c.motion_length)[1:] != expected:  # guards the geometry assumptions
            raise ValueError(f"the generator makes {self.trunk.output_shape(c.motion_length)[1:]} clips, "
                             f"the config asks for (T, H, W) = {expected}")
        # ---- two-stream encoder Enc (EncGAN3 only)
        if c.use_encoder:
            self.content_encoder = ContentEncoder(c.size, c.channels, c.content_dim, c.enc_width, c.encoder_norm)
            self.motion_encoder = MotionEncoder(c.size, c.frames, c.channels, c.motion_dim, c.motion_length,
                                                c.enc_width, hidden=c.motion_hidden, norm=c.encoder_norm)
        else:
            self.content_encoder = self.motion_encoder = None
        # ---- two-stream discriminator D
        self.image_discriminator = ImageDiscriminator(c.size, c.channels, c.d_width, spectral_norm=c.spectral_norm)
        self.video_discriminator = VideoDiscriminator(c.size, c.frames, c.channels, c.d_width,
                                                      spectral_norm=c.spectral_norm)
        # ---- one Adam per module, trained separately (EncGAN3 Sec. 4)
        adam = dict(lr=c.lr, betas=c.betas)
        self._optimizers = {
            "D": torch.optim.Adam([*self.image_discriminator.parameters(), *self.video_discriminator.parameters()],
                                  **adam),
            "G": torch.optim.Adam([*self.trunk.parameters(), *self.head.parameters()], **adam),
        }
        if c.use_encoder:
            self._optimizers["Enc"] = torch.optim.Adam([*self.content_encoder.parameters(),
                                                        *self.motion_encoder.parameters()], **adam)

    # ----------------------------------------------------------------- the three modules
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def generate(self, z_x: Tensor, z_v: Tensor) -> Tensor:
        """G(z_x, z_v): content code ``(B, content_dim)`` and motion code ``(B, motion_dim, T')`` → clip
        ``(B, C, 4·(T'+3), size, size)`` in [-1, 1]. Longer motion codes give longer clips (G3AN)."""
        return self.head(self.trunk(z_x, z_v))

    def prior(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Prior noise ``(z̃_x, z̃_v) ~ N(0, I)`` for ``n`` clips (the dashed path of EncGAN3 Fig. 1)."""
        c = self.config
        return (self.randn(n, c.content_dim, generator=generator),
                self.randn(n, c.motion_dim, c.motion_length, generator=generator))

    def encode(self, video: Tensor) -> Posterior:
        """The two-stream encoder: clips ``(B, C, T, H, W)`` in [-1, 1] → :class:`Posterior`
        (content from the first frame, motion from all ``T - 1`` difference maps)."""
        if not self.config.use_encoder:
            raise RuntimeError("this model is G3AN (use_encoder=False): it has no encoder")
        video = check_video(video, "video", batched=True)
        mu_x, logvar_x = self.content_encoder(video[:, :, 0])
        mu_v, logvar_v = self.motion_encoder(difference_maps(video))
        return Posterior(mu_x, logvar_x, mu_v, logvar_v)

    def sample_codes(self, posterior: Posterior, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``z_x, z_v`` drawn from the posteriors with the reparameterisation trick (gradients reach the encoders)."""
        return (reparameterize(posterior.mu_x, posterior.logvar_x, generator),
                reparameterize(posterior.mu_v, posterior.logvar_v, generator))

    def reconstruct(self, video: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Enc+G (Table 3): encode clips and generate from their codes. Uses the posterior means, or a
        reparameterised sample when a ``generator`` is given."""
        posterior = self.encode(video)
        if generator is None:
            return self.generate(posterior.mu_x, posterior.mu_v)
        return self.generate(*self.sample_codes(posterior, generator))

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """G alone (Table 3's "G" rows; all of G3AN): ``n`` clips from prior noise."""
        return self.generate(*self.prior(n, generator))

    @staticmethod
    def content_and_motion(video: Tensor) -> tuple[Tensor, Tensor]:
        """A clip as the paper describes it: its content frame ``x_0`` ``(B, C, H, W)`` and its difference
        maps ``v`` ``(B, C, T-1, H, W)``; :func:`vgan_lesson.data.reconstruct_from_differences` inverts it."""
        return video[:, :, 0], difference_maps(video)

    # ----------------------------------------------------------------- the update, D -> Enc -> G
    def _discriminate(self, video: Tensor, index: int | Tensor) -> tuple[Tensor, Tensor]:
        """``(D_I logits on frame(s) index, D_V logits)`` of clips, in fp32 for the losses."""
        if isinstance(index, int):
            frames = video[:, :, index]
        else:
            frames = video[torch.arange(video.shape[0], device=video.device), :, index]
        return self.image_discriminator(frames).float(), self.video_discriminator(video).float()

    def _frame_index(self, video: Tensor, generator: torch.Generator) -> int | Tensor:
        """The frame D_I judges: one index per batch (G3AN) or per clip (``per_sample_frame``)."""
        return random_frame(video, generator, per_sample=self.config.per_sample_frame)[1]

    def _update_discriminators(self, real: Tensor, fakes: list[Tensor], generator: torch.Generator) -> dict[str, Tensor]:
        """D's step (EncGAN3 Eq. 3-4, REncGAN3 Eq. 4-5): D_I on one random frame and D_V on the clip, real
        against each of the detached ``fakes``; returns the D losses and mean outputs to log."""
        index = self._frame_index(real, generator)
        real_i, real_v = self._discriminate(real, index)
        fake_logits = [self._discriminate(f.detach(), index) for f in fakes]
        loss_di = d_loss(real_i, *(i for i, _ in fake_logits))
        loss_dv = d_loss(real_v, *(v for _, v in fake_logits))
        self.update("D", loss_di + loss_dv)
        return {"loss_D": loss_di + loss_dv, "loss_DI": loss_di, "loss_DV": loss_dv,
                "D_real": torch.sigmoid(real_v).mean(), "D_fake": torch.sigmoid(fake_logits[-1][1]).mean()}

    def _adversarial_logits(self, real: Tensor, fakes: list[Tensor], generator: torch.Generator) -> list[Tensor]:
        """D_I and D_V logits of each fake, for a generator-side loss: gradients flow through D, not into it."""
        index = self._frame_index(real, generator)
        with frozen(self.image_discriminator, self.video_discriminator):
            return [logit for fake in fakes for logit in self._discriminate(fake, index)]

    def train_step(self, batch: dict[str, Any], step: int, generator: torch.Generator) -> dict[str, Tensor]:
        """One EncGAN3 update in the paper's order D (Eq. 3, 4) → Enc (Eq. 1) → G (Eq. 2); G3AN: D → G."""
        x = check_video(batch["video"], "batch['video']", batched=True)
        n = x.shape[0]
        z_prior = self.prior(n, generator)
        x_tilde = self.generate(*z_prior)                      # G(z̃_x, z̃_v): from prior noise
        x_hat, posterior = None, None
        if self.config.use_encoder:
            posterior = self.encode(x)
            with frozen(self.trunk, self.head):  # Eq. 1 trains Enc only: no gradients for G's weights
                x_hat = self.generate(*self.sample_codes(posterior, generator))   # G(z_x, z_v): from codes

        # ---- 1. D: Eq. 3 (D_I) and Eq. 4 (D_V) on detached fakes
        logs = self._update_discriminators(x, [x_tilde] if x_hat is None else [x_hat, x_tilde], generator)

        # ---- 2. Enc: Eq. 1, reconstruction through G plus the KL terms (only Enc is stepped)
        if self.config.use_encoder:
            x_f, x_hat_f = x.float(), x_hat.float()
            loss_enc = encoder_loss(x_f, x_hat_f, posterior.mu_x.float(), posterior.logvar_x.float(),
                                    posterior.mu_v.float(), posterior.logvar_v.float(),
                                    kl_weight=self.config.effective_kl_weight, norm=self.config.rec_norm)
            self.update("Enc", loss_enc)
            with torch.no_grad():
                logs.update(loss_Enc=loss_enc, recon=video_reconstruction(x_f, x_hat_f, norm=self.config.rec_norm),
                            kl_x=kl_standard_normal(posterior.mu_x.float(), posterior.logvar_x.float()),
                            kl_v=kl_standard_normal(posterior.mu_v.float(), posterior.logvar_v.float()))
            # "re-run the model with the optimized Discriminator and Encoder on the same video"
            with torch.no_grad():
                codes = self.sample_codes(self.encode(x), generator)
            x_hat = self.generate(*codes)

        # ---- 3. G: Eq. 2 against the updated D; x̃ is reused (G has not changed since it was made)
        adversarial = self._adversarial_logits(x, [x_tilde] if x_hat is None else [x_hat, x_tilde], generator)
        if x_hat is None:
            loss_g = g_adv_loss(*adversarial)
        else:
            loss_g = generator_loss(adversarial, x.float(), x_hat.float(), rec_weight=self.config.rec_weight,
                                    norm=self.config.rec_norm)
        self.update("G", loss_g)
        logs["loss_G"] = loss_g
        return {k: v.detach() for k, v in logs.items()}

    def extra_repr(self) -> str:
        c = self.config
        counts = {"G": count_parameters(self.trunk) + count_parameters(self.head),
                  "D": count_parameters(self.image_discriminator) + count_parameters(self.video_discriminator)}
        if c.use_encoder:
            counts["Enc"] = count_parameters(self.content_encoder) + count_parameters(self.motion_encoder)
        sizes = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in counts.items())
        return f"{c.name}: {c.frames}×{c.size}×{c.size}, F-SA {c.attention}, parameters {sizes}"


__all__ = ["DATASET_RECONSTRUCTION", "EncGAN3", "EncGAN3Config", "Posterior", "ablation_configs",
           "reconstruction_settings", "SCALES"]
