"""VICE-GAN (Jayagopal, 2022): an identity-consistent emotion video from a face, MoCoGAN-style.

The whole model in one file, nanoGPT style: the autoencoder (step one), then the GAN (step two).
Fig. 4 of the paper, with the lesson-scale shapes (32 px, 16 frames, 50-d content, 10-d motion)::

    real clip v (B, 3, 16, 32, 32) ──► I_e, the autoencoder's encoder ──► z_c(1..T) (B, T, 50)
                                       "all frames": every frame's code; "single frame": frame 1's, repeated
    ε(t) ~ N(0, I), h_0 ~ N(0, I) ────► R_m: one-layer GRU ──────────────► z_m(1..T) (B, T, 10)
    target emotion ───────────────────► one-hot z_a, the same for every frame  (B, T, 6)
    per frame t: [z_a, z_m(t), z_c(t)] (66) ──► G_I: 2D transposed convs ──► frame t ──► ṽ (B, 3, 16, 32, 32)
    ṽ, v ──► D_I (one random frame)  and  D_V (the clip; real/fake logit + 6 category logits)

**Step one: the autoencoder** (Sec. 4.1, Table 1, Appendix A Tables 6–8, Table 4). A standard or
variational convolutional autoencoder of single face frames, small / medium / large, whose
bottleneck is the 50-d content code. :func:`train_autoencoder` trains one with the paper's loss (MSE,
plus the KL term for the variational one), :func:`evaluate_autoencoder` measures MSE and SSIM on
held-out faces (Table 4), :func:`compare_autoencoders` runs the whole Table 4 comparison, and
:func:`pretrain_autoencoder` writes the file the GAN loads (:meth:`VICEGAN.load_autoencoder`).

**Step two: the GAN** (Sec. 4.2–4.3). :class:`VICEGAN` trains R_m and G_I (optimizer ``"G"``), D_I and D_V
(``"D"``) and, when fine-tuned, the autoencoder's encoder (``"AE"``), on every batch of real clips
``v`` with labels ``y``:

1. content codes ``z_c`` of ``v`` (Sec. 4.3.1), motion codes ``z_m = R_m(ε)`` (Sec. 4.3.2), random target
   emotions ``y'`` for the generated clips ``ṽ = G_I([z_a(y'), z_m, z_c])`` (Sec. 4.3.4);
2. **D**: ``L_adv`` for D_I on one random frame and for D_V on the clip (the unnumbered ``L_adv`` of
   Sec. 4.3.5, :func:`vgan_lesson.losses.d_loss`) plus ``λ_cat · L_category`` on the real clips' labels;
3. **G** (+ the encoder when fine-tuned), against the updated D: the non-saturating ``L_adv``
   (:func:`vgan_lesson.losses.g_adv_loss`) + ``λ_content · L_content`` (the MSE between the encoder's codes
   of the real frames and of the generated frames, frame by frame:
   :func:`vgan_lesson.losses.content_consistency`) + ``λ_cat · L_category`` on ``y'``
   (:func:`vgan_lesson.losses.category_cross_entropy`). ``L_obj = L_adv + L_content + L_category``: the
   paper's weights are 1.

**The Table 2 variants** (:func:`variant_configs`): ``content_encoding`` ``"all"`` (Model 1, 2: the code of
every real frame feeds the frame it belongs to) or ``"single"`` (Model 3, 4: frame 1's code repeated for
all K frames, Sec. 4.3.4 and 5.3.2); ``fine_tune`` True (Model 1, 3: the encoder is trained by the
generator's loss, Sec. 5.3.3) or False (Model 2, 4: frozen — ``requires_grad=False``, eval mode, no
optimizer; gradients of L_content still flow *through* it into ṽ). The *seen* / *unseen* conditions
(Sec. 5.3.1) are data, not model: :data:`CONDITIONS` names the ``faces`` splits of each.

Where the paper is silent, inconsistent or says what cannot be built, our choices:

* **The default variant is Model 4** (single frame, frozen): the paper finds Model 2 best for quality and
  emotion and Model 4 best for identity and "closely" behind Model 2 otherwise (Sec. 7, RQ3(d)); this
  package's lesson is identity preservation, and :meth:`VICEGAN.animate` starts from *one* face, which is
  exactly Model 4's input at training time.
* **Names.** The paper calls content ``z_c`` / ``Z_C``, motion ``z_m`` and the category ``z_a`` (MoCoGAN
  calls content ``z_C`` and the category ``z_A`` too); the generator's input is ``[z_a, z_m(t), z_c(t)]``
  in the order of the paper's column vectors (Sec. 4.3.4).
* **G's target labels** are drawn uniformly at random for every clip (MoCoGAN; Fig. 4 turns a happy clip
  into an angry one), so the content-consistency loss pairs real frame ``t`` of one emotion with generated
  frame ``t`` of another: it asks for the same *face*, not the same picture.
* **L_content** is an MSE (the text; the printed formula drops the square) on every frame pair, for both
  variants; the "single frame" variant changes what G_I is *fed*, not the loss.
* **Fine-tuning** uses the generator's whole loss and the GAN's Adam settings (the paper: "updated according
  to the generator loss"). Be warned: L_content alone would be minimised by an encoder that maps every
  face to one code — the paper's own finding that fine-tuning hurts (Sec. 7, RQ3(c)) is a lesson exercise.
* **A variational autoencoder's content code** is its posterior mean μ (deterministic, as a content
  representation should be); it is sampled with the reparameterisation trick only while it trains.
* **Appendix A** lists K3 S2 P1 transposed convs (which give ``2n - 1``, not ``2n``), a K6 S0 first layer for
  G_I (a stride of 0 does not exist), Sigmoid outputs and 64 output channels for the small decoder, and
  Table 1 and Sec. 4.1.3 disagree with Table 8 on the small model's layer count. We keep Table 1's counts of
  convs and deconvs and Tables 6–8's widths, kernels and strides for the encoders; the decoders double
  with (4, 2, 1) transposed convs and end in a 3×3 conv to RGB with ``tanh`` (our frames are in [-1, 1]).
* **G_I, D_I and D_V** follow MoCoGAN's public code (REFERENCE_FACTS) rather than Table 9: G_I is the DCGAN
  frame generator :class:`vgan_lesson.models.frames.FrameDecoder` (a (4, 1, 0) transposed conv to 4×4, then
  (4, 2, 1) ones with BN + ReLU, ``tanh``; widths 512-256-128-64 at 64 px); D_I and D_V are the package's
  :class:`ImageDiscriminator` and :class:`VideoDiscriminator` (``label_mode="head"``: one real/fake logit +
  K category logits), with spectral norm instead of batch norm. All weights start from N(0, 0.02).
* **The motion network** is MoCoGAN's: ``GRUCell(10, 10)``, ``h_0 ~ N(0, I)``, fresh ``ε_t ~ N(0, I)`` at each
  step, ``z_m(t) = h_t`` for ``t = 1..T`` (``h_0`` itself is not a frame's code).
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import check_choice, check_images, check_int, check_tensor, check_video
from ..data.faces import EXPRESSIONS, FacesDataset
from ..io import atomic_save, safe_load
from ..losses import (category_cross_entropy, content_consistency, d_loss, g_adv_loss, kl_standard_normal,
                      reparameterize)
from ..training import Trainable, evaluating, frozen, seeded_rng
from .blocks import _levels_for, conv2d_block, count_parameters, deconv2d_block, init_weights
from .config import SCALES, ScaledConfig
from .discriminators import ImageDiscriminator, VideoDiscriminator, random_frame, split_logits
from .encoders import _gaussian_head
from .frames import FrameDecoder, FrameModelConfig

Tensor = torch.Tensor

AUTOENCODER_KINDS = ("standard", "variational")
AUTOENCODER_ARCHITECTURES = ("small", "medium", "large")
CONTENT_ENCODINGS = ("all", "single")

#: Appendix A (Tables 6–8) at the paper's widths: ``(out_channels, kernel, stride, padding)`` of every
#: encoder conv (each followed by BN and ReLU; the small one then max-pools with kernel 2, stride 2, padding 1).
ENCODER_LAYERS: dict[str, tuple[tuple[int, int, int, int], ...]] = {
    "small": ((16, 3, 1, 1), (4, 3, 2, 1)),
    "medium": ((32, 4, 4, 1), (64, 4, 4, 1), (128, 3, 3, 1), (256, 3, 3, 1)),
    "large": ((32, 3, 2, 1), (64, 3, 2, 1), (128, 3, 2, 1), (256, 3, 2, 1), (512, 3, 2, 1)),
}
#: Appendix A: the output widths of the decoders' transposed convs (as many as Table 1's #Deconv).
DECODER_WIDTHS: dict[str, tuple[int, ...]] = {"small": (4, 16), "medium": (128, 64, 32), "large": (256, 128, 64, 32)}
#: The widths above are the paper's; ``AutoencoderConfig.width`` scales them by ``width / PAPER_AE_WIDTH``.
PAPER_AE_WIDTH = 32

#: VICE-GAN Table 4 (MUG faces, 64×64): ``(kind, architecture) -> (MSE, SSIM)`` of the reconstructions.
PAPER_TABLE_4: dict[tuple[str, str], tuple[float, float]] = {
    ("standard", "small"): (0.001156, 0.909136), ("standard", "medium"): (0.000984, 0.937786),
    ("standard", "large"): (0.00086, 0.961358), ("variational", "small"): (0.002331, 0.872967),
    ("variational", "medium"): (0.001905, 0.9062063), ("variational", "large"): (0.001277, 0.938729),
}

#: Sec. 5.3.1: the ``faces`` splits (train, test) of the two compositions of the training data.
#: *unseen*: the 24 test identities never appear in training; *seen*: they appear with 2 of the 6 emotions,
#: and are tested on the other 4.
CONDITIONS: dict[str, tuple[str, str]] = {"unseen": ("train", "test"), "seen": ("seen_train", "seen_test")}

#: Table 2: the four trained variants (all with Adv + Category + Content-consistency losses).
VARIANTS: dict[str, dict[str, Any]] = {
    "Model 1": dict(content_encoding="all", fine_tune=True),
    "Model 2": dict(content_encoding="all", fine_tune=False),
    "Model 3": dict(content_encoding="single", fine_tune=True),
    "Model 4": dict(content_encoding="single", fine_tune=False),
}

#: Where the shipped autoencoder lives, relative to :func:`vgan_lesson.pretrained.checkpoint_dir`.
AUTOENCODER_FILE = "autoencoders/faces_standard_large.pt"
#: The marker of an autoencoder file written by :func:`save_autoencoder`.
AUTOENCODER_FORMAT = "vgan_lesson.vicegan.autoencoder"


# --------------------------------------------------------------------------------------------------
# step one: the autoencoder (Sec. 4.1, Table 1, Appendix A)
# --------------------------------------------------------------------------------------------------

@dataclass
class AutoencoderConfig(ScaledConfig):
    """One of the six autoencoders of VICE-GAN Table 1. Build one with :meth:`lesson` or :meth:`paper`.

    ``kind``: ``"standard"`` or ``"variational"`` (the linear layer replaced by mean and log-variance
    layers, trained with the KL term). ``architecture``: ``"small"`` (2 convs, 2 deconvs), ``"medium"``
    (4, 3) or ``"large"`` (5, 4) — Appendix A, Tables 8, 7, 6. ``size``, ``channels``: frames
    ``(B, channels, size, size)``, size 4·2^k >= 16. ``content_dim``: the code, 50 in the paper.
    ``width``: scales every width of Appendix A by ``width / 32`` (32 is the paper's).
    ``kl_weight``: weight of the KL term of the variational kind; ``None`` means ``1 / (C·H·W)``, which makes
    our per-pixel-mean MSE + KL the usual summed-error ELBO divided by the pixel count (the paper gives none).
    ``lr``: Adam's learning rate (Sec. 4.1.3: 0.005).
    """

    kind: str = "standard"
    architecture: str = "large"
    size: int = 64
    channels: int = 3
    content_dim: int = 50
    width: int = PAPER_AE_WIDTH
    kl_weight: float | None = None
    lr: float = 5e-3

    def __post_init__(self) -> None:
        self._check_fields(counts=("size", "channels", "content_dim", "width"),
                           amounts=("lr",) + (("kl_weight",) if self.kl_weight is not None else ()))
        check_choice("autoencoder kind", self.kind, AUTOENCODER_KINDS)
        check_choice("autoencoder architecture", self.architecture, AUTOENCODER_ARCHITECTURES)
        if self.size < 16:
            raise ValueError(f"size must be at least 16 (the faces data starts at 16 px), got {self.size}")
        _levels_for(self.size)
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")

    @property
    def name(self) -> str:
        """E.g. ``"standard large"``: Table 4's row and column."""
        return f"{self.kind} {self.architecture}"

    @property
    def effective_kl_weight(self) -> float:
        """``kl_weight``, or ``1 / (C·H·W)`` when it is ``None``."""
        return self.kl_weight if self.kl_weight is not None else 1.0 / (self.channels * self.size * self.size)

    def scaled(self, paper_width: int) -> int:
        """A width of Appendix A at this config's ``width`` (at least 1)."""
        return max(1, round(paper_width * self.width / PAPER_AE_WIDTH))

    @classmethod
    def lesson(cls, **overrides: Any) -> "AutoencoderConfig":
        """Lesson scale: 32×32 faces, a quarter of the paper's widths (large: 8-16-32-64-128; at half width the
        shipped file alone took 4.7 MB of the 30 MB all shipped files share), Adam 2e-3 (0.005 is
        unstable for the narrow networks in a short run). The large one trains 1,000 steps of 32 faces in
        about a minute on one CPU core."""
        return cls(**{**dict(size=32, width=8, lr=2e-3), **overrides})

    @classmethod
    def paper(cls, **overrides: Any) -> "AutoencoderConfig":
        """Paper scale (Sec. 4.1.3, Appendix A): 64×64 faces, the widths of Tables 6–8, a 50-d code, Adam 0.005
        (the paper trains 50 epochs at batch 32)."""
        return cls(**{**dict(size=64, width=PAPER_AE_WIDTH, lr=5e-3), **overrides})


def _conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


class AutoencoderEncoder(nn.Module):
    """The encoder I_e of Appendix A: strided convs (BN, ReLU), flattened, then the linear layer
    (standard: the code; variational: ``[μ, log σ²]``, the "mean and standard deviation layers").

    ``forward(frames)`` → ``(mu, logvar)``, each ``(B, content_dim)``; ``logvar`` is ``None`` for the
    standard kind, whose ``mu`` is the code itself.
    """

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        layers, c_in, side = [], c.channels, c.size
        for paper_width, kernel, stride, padding in ENCODER_LAYERS[c.architecture]:
            c_out = c.scaled(paper_width)
            layers.append(conv2d_block(c_in, c_out, kernel, stride, padding, norm="batch", act="relu"))
            c_in, side = c_out, _conv_out(side, kernel, stride, padding)
        if c.architecture == "small":                       # Table 8: "MaxPool, K2, S2, P1"
            layers.append(nn.MaxPool2d(2, 2, 1))
            side = _conv_out(side, 2, 2, 1)
        self.body = nn.Sequential(*layers)
        self.features = c_in * side * side
        self.feature_shape = (c_in, side, side)
        if c.kind == "variational":
            self.head = _gaussian_head(self.features, c.content_dim)
        else:
            self.head = init_weights(nn.Linear(self.features, c.content_dim))

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor | None]:
        out = self.head(self.body(frames).flatten(1))
        if self.config.kind == "variational":
            mu, logvar = out.chunk(2, dim=1)
            return mu, logvar
        return out, None


class AutoencoderDecoder(nn.Module):
    """The decoder of Appendix A: a linear layer "which decompresses the features" (Sec. 4.1.3) to a
    ``size / 2^L`` map with the encoder's last width, then L transposed convs (4, 2, 1) with BN + ReLU, each
    doubling (L = Table 1's #Deconv, widths of Tables 6–8), then a 3×3 conv to ``C`` channels and ``tanh``."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        widths = [c.scaled(w) for w in DECODER_WIDTHS[c.architecture]]
        self.start_channels = c.scaled(ENCODER_LAYERS[c.architecture][-1][0])
        self.start_side = c.size // 2 ** len(widths)
        self.project = nn.Sequential(
            init_weights(nn.Linear(c.content_dim, self.start_channels * self.start_side ** 2)), nn.ReLU(inplace=True))
        layers, c_in = [], self.start_channels
        for c_out in widths:
            layers.append(deconv2d_block(c_in, c_out, 4, 2, 1, norm="batch", act="relu"))
            c_in = c_out
        layers.append(conv2d_block(c_in, c.channels, 3, 1, 1, norm="none", act="none"))
        self.body = nn.Sequential(*layers)

    def forward(self, code: Tensor) -> Tensor:
        h = self.project(code).view(-1, self.start_channels, self.start_side, self.start_side)
        return torch.tanh(self.body(h))


class AutoencoderOutput(NamedTuple):
    """What :meth:`FaceAutoencoder.forward` gives for a batch of frames."""

    reconstruction: Tensor  # (B, C, H, W) in [-1, 1]
    code: Tensor            # (B, content_dim): the code decoded (a sample of q(z|x) for a training VAE)
    mu: Tensor              # (B, content_dim): the content code (the code itself for the standard kind)
    logvar: Tensor | None   # (B, content_dim) for the variational kind, else None


class FaceAutoencoder(nn.Module):
    """A VICE-GAN autoencoder (Sec. 4.1, Table 1, Appendix A) of face frames ``(B, C, H, W)`` in [-1, 1].

    ``encode(frames)`` gives the content code ``(B, content_dim)`` (a variational one: its posterior mean);
    ``decode(code)`` the frames back; ``forward(frames)`` both (:class:`AutoencoderOutput`).

    >>> ae = FaceAutoencoder(AutoencoderConfig.lesson(size=16, width=4))
    >>> ae.encode(torch.zeros(2, 3, 16, 16)).shape
    torch.Size([2, 50])
    """

    def __init__(self, config: AutoencoderConfig | None = None) -> None:
        super().__init__()
        config = AutoencoderConfig.lesson() if config is None else config
        if not isinstance(config, AutoencoderConfig):
            raise TypeError(f"config must be an AutoencoderConfig, got {type(config).__name__}")
        self.config = config
        self.encoder = AutoencoderEncoder(config)
        self.decoder = AutoencoderDecoder(config)

    def check_frames(self, frames: Any, name: str = "frames") -> Tensor:
        """Frames ``(B, C, size, size)`` in [-1, 1], or a clear error naming what came instead."""
        c = self.config
        return check_images(frames, name, c.channels, c.size, "faces",
                            "one frame, video[:, :, t], or fold time into the batch")

    def posterior(self, frames: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(mu, logvar)`` of the frames; ``logvar`` is ``None`` for the standard kind."""
        return self.encoder(self.check_frames(frames))

    def encode(self, frames: Tensor) -> Tensor:
        """I_e(x) (Sec. 4.3.1): faces ``(B, C, H, W)`` → content codes ``(B, content_dim)``."""
        return self.posterior(frames)[0]

    def decode(self, code: Tensor) -> Tensor:
        """Content codes ``(B, content_dim)`` → faces ``(B, C, H, W)`` in [-1, 1]."""
        check_tensor("code", code, 2, f"(B, {self.config.content_dim})")
        if code.shape[1] != self.config.content_dim:
            raise ValueError(f"code must have shape (B, {self.config.content_dim}), got {tuple(code.shape)}")
        return self.decoder(code)

    def forward(self, frames: Tensor, generator: torch.Generator | None = None) -> AutoencoderOutput:
        """Encode and decode; a variational autoencoder in training mode decodes a reparameterised sample."""
        mu, logvar = self.posterior(frames)
        code = reparameterize(mu, logvar, generator) if logvar is not None and self.training else mu
        return AutoencoderOutput(self.decoder(code), code, mu, logvar)

    def extra_repr(self) -> str:
        return f"{self.config.name}, {self.config.size} px, code {self.config.content_dim}, " \
               f"{count_parameters(self, trainable_only=False) / 1e6:.3f} M parameters"


def autoencoder_loss(frames: Tensor, output: AutoencoderOutput, kl_weight: float) -> tuple[Tensor, Tensor, Tensor]:
    """Sec. 4.1.3: the mean squared error of the reconstruction, plus ``kl_weight`` times the KL divergence
    of the posterior from N(0, I) for the variational kind. Returns ``(total, mse, kl)`` (``kl`` 0 if standard)."""
    mse = F.mse_loss(output.reconstruction.float(), frames.float())
    if output.logvar is None:
        return mse, mse, torch.zeros((), device=mse.device)
    kl = kl_standard_normal(output.mu.float(), output.logvar.float())
    return mse + kl_weight * kl, mse, kl


def _faces(split: str, config: AutoencoderConfig, frames: int, num_clips: int | None, seed: int) -> FacesDataset:
    return FacesDataset(split, size=config.size, frames=frames, num_clips=num_clips, seed=seed)


def _random_frames(data: FacesDataset, n: int, generator: torch.Generator, channels: int) -> Tensor:
    """``n`` faces ``(n, C, H, W)``: random clips of ``data``, one random frame of each (neutral to apex)."""
    clips = torch.randint(len(data), (n,), generator=generator)
    times = torch.randint(data.frames, (n,), generator=generator)
    video = data.batch(clips)["video"]
    frames = video[torch.arange(n), :, times]
    return frames.mean(1, keepdim=True) if channels == 1 else frames


def train_autoencoder(config: AutoencoderConfig | None = None, steps: int = 1000, batch_size: int = 32,
                      seed: int = 0, split: str = "train", frames: int = 8, num_clips: int | None = None,
                      autoencoder: FaceAutoencoder | None = None,
                      device: str | torch.device = "cpu") -> tuple[FaceAutoencoder, list[float]]:
    """Train one autoencoder of Table 1 on ``faces`` frames (Sec. 4.1.3: MSE, + KL for the variational kind,
    Adam at ``config.lr``); returns ``(autoencoder in eval mode, the loss of every step)``.

    Each step takes ``batch_size`` random clips of ``make_dataset("faces", split, size=config.size,
    frames=frames)`` and one random frame of each, so the faces range from neutral to the apex of every
    expression. ``autoencoder``: continue training this one (else a new one, initialised from ``seed``).
    Deterministic for a given seed (the global RNGs are left as they were).
    """
    config = AutoencoderConfig.lesson() if config is None else config
    if autoencoder is not None:
        if not isinstance(autoencoder, FaceAutoencoder):
            raise TypeError(f"autoencoder must be a FaceAutoencoder, got {type(autoencoder).__name__}")
        config = autoencoder.config
    check_int("steps", steps, minimum=0)
    check_int("batch_size", batch_size, minimum=1)
    check_int("frames", frames, minimum=2)
    data = _faces(split, config, frames, num_clips, seed)
    with seeded_rng(seed):
        model = FaceAutoencoder(config) if autoencoder is None else autoencoder
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x = _random_frames(data, batch_size, generator, config.channels).to(device)
        total, _, _ = autoencoder_loss(x, model(x, generator=None if x.is_cuda else generator),
                                       config.effective_kl_weight)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        losses.append(float(total.detach()))
    return model.eval(), losses


@torch.no_grad()
def evaluate_autoencoder(autoencoder: FaceAutoencoder, split: str = "test", num_clips: int = 64, frames: int = 8,
                         seed: int = 0, batch_size: int = 16) -> dict[str, float]:
    """Table 4 on our data: every frame of ``num_clips`` held-out clips (``split``; ``"test"`` holds the 24
    identities never trained on) reconstructed by ``autoencoder`` (its content code, μ for a variational one),
    scored with :func:`vgan_lesson.metrics.mse` and :func:`vgan_lesson.metrics.ssim` on [0, 1] pixels.
    Returns ``{"mse", "ssim"}``."""
    from ..metrics import mse, ssim

    if not isinstance(autoencoder, FaceAutoencoder):
        raise TypeError(f"autoencoder must be a FaceAutoencoder, got {type(autoencoder).__name__}")
    c = autoencoder.config
    data = _faces(split, c, frames, num_clips, seed)
    device = next(autoencoder.parameters()).device
    real, rebuilt = [], []
    with evaluating(autoencoder):
        for start in range(0, num_clips, batch_size):
            video = data.batch(range(start, min(start + batch_size, num_clips)))["video"]
            if c.channels == 1:
                video = video.mean(1, keepdim=True)
            n, ch, t, h, w = video.shape
            flat = video.transpose(1, 2).reshape(n * t, ch, h, w).to(device)
            out = autoencoder.decode(autoencoder.encode(flat)).cpu()
            real.append(video)
            rebuilt.append(out.view(n, t, ch, h, w).transpose(1, 2))
    real, rebuilt = torch.cat(real), torch.cat(rebuilt).clamp(-1, 1)
    return {"mse": mse(real, rebuilt), "ssim": ssim(real, rebuilt)}


def compare_autoencoders(scale: str = "lesson", steps: int = 500, batch_size: int = 32, seed: int = 0,
                         num_clips: int = 64, **overrides: Any) -> dict[str, dict[str, float]]:
    """The whole Table 4 comparison on ``faces``: each of the six autoencoders trained ``steps`` steps and
    scored on held-out identities; returns ``{"standard small": {"mse", "ssim"}, ...}``
    (:data:`PAPER_TABLE_4` holds the paper's numbers on MUG)."""
    results = {}
    for kind in AUTOENCODER_KINDS:
        for architecture in AUTOENCODER_ARCHITECTURES:
            config = AutoencoderConfig.for_scale(scale, **{**overrides, "kind": kind, "architecture": architecture})
            model, _ = train_autoencoder(config, steps=steps, batch_size=batch_size, seed=seed)
            results[config.name] = evaluate_autoencoder(model, num_clips=num_clips, seed=seed)
    return results


# ----------------------------------------------------------------------------- autoencoder files
def save_autoencoder(autoencoder: FaceAutoencoder, path: str | os.PathLike, **extra: Any) -> Path:
    """Write ``{"format", "config", "state_dict", **extra}`` atomically (a temporary file, then ``os.replace``);
    :meth:`VICEGAN.load_autoencoder` and :func:`load_autoencoder_file` read it with ``weights_only=True``."""
    if not isinstance(autoencoder, FaceAutoencoder):
        raise TypeError(f"autoencoder must be a FaceAutoencoder, got {type(autoencoder).__name__}")
    payload = {"format": AUTOENCODER_FORMAT, "config": dataclasses.asdict(autoencoder.config),
               "state_dict": {k: v.detach().cpu() for k, v in autoencoder.state_dict().items()}, **extra}
    return atomic_save(payload, path)


def _read_payload(weights: Any) -> tuple[Any, str]:
    if isinstance(weights, FaceAutoencoder):
        return {"format": AUTOENCODER_FORMAT, "config": dataclasses.asdict(weights.config),
                "state_dict": weights.state_dict()}, "the given FaceAutoencoder"
    if isinstance(weights, (str, os.PathLike)):
        from ..pretrained import verify

        path = Path(weights)
        payload = safe_load(path, "autoencoder weights")
        verify(path)
        return payload, str(path)
    if isinstance(weights, Mapping):
        return weights, "the given state dict"
    raise TypeError(f"autoencoder weights must be a file path, a state dict or a FaceAutoencoder, "
                    f"got {type(weights).__name__}")


#: Top-level sub-modules of the package's other models: a state dict with these is a whole model.
_OTHER_MODELS = {"identity_encoder": "FEV-GAN", "spatial_encoder": "FEV-GAN",
                 "trunk": "EncGAN3 / G3AN / REncGAN3", "content_encoder": "EncGAN3 / REncGAN3",
                 "motion_encoder": "EncGAN3 / REncGAN3", "motion_rnn": "VICE-GAN", "image_generator": "VICE-GAN"}


def _foreign_model(keys: Any) -> str | None:
    """The model a state dict's keys belong to when they are a whole model's, else ``None``."""
    for key in keys:
        for prefix, model in _OTHER_MODELS.items():
            if str(key).startswith(prefix + "."):
                return model
    return None


def _autoencoder_state(payload: Any, where: str) -> tuple[dict[str, Tensor], dict[str, Any] | None]:
    """The state dict and (if present) config of an autoencoder payload, with clear errors for anything else."""
    if not isinstance(payload, Mapping):
        raise ValueError(f"{where} holds a {type(payload).__name__}, not autoencoder weights")
    if "model_class" in payload:
        kind = "training checkpoint" if "optimizers" in payload else "exported model"
        raise ValueError(f"{where} is a {kind} of {str(payload['model_class']).rsplit('.', 1)[-1]}, not a VICE-GAN "
                         f"autoencoder: make one with vgan_lesson.models.vicegan.pretrain_autoencoder (or "
                         f"train_autoencoder + save_autoencoder)")
    config = None
    if "state_dict" in payload:
        if payload.get("format") not in (None, AUTOENCODER_FORMAT):
            raise ValueError(f"{where} is a {payload.get('format')!r} file, not a VICE-GAN autoencoder "
                             f"({AUTOENCODER_FORMAT!r})")
        state, config = payload["state_dict"], payload.get("config")
    else:
        state = payload
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{where} holds no state dict (a dict of parameter name -> tensor)")
    other = _foreign_model(state)
    if other is not None:
        raise ValueError(f"{where} is the state dict of a whole {other} model, not of a VICE-GAN autoencoder "
                         f"(keys like {sorted(state)[:2]}); an autoencoder has keys 'encoder.*' and 'decoder.*'")
    return dict(state), config


def load_autoencoder_file(path: str | os.PathLike) -> FaceAutoencoder:
    """An autoencoder written by :func:`save_autoencoder` (or :func:`pretrain_autoencoder`), in eval mode."""
    payload, where = _read_payload(path)
    state, config = _autoencoder_state(payload, where)
    if config is None:
        raise ValueError(f"{where} has no autoencoder config; load it into a model with VICEGAN.load_autoencoder")
    model = FaceAutoencoder(AutoencoderConfig(**config))
    model.load_state_dict(state)
    return model.eval()


def default_autoencoder_path() -> Path:
    """Where the shipped autoencoder (:func:`pretrain_autoencoder`) lives: ``checkpoints/autoencoders/...``."""
    from ..pretrained import checkpoint_dir

    return checkpoint_dir() / AUTOENCODER_FILE


def pretrain_autoencoder(out_dir: str | os.PathLike, config: AutoencoderConfig | None = None, steps: int = 2000,
                         batch_size: int = 32, seed: int = 0, entry: dict | None = None) -> dict:
    """Train an autoencoder (:func:`train_autoencoder`, lesson scale standard large by default), score it on
    held-out identities (:func:`evaluate_autoencoder`), write ``out_dir/faces_<kind>_<architecture>.pt``
    atomically and its manifest entry (``entry`` + config, steps, held-out MSE / SSIM, the paper's Table 4
    numbers, seconds); returns the entry."""
    import time

    from ..pretrained import record

    config = AutoencoderConfig.lesson() if config is None else config
    t0 = time.perf_counter()
    model, losses = train_autoencoder(config, steps=steps, batch_size=batch_size, seed=seed)
    seconds = time.perf_counter() - t0
    held_out = evaluate_autoencoder(model, seed=seed)
    path = Path(out_dir) / f"faces_{config.kind}_{config.architecture}.pt"
    save_autoencoder(model, path, steps=steps)
    tail = losses[-100:]
    paper_mse, paper_ssim = PAPER_TABLE_4[(config.kind, config.architecture)]
    return record(path, {**(entry or {}), "config": dataclasses.asdict(config), "steps": steps,
                         "batch_size": batch_size, "seed": seed, "train_seconds": round(seconds, 1),
                         "final_loss_mean_last_100": round(sum(tail) / max(1, len(tail)), 6),
                         "held_out": {k: round(v, 6) for k, v in held_out.items()},
                         "paper_table_4": {"mse": paper_mse, "ssim": paper_ssim}})


# --------------------------------------------------------------------------------------------------
# step two: the GAN (Sec. 4.2-4.3)
# --------------------------------------------------------------------------------------------------

@dataclass
class VICEGANConfig(ScaledConfig):
    """Every knob of VICE-GAN. Build one with :meth:`lesson` or :meth:`paper` (or :func:`variant_configs`).

    Data: ``size`` (frame side, 4·2^k >= 16), ``frames`` (16 in the paper), ``channels``, ``num_classes``
    (6 emotions). Latents: ``content_dim`` (z_c, the autoencoder's 50-d code), ``motion_dim`` (z_m, MoCoGAN's
    10), ``noise_dim`` (ε, MoCoGAN's 10).
    The autoencoder: ``ae_kind``, ``ae_architecture``, ``ae_width`` (:class:`AutoencoderConfig`; the paper
    picked the standard large one, Sec. 6.1).
    Table 2: ``content_encoding`` (``"all"``: every real frame's code feeds its frame; ``"single"``: frame 1's
    code for all frames), ``fine_tune`` (train the encoder with the generator, or keep it frozen).
    Widths: ``g_width`` (G_I's last hidden layer; ``width·min(2^i, 8)`` towards 4×4: 512-256-128-64 at 64 px
    with 64), ``d_width`` (first conv of D_I and D_V).
    Losses (Sec. 4.3.5, ``L_obj = L_adv + L_content + L_category``): ``lambda_content``, ``lambda_category``
    (1 in the paper). Optimisation (Sec. 5.2): ``lr``, ``betas`` (Adam, 2e-4, (0.5, 0.999), for D, G and the
    fine-tuned encoder). ``spectral_norm``: every conv of D_I and D_V.
    """

    size: int = 64
    frames: int = 16
    channels: int = 3
    num_classes: int = 6
    content_dim: int = 50
    motion_dim: int = 10
    noise_dim: int = 10
    ae_kind: str = "standard"
    ae_architecture: str = "large"
    ae_width: int = PAPER_AE_WIDTH
    content_encoding: str = "single"
    fine_tune: bool = False
    g_width: int = 64
    d_width: int = 64
    lambda_content: float = 1.0
    lambda_category: float = 1.0
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    spectral_norm: bool = True

    def __post_init__(self) -> None:
        self._check_fields(counts=("size", "frames", "channels", "num_classes", "content_dim", "motion_dim",
                                   "noise_dim", "ae_width", "g_width", "d_width"),
                           flags=("fine_tune", "spectral_norm"), amounts=("lr", "lambda_content", "lambda_category"))
        check_choice("content_encoding", self.content_encoding, CONTENT_ENCODINGS)
        check_int("frames", self.frames, minimum=2)
        self.autoencoder_config()                       # checks size, channels, kind and architecture

    def autoencoder_config(self) -> AutoencoderConfig:
        """The architecture of this model's autoencoder (what :func:`pretrain_autoencoder` must have trained)."""
        return AutoencoderConfig(kind=self.ae_kind, architecture=self.ae_architecture, size=self.size,
                                 channels=self.channels, content_dim=self.content_dim, width=self.ae_width)

    @property
    def latent_dim(self) -> int:
        """G_I's input per frame: ``[z_a, z_m(t), z_c(t)]`` = classes + motion + content (6 + 10 + 50 = 66)."""
        return self.num_classes + self.motion_dim + self.content_dim

    @property
    def table_2_model(self) -> int:
        """The number of this variant in Table 2 (1: all, fine-tuned; 2: all, frozen; 3: single, fine-tuned;
        4: single, frozen)."""
        return (1 if self.content_encoding == "all" else 3) + (0 if self.fine_tune else 1)

    @property
    def name(self) -> str:
        """E.g. ``"VICE-GAN Model 4 (single frame, frozen AE)"``."""
        encoding = "all frames" if self.content_encoding == "all" else "single frame"
        return f"VICE-GAN Model {self.table_2_model} ({encoding}, {'fine-tuned' if self.fine_tune else 'frozen'} AE)"

    @classmethod
    def lesson(cls, **overrides: Any) -> "VICEGANConfig":
        """Lesson scale: 16 frames of 32×32; the lesson autoencoder (standard large at a quarter width, see
        :meth:`AutoencoderConfig.lesson`); G_I 64-32-16 (g_width 16), D width 16; Adam 2e-4, β = (0.5, 0.999)."""
        return cls(**{**dict(size=32, frames=16, ae_width=8, g_width=16, d_width=16), **overrides})

    @classmethod
    def paper(cls, **overrides: Any) -> "VICEGANConfig":
        """Paper scale (Sec. 5.1–5.2, Appendix A; MoCoGAN's sizes): 16 frames of 64×64, 50-d content, 10-d
        motion, the standard large autoencoder at full width, G_I 512-256-128-64, D width 64, Adam 2e-4,
        β = (0.5, 0.999) (batch 32)."""
        return cls(**{**dict(size=64, frames=16, ae_width=PAPER_AE_WIDTH, g_width=64, d_width=64), **overrides})


def variant_configs(scale: str = "lesson", **overrides: Any) -> dict[str, VICEGANConfig]:
    """The four variants of VICE-GAN Table 2, by name (``"Model 1"`` … ``"Model 4"``), at ``scale``: all
    frames / single frame × fine-tuned / frozen autoencoder; same losses, data and steps."""
    return {name: variant_config(name, scale, **overrides) for name in VARIANTS}


def variant_config(name: str, scale: str = "lesson", **overrides: Any) -> VICEGANConfig:
    """One Table 2 variant by name (``"Model 1"`` … ``"Model 4"``), at ``scale``."""
    check_choice("VICE-GAN variant (Table 2)", name, VARIANTS)
    clash = sorted(set(overrides) & set(VARIANTS[name]))
    if clash:
        raise ValueError(f"{name} fixes {clash} (Table 2); drop them from the overrides or pick another variant")
    return VICEGANConfig.for_scale(scale, **{**overrides, **VARIANTS[name]})


class MotionRNN(nn.Module):
    """R_m (Sec. 4.3.2, ``Z_M = R_m(ε)``): a one-layer GRU turning noise into a trajectory of motion codes.

    As MoCoGAN: ``h_0 ~ N(0, I)``, then ``h_t = GRUCell(ε_t, h_{t-1})`` with fresh noise ``ε_t ~ N(0, I)`` at
    every step ("noise is injected at every iteration to model uncertainty of the ensuing motion"), and
    ``z_m(t) = h_t`` for ``t = 1..T``. ``forward(h0, eps)`` takes the noise, so the caller decides where it
    comes from (:meth:`VICEGAN.motion_codes` draws it from the training generator).
    """

    def __init__(self, noise_dim: int = 10, motion_dim: int = 10) -> None:
        super().__init__()
        check_int("noise_dim", noise_dim, minimum=1)
        check_int("motion_dim", motion_dim, minimum=1)
        self.noise_dim, self.motion_dim = noise_dim, motion_dim
        self.cell = nn.GRUCell(noise_dim, motion_dim)

    def forward(self, h0: Tensor, eps: Tensor) -> Tensor:
        """``h0`` ``(N, motion_dim)`` and noise ``eps`` ``(N, T, noise_dim)`` → motion codes ``(N, T, motion_dim)``."""
        check_tensor("h0", h0, 2, f"(N, {self.motion_dim})", channels=self.motion_dim)
        check_tensor("eps", eps, 3, f"(N, T, {self.noise_dim})")
        if eps.shape[0] != h0.shape[0] or eps.shape[2] != self.noise_dim:
            raise ValueError(f"eps must have shape ({h0.shape[0]}, T, {self.noise_dim}), got {tuple(eps.shape)}")
        h, codes = h0, []
        for t in range(eps.shape[1]):
            h = self.cell(eps[:, t], h)
            codes.append(h)
        return torch.stack(codes, dim=1)


class VICEGAN(Trainable):
    """VICE-GAN: autoencoder I_e (content) + GRU R_m (motion) + 2D frame generator G_I + D_I + D_V with a category head.

    Sub-networks: ``autoencoder`` (a :class:`FaceAutoencoder`; only its encoder is used, frozen unless
    ``fine_tune``), ``motion_rnn`` (R_m), ``image_generator`` (G_I, a DCGAN
    :class:`~vgan_lesson.models.frames.FrameDecoder` from ``latent_dim`` to a frame), ``image_discriminator``
    (D_I) and ``video_discriminator`` (D_V, ``1 + K`` logits). Optimizers: ``"D"`` (D_I, D_V), ``"G"``
    (R_m, G_I) and, when fine-tuned, ``"AE"`` (the autoencoder's encoder).

    Pretrain the autoencoder first (:func:`pretrain_autoencoder`) and load it (:meth:`load_autoencoder`),
    or pass one: ``VICEGAN(config, autoencoder=ae)`` copies its weights (its config must match).

    >>> model = VICEGAN(VICEGANConfig.lesson(size=16, frames=4, ae_width=2, g_width=2, d_width=2))
    >>> model.animate(torch.zeros(2, 3, 16, 16), torch.tensor([0, 3]), torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 4, 16, 16])
    """

    def __init__(self, config: VICEGANConfig | None = None, autoencoder: FaceAutoencoder | None = None) -> None:
        super().__init__()
        config = VICEGANConfig.lesson() if config is None else config
        if not isinstance(config, VICEGANConfig):
            raise TypeError(f"config must be a VICEGANConfig, got {type(config).__name__}")
        self.config = c = config
        self.autoencoder = FaceAutoencoder(c.autoencoder_config())
        self.motion_rnn = MotionRNN(c.noise_dim, c.motion_dim)
        self.image_generator = FrameDecoder(FrameModelConfig(size=c.size, channels=c.channels,
                                                             latent_dim=c.latent_dim, width=c.g_width))
        self.image_discriminator = ImageDiscriminator(c.size, c.channels, c.d_width, spectral_norm=c.spectral_norm)
        self.video_discriminator = VideoDiscriminator(c.size, c.frames, c.channels, c.d_width,
                                                      num_classes=c.num_classes, label_mode="head",
                                                      spectral_norm=c.spectral_norm)
        adam = dict(lr=c.lr, betas=c.betas)
        self._optimizers = {
            "D": torch.optim.Adam([*self.image_discriminator.parameters(), *self.video_discriminator.parameters()],
                                  **adam),
            "G": torch.optim.Adam([*self.motion_rnn.parameters(), *self.image_generator.parameters()], **adam),
        }
        if c.fine_tune:
            self._optimizers["AE"] = torch.optim.Adam(self.autoencoder.encoder.parameters(), **adam)
        self._sample_inputs: tuple[Tensor, Tensor] | None = None
        self._freeze_autoencoder()
        if autoencoder is not None:
            self.load_autoencoder(autoencoder)

    # ----------------------------------------------------------------- the autoencoder: frozen or fine-tuned
    def _freeze_autoencoder(self) -> None:
        """The decoder is never trained here; the encoder only when ``fine_tune`` (Table 2)."""
        self.autoencoder.decoder.requires_grad_(False)
        self.autoencoder.decoder.eval()
        if not self.config.fine_tune:
            self.autoencoder.requires_grad_(False)
            self.autoencoder.eval()

    def train(self, mode: bool = True) -> "VICEGAN":
        """``nn.Module.train``, except that a frozen autoencoder (and the unused decoder) stay in eval mode."""
        super().train(mode)
        self.autoencoder.decoder.eval()
        if not self.config.fine_tune:
            self.autoencoder.eval()
        return self

    def load_autoencoder(self, weights: str | os.PathLike | Mapping[str, Any] | FaceAutoencoder) -> "VICEGAN":
        """Load the pretrained autoencoder (step one) and re-apply the variant's freezing; returns the model.

        ``weights``: a file written by :func:`save_autoencoder` / :func:`pretrain_autoencoder` (loaded with
        ``weights_only=True``, checked against a manifest beside it if it has an entry there), its payload as a
        dict, a plain state dict, or a :class:`FaceAutoencoder`. Its architecture is checked against this
        model's (:meth:`VICEGANConfig.autoencoder_config`) field by field; a whole model's checkpoint or state
        dict (FEV-GAN, EncGAN3, ...) is refused with the name of what it is. Nothing is loaded on error.
        """
        payload, where = _read_payload(weights)
        state, config = _autoencoder_state(payload, where)
        if config is not None:
            mine = dataclasses.asdict(self.config.autoencoder_config())
            diffs = [f"{k}: expected {mine[k]!r}, found {config.get(k)!r}"
                     for k in ("kind", "architecture", "size", "channels", "content_dim", "width")
                     if config.get(k) != mine[k]]
            if diffs:
                raise ValueError(f"{where} is an autoencoder of another architecture than this model's ("
                                 + "; ".join(diffs) + "): set ae_kind / ae_architecture / ae_width / size / "
                                 "content_dim to match, or pretrain one with pretrain_autoencoder")
        target = self.autoencoder.state_dict()
        problems = [f"{what} {names[:5]}{' ...' if len(names) > 5 else ''}" for what, names in (
            ("missing", sorted(set(target) - set(state))), ("unexpected", sorted(set(state) - set(target))),
            ("of another shape", sorted(k for k in target if k in state and state[k].shape != target[k].shape)))
            if names]
        if problems:
            raise ValueError(f"the weights in {where} do not fit this model's {self.config.autoencoder_config().name} "
                             f"autoencoder: " + "; ".join(problems))
        self.autoencoder.load_state_dict(state)
        self._freeze_autoencoder()
        return self

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict`` with a clear error for another model's weights (FEV-GAN, EncGAN3, ...)."""
        mine = {k.split(".", 1)[0] for k in self.state_dict()}
        theirs = {str(k).split(".", 1)[0] for k in state_dict}
        if strict and theirs - mine:
            other = _foreign_model(state_dict) or "another"
            raise ValueError(f"these weights are a {other} model's (top-level modules {sorted(theirs)}), not "
                             f"VICE-GAN's ({sorted(mine)})")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    @property
    def _device(self) -> torch.device:
        return next(self.image_generator.parameters()).device

    # ----------------------------------------------------------------- inputs
    def _check_face(self, face: Any, name: str = "face") -> Tensor:
        face = self.autoencoder.check_frames(face, name)
        return face

    def labels(self, labels: Any, batch: int) -> Tensor:
        """Emotion labels → ``(batch,)`` long on the model's device: an int (the same for all), a sequence or an
        integer tensor ``(batch,)`` of classes in [0, K). Anything else, or a class outside, is a clear error."""
        k = self.config.num_classes
        names = f" ({', '.join(EXPRESSIONS)})" if k == len(EXPRESSIONS) else ""
        if isinstance(labels, bool) or isinstance(labels, float) or isinstance(labels, str):
            raise TypeError(f"labels must be emotion classes in [0, {k - 1}]{names}, got {labels!r}")
        if isinstance(labels, int):
            labels = torch.full((batch,), labels, dtype=torch.long)
        elif isinstance(labels, (list, tuple)):
            labels = torch.as_tensor(labels)
        if not isinstance(labels, Tensor):
            raise TypeError(f"labels must be an int, a sequence or a tensor of emotion classes, "
                            f"got {type(labels).__name__}")
        if labels.is_floating_point() or labels.dtype == torch.bool:
            raise TypeError(f"labels must be integer emotion classes in [0, {k - 1}]{names} of shape ({batch},), "
                            f"got dtype {labels.dtype}")
        if labels.ndim == 0:
            labels = labels.expand(batch)
        if labels.shape != (batch,):
            raise ValueError(f"labels must have shape ({batch},) (one emotion per clip), got {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= k):
            bad = sorted({int(v) for v in labels if not 0 <= int(v) < k})
            raise ValueError(f"labels must be emotion classes in [0, {k - 1}]{names}, got {bad}")
        return labels.long().to(self._device)

    def _check_video(self, video: Any, name: str, frames: int | None = None) -> Tensor:
        c = self.config
        video = check_video(video, name, batched=True)
        t = video.shape[2] if frames is None else frames
        if video.shape[1:] != (c.channels, t, c.size, c.size):
            raise ValueError(f"{name} must be (N, {c.channels}, {'T' if frames is None else t}, {c.size}, {c.size}) "
                             f"for this model, got {tuple(video.shape)}")
        return video

    # ----------------------------------------------------------------- the codes
    def frame_codes(self, video: Tensor) -> Tensor:
        """The encoder I_e on every frame of clips ``(N, C, T, H, W)`` → ``(N, T, content_dim)`` (Sec. 4.3.1;
        what L_content compares)."""
        n, ch, t, h, w = video.shape
        frames = video.transpose(1, 2).reshape(n * t, ch, h, w)
        return self.autoencoder.encode(frames).view(n, t, -1)

    def content_codes(self, video: Tensor) -> Tensor:
        """Z_C = I_e(X) (Sec. 4.3.1) as G_I is fed it: clips ``(N, C, T, H, W)`` → ``(N, T, content_dim)``.
        ``"all"`` encodes every frame (``[z_c(1), ..., z_c(K)]``); ``"single"`` encodes only the first frame and
        repeats its code K times (Sec. 4.3.4, 5.3.2)."""
        video = self._check_video(video, "video")
        if self.config.content_encoding == "all":
            return self.frame_codes(video)
        return self.autoencoder.encode(video[:, :, 0])[:, None].expand(-1, video.shape[2], -1)

    def motion_codes(self, n: int, frames: int, generator: torch.Generator) -> Tensor:
        """Z_M = R_m(ε) (Sec. 4.3.2): ``h_0`` and a fresh ``ε_t`` per frame from ``generator`` → ``(n, frames, motion_dim)``."""
        check_int("frames", frames, minimum=1)
        c = self.config
        h0 = self.randn(n, c.motion_dim, generator=generator)
        eps = self.randn(n, frames, c.noise_dim, generator=generator)
        return self.motion_rnn(h0, eps)

    def generate(self, z_c: Tensor, z_m: Tensor, labels: Any) -> Tensor:
        """G_I on every frame (Sec. 4.3.4): content ``(N, T, content_dim)``, motion ``(N, T, motion_dim)`` and
        emotions → clips ``(N, C, T, H, W)`` in [-1, 1]. Frame t is ``G_I([z_a, z_m(t), z_c(t)])``, with the
        one-hot ``z_a`` the same for every frame of a clip."""
        c = self.config
        check_tensor("z_c", z_c, 3, f"(N, T, {c.content_dim})")
        check_tensor("z_m", z_m, 3, f"(N, T, {c.motion_dim})")
        if z_c.shape[2] != c.content_dim or z_m.shape[2] != c.motion_dim or z_c.shape[:2] != z_m.shape[:2]:
            raise ValueError(f"z_c (N, T, {c.content_dim}) and z_m (N, T, {c.motion_dim}) must agree on N and T, "
                             f"got {tuple(z_c.shape)} and {tuple(z_m.shape)}")
        n, t = z_c.shape[:2]
        z_a = F.one_hot(self.labels(labels, n), c.num_classes).to(z_m.dtype)[:, None].expand(-1, t, -1)
        latent = torch.cat([z_a, z_m, z_c.to(z_m.dtype)], dim=2).reshape(n * t, c.latent_dim)
        frames = self.image_generator(latent)                          # (N·T, C, H, W)
        return frames.view(n, t, *frames.shape[1:]).transpose(1, 2)

    # ----------------------------------------------------------------- generation
    def animate(self, face: Tensor, labels: Any, generator: torch.Generator, frames: int | None = None) -> Tensor:
        """Faces ``(N, C, H, W)`` in [-1, 1] + emotions ``(N,)`` → clips ``(N, C, T, H, W)`` of those faces making
        those expressions. One face is all there is, so its code is every frame's content (the "single frame"
        scheme, what Models 3 and 4 were trained with); ``frames`` (default ``config.frames``) may be any
        length — G_I works frame by frame and R_m runs as long as asked."""
        face = self._check_face(face)
        t = self.config.frames if frames is None else check_int("frames", frames, minimum=1)
        labels = self.labels(labels, face.shape[0])
        z_c = self.autoencoder.encode(face)[:, None].expand(-1, t, -1)
        return self.generate(z_c, self.motion_codes(face.shape[0], t, generator), labels)

    def translate(self, video: Tensor, labels: Any, generator: torch.Generator) -> Tensor:
        """Video-to-video (the paper's task, Fig. 4): real clips ``(N, C, T, H, W)`` → clips of the same people
        making the emotions ``labels``, the content coded as the variant was trained (:meth:`content_codes`)."""
        z_c = self.content_codes(video)
        labels = self.labels(labels, video.shape[0])
        return self.generate(z_c, self.motion_codes(video.shape[0], video.shape[2], generator), labels)

    @torch.no_grad()
    def animate_all(self, face: Tensor, generator: torch.Generator) -> Tensor:
        """One face through every emotion: a face ``(C, H, W)`` or ``(1, C, H, W)`` → ``(K, C, T, H, W)``, row
        ``k`` showing class ``k`` (:data:`vgan_lesson.data.faces.EXPRESSIONS`), all rows with the same motion
        noise so they differ by the category alone. Eval mode (restored afterwards), no gradients."""
        if isinstance(face, Tensor) and face.ndim == 4:
            if face.shape[0] != 1:
                raise ValueError(f"animate_all takes one face (C, H, W) or (1, C, H, W), got {tuple(face.shape)}; "
                                 f"use animate for a batch")
            face = face[0]
        if not isinstance(face, Tensor) or face.ndim != 3:
            raise ValueError(f"animate_all takes one face (C, H, W) or (1, C, H, W), "
                             f"got {getattr(face, 'shape', type(face).__name__)}")
        c = self.config
        with evaluating(self):
            face = self._check_face(face[None])
            z_c = self.autoencoder.encode(face)[:, None].expand(c.num_classes, c.frames, -1)
            z_m = self.motion_codes(1, c.frames, generator).expand(c.num_classes, -1, -1)
            return self.generate(z_c, z_m, torch.arange(c.num_classes))

    def set_sample_inputs(self, faces: Tensor, labels: Any) -> None:
        """Fix the faces and labels :meth:`sample` animates (e.g. neutral frames of your own data)."""
        faces = self._check_face(faces, "sample faces")
        self._sample_inputs = (faces.detach().cpu(), self.labels(labels, faces.shape[0]).cpu())

    def sample_inputs(self, n: int) -> tuple[Tensor, Tensor]:
        """The ``n`` faces and labels :meth:`sample` uses: those of :meth:`set_sample_inputs` (cycled), else the
        neutral faces of held-out identities of ``faces`` (test split), each through the emotions in class
        order: identity ``j // K``, label ``j % K``."""
        check_int("n", n, minimum=1)
        if self._sample_inputs is not None:
            faces, labels = self._sample_inputs
            index = torch.arange(n) % faces.shape[0]
            return faces[index], labels[index]
        c = self.config
        return FacesDataset.neutral_faces_through_classes(n, c.size, c.channels, c.num_classes)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` clips for the training loop's sample grid: :meth:`sample_inputs` animated with ``generator``."""
        faces, labels = self.sample_inputs(n)
        return self.animate(faces.to(self._device), labels, generator)

    # ----------------------------------------------------------------- training (Sec. 4.3.5)
    def _check_batch(self, batch: Any) -> tuple[Tensor, Tensor]:
        if not isinstance(batch, Mapping) or "video" not in batch or "label" not in batch:
            keys = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
            raise ValueError(f"VICE-GAN trains on labelled clips: a batch needs 'video' (N, C, T, H, W) and 'label' "
                             f"(N,) emotion classes, got {keys} (make_dataset('faces', size=..., frames=...) gives both)")
        video = self._check_video(batch["video"], "batch['video']", frames=self.config.frames)
        return video, self.labels(batch["label"], video.shape[0])

    def train_step(self, batch: dict[str, Any], step: int, generator: torch.Generator) -> dict[str, Tensor]:
        """One VICE-GAN update: generate, D (L_adv + λ_cat·L_category on real labels), then G = R_m + G_I (+ the
        encoder when fine-tuned) with L_adv + λ_content·L_content + λ_cat·L_category against the updated D.
        All randomness (targets, noise, D_I's frame) comes from ``generator``."""
        c = self.config
        video, labels = self._check_batch(batch)
        n, t = video.shape[0], video.shape[2]
        # ---- 1. the codes and the generated clips
        if c.fine_tune:
            real_codes = self.frame_codes(video)                          # trained by G's loss below
        else:
            with torch.no_grad():
                real_codes = self.frame_codes(video)                      # frozen: a constant
        z_c = real_codes if c.content_encoding == "all" else real_codes[:, :1].expand(-1, t, -1)
        targets = (self.rand(n, generator=generator) * c.num_classes).long().clamp_max(c.num_classes - 1)
        fake = self.generate(z_c, self.motion_codes(n, t, generator), targets)
        index = random_frame(video, generator)[1]                         # D_I's frame, one per batch

        # ---- 2. D: L_adv on D_I and D_V, L_category on the real clips' labels
        real_i = self.image_discriminator(video[:, :, index]).float()
        fake_i = self.image_discriminator(fake[:, :, index].detach()).float()
        real_v, real_class = split_logits(self.video_discriminator(video).float())
        fake_v, _ = split_logits(self.video_discriminator(fake.detach()).float())
        loss_di, loss_dv = d_loss(real_i, fake_i), d_loss(real_v, fake_v)
        category_d = category_cross_entropy(real_class, labels)
        loss_d = loss_di + loss_dv + c.lambda_category * category_d
        self.update("D", loss_d)

        # ---- 3. G (R_m + G_I, + I_e when fine-tuned): L_adv + λ_content·L_content + λ_cat·L_category
        with frozen(self.image_discriminator, self.video_discriminator):
            adv_i = self.image_discriminator(fake[:, :, index]).float()
            adv_v, fake_class = split_logits(self.video_discriminator(fake).float())
        adversarial = g_adv_loss(adv_i, adv_v)
        category = category_cross_entropy(fake_class, targets)
        content = content_consistency(real_codes.float(), self.frame_codes(fake).float())
        loss_g = adversarial + c.lambda_content * content + c.lambda_category * category
        self.update(("G", "AE") if c.fine_tune else "G", loss_g)
        logs = {"loss_D": loss_d, "loss_DI": loss_di, "loss_DV": loss_dv, "category_D": category_d,
                "loss_G": loss_g, "adv": adversarial, "content": content, "category": category,
                "D_real": torch.sigmoid(real_v).mean(), "D_fake": torch.sigmoid(fake_v).mean(),
                "class_acc_real": (real_class.argmax(1) == labels).float().mean(),
                "class_acc_fake": (fake_class.argmax(1) == targets).float().mean()}
        return {k: v.detach() for k, v in logs.items()}

    def extra_repr(self) -> str:
        c = self.config
        counts = {"R_m": count_parameters(self.motion_rnn), "G_I": count_parameters(self.image_generator),
                  "D": count_parameters(self.image_discriminator) + count_parameters(self.video_discriminator),
                  f"I_e ({'fine-tuned' if c.fine_tune else 'frozen'})":
                      count_parameters(self.autoencoder.encoder, trainable_only=False)}
        sizes = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in counts.items())
        return f"{c.name}: {c.frames}×{c.size}×{c.size}, {c.num_classes} classes, parameters {sizes}"


__all__ = ["VICEGAN", "VICEGANConfig", "MotionRNN", "FaceAutoencoder", "AutoencoderConfig", "AutoencoderOutput",
           "AutoencoderEncoder", "AutoencoderDecoder", "autoencoder_loss", "train_autoencoder", "evaluate_autoencoder",
           "compare_autoencoders", "save_autoencoder", "load_autoencoder_file", "pretrain_autoencoder",
           "default_autoencoder_path", "variant_configs", "variant_config", "VARIANTS", "CONDITIONS",
           "PAPER_TABLE_4", "ENCODER_LAYERS", "DECODER_WIDTHS", "AUTOENCODER_FILE", "AUTOENCODER_FORMAT", "SCALES"]
