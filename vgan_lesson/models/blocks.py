"""Convolution blocks and the G3 module shared by every generator in the package.

What is here, from small to large:

* ``conv2d_block`` / ``deconv2d_block`` / ``conv3d_block`` / ``deconv3d_block``: one (transposed)
  convolution, an optional batch norm, an activation and optional spectral norm, as an
  ``nn.Sequential``; ``init_weights`` gives the DCGAN initialisation N(0, 0.02) used by G3AN,
  MoCoGAN and (by inheritance) EncGAN3.
* ``G3Block``: one G3 module of G3AN [Wang et al., CVPR 2020], the building block of the EncGAN3
  generator (EncGAN3 Sec. 3 and Fig. 1, "each of the stacked modules {G3_i} fuses features from the
  three streams at different scales").
* ``G3Trunk``: the stack of G3 modules from the two latent codes to the main-stream feature map, with
  the factorised self-attention (F-SA) "placed between G3_3 and G3_4" (EncGAN3 Sec. 3).
* ``VideoHead``: the final ``Conv3d(C, 3, (1, 3, 3))`` + tanh that turns the main stream into RGB.
* ``VideoDecoder``: a VGAN-style stack of 3D transposed convolutions from an image feature map to a
  clip (FEV-GAN's G_dec; the decoder of any "image encoder → video" model such as C-VGAN).

The lead's generator assembles ``G3Trunk`` + ``VideoHead``; the encoders and losses live elsewhere.

Tensor layouts: videos and video features are ``(B, C, T, H, W)``; the content stream is
``(B, C, 1, H, W)`` (one "frame", no time); the motion stream is ``(B, C, T, 1, 1)`` (no space).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
import torch.nn as nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ..checks import check_choice, check_int, check_tensor

Tensor = torch.Tensor

NORMS = ("batch", "none")
ACTIVATIONS = ("relu", "leaky", "none")
LEAKY_SLOPE = 0.2  # LeakyReLU slope of every discriminator in G3AN / MoCoGAN / ImaGINator

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


# ----------------------------------------------------------------------------- initialisation
def _init_one(m: nn.Module) -> None:
    if isinstance(m, _CONVS):
        if parametrize.is_parametrized(m, "weight"):
            # spectral norm keeps the raw weight as ``original``; its power-iteration vectors were
            # computed for the old weight, so take the parametrisation off, re-initialise, put it back.
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
            nn.init.normal_(m.weight, 0.0, 0.02)
            _spectral_norm(m)
        else:
            nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, _NORMS) and m.affine:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def init_weights(module: nn.Module) -> nn.Module:
    """DCGAN initialisation, applied to every sub-module: conv/linear weights ~ N(0, 0.02), biases 0,
    batch-norm scales ~ N(1, 0.02), shifts 0 (as in the G3AN and MoCoGAN code). Returns ``module``.

    Spectrally normalised layers are handled: the raw weight is re-drawn and the spectral norm
    re-attached, so its power-iteration estimate matches the new weight.
    """
    module.apply(_init_one)
    return module


def _maybe_spectral(layer: nn.Module, enabled: bool) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018): the weight is divided by its largest singular value
    (estimated by one power iteration per training step), which keeps the layer 1-Lipschitz."""
    return _spectral_norm(layer) if enabled else layer


def has_spectral_norm(layer: nn.Module) -> bool:
    """True when ``layer.weight`` is spectrally normalised (``torch.nn.utils.parametrizations``)."""
    if not parametrize.is_parametrized(layer, "weight"):
        return False
    return any(type(p).__name__ == "_SpectralNorm" for p in layer.parametrizations.weight)


# ----------------------------------------------------------------------------- plain blocks
def _block(conv_cls: type, norm_cls: type, in_channels: int, out_channels: int, kernel_size, stride, padding,
           norm: str, act: str, spectral_norm: bool, bias: bool | None) -> nn.Sequential:
    check_choice("norm", norm, NORMS)
    check_choice("act", act, ACTIVATIONS)
    check_int("in_channels", in_channels, minimum=1)
    check_int("out_channels", out_channels, minimum=1)
    if bias is None:
        bias = norm == "none"  # a bias right before batch norm is cancelled by its mean subtraction
    conv = conv_cls(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
    init_weights(conv)  # initialise before spectral norm so its power iteration starts on the final weight
    layers: list[nn.Module] = [_maybe_spectral(conv, spectral_norm)]
    if norm == "batch":
        layers.append(init_weights(norm_cls(out_channels)))
    if act == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif act == "leaky":
        layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
    return nn.Sequential(*layers)


def conv2d_block(in_channels: int, out_channels: int, kernel_size=4, stride=2, padding=1, *, norm: str = "batch",
                 act: str = "leaky", spectral_norm: bool = False, bias: bool | None = None) -> nn.Sequential:
    """``Conv2d`` → [BatchNorm2d] → [ReLU | LeakyReLU(0.2)]. The default (4, 2, 1) halves H and W.

    ``norm``: ``"batch"`` or ``"none"``; ``act``: ``"relu"``, ``"leaky"`` or ``"none"``; ``bias``
    defaults to "only when there is no batch norm".
    """
    return _block(nn.Conv2d, nn.BatchNorm2d, in_channels, out_channels, kernel_size, stride, padding,
                  norm, act, spectral_norm, bias)


def deconv2d_block(in_channels: int, out_channels: int, kernel_size=4, stride=2, padding=1, *, norm: str = "batch",
                   act: str = "relu", spectral_norm: bool = False, bias: bool | None = None) -> nn.Sequential:
    """``ConvTranspose2d`` → [BatchNorm2d] → [activation]. The default (4, 2, 1) doubles H and W;
    (4, 1, 0) maps a 1×1 latent to 4×4 (the first layer of a DCGAN/MoCoGAN image generator)."""
    return _block(nn.ConvTranspose2d, nn.BatchNorm2d, in_channels, out_channels, kernel_size, stride, padding,
                  norm, act, spectral_norm, bias)


def conv3d_block(in_channels: int, out_channels: int, kernel_size=4, stride=2, padding=1, *, norm: str = "batch",
                 act: str = "leaky", spectral_norm: bool = False, bias: bool | None = None) -> nn.Sequential:
    """``Conv3d`` → [BatchNorm3d] → [activation] on ``(B, C, T, H, W)``. Kernel, stride and padding
    may be ints or ``(t, h, w)`` tuples; the default (4, 2, 1) halves T, H and W."""
    return _block(nn.Conv3d, nn.BatchNorm3d, in_channels, out_channels, kernel_size, stride, padding,
                  norm, act, spectral_norm, bias)


def deconv3d_block(in_channels: int, out_channels: int, kernel_size=4, stride=2, padding=1, *, norm: str = "batch",
                   act: str = "relu", spectral_norm: bool = False, bias: bool | None = None) -> nn.Sequential:
    """``ConvTranspose3d`` → [BatchNorm3d] → [activation]. Output length along an axis with kernel k,
    stride s, padding p: ``(n - 1)·s - 2p + k`` — so (4, 2, 1) doubles, (4, 1, 0) adds 3, (1, 1, 0) keeps."""
    return _block(nn.ConvTranspose3d, nn.BatchNorm3d, in_channels, out_channels, kernel_size, stride, padding,
                  norm, act, spectral_norm, bias)


# ----------------------------------------------------------------------------- the G3 module
class G3Streams(NamedTuple):
    """The three streams between two G3 modules.

    ``main`` ``(B, C_v, T, H, W)`` is the spatio-temporal stream G_V that becomes the video;
    ``content`` ``(B, C_s, 1, H, W)`` is the spatial stream G_S (appearance, no time);
    ``motion`` ``(B, C_t, T, 1, 1)`` is the temporal stream G_T (motion, no space).
    A stream that is switched off (EncGAN3 Table 4 ablations) is ``None``.
    """
    main: Tensor
    content: Tensor | None
    motion: Tensor | None


def _axis_geometry(first: bool, upsample: bool) -> tuple[int, int, int]:
    """(kernel, stride, padding) of a transposed conv along one axis: out = (n - 1)·s - 2p + k."""
    if first:
        return 4, 1, 0   # n -> n + 3: a 1×1 latent becomes 4×4, a motion code of length T' becomes T' + 3
    if upsample:
        return 4, 2, 1   # n -> 2n
    return 1, 1, 0       # n -> n (a point-wise mixing of channels)


class G3Block(nn.Module):
    """One G3 module (G3AN Sec. 3.1; EncGAN3 Sec. 3, Fig. 1 "upper middle dashed box").

    Three streams, each a transposed convolution → BatchNorm → ReLU, all with spectral norm::

        G_V (main):    ConvT3d(k_t,1,1) → BN → ReLU → ConvT3d(1,k_s,k_s) → BN → ReLU   # (1+2)D factorisation
        G_S (content): ConvT3d(1,k_s,k_s) → BN → ReLU     # spatial only: T stays 1
        G_T (motion):  ConvT3d(k_t,1,1)  → BN → ReLU      # temporal only: H = W = 1

    and then the fusion, in this order (G3AN's code; EncGAN3 Fig. 1)::

        main = main + G_T  broadcast over H, W           # motion modulates every pixel
        main = concat(G_S broadcast over T, main)        # content prepended: channels double

    so the main stream leaves with ``2·out_channels`` channels, the content and motion streams with
    ``out_channels`` each. G_S and G_T never see the main stream: appearance and motion stay
    disentangled, and the main stream must combine them.

    Geometry along each axis (``out = (n - 1)·stride - 2·padding + kernel``):

    * ``first=True`` (G3_0): kernel 4, stride 1, padding 0 in space *and* time, so the 1×1 latent
      becomes 4×4 and a motion code of length T' becomes T' + 3 frames;
    * otherwise space always doubles (4, 2, 1); time doubles when ``upsample_time`` (the first three
      levels of G3AN) and is kept with a point-wise (1, 1, 0) conv when not.

    Ablations (EncGAN3 Table 4: "no G_S", "no G_T", "no G_S, G_T"): ``use_spatial=False`` removes
    G_S and its concatenation; ``use_temporal=False`` removes G_T and its addition. A removed stream's
    fusion is skipped, not faked: without G_S the main stream leaves with ``out_channels`` channels
    (not ``2·out_channels``) and the next module is built with that many input channels
    (``G3Trunk`` does this; see ``main_out_channels``). We chose this over concatenating zeros because
    zeros would only be an expensive way of writing the same network — a transposed conv's weights on
    an all-zero input channel never affect the output nor receive a gradient — and would make the
    ablated model look as large as the full one in a parameter count. The price is that the ablated
    generator is narrower than the full one after each fusion; the lesson reports both counts.
    """

    def __init__(self, main_in: int, content_in: int, motion_in: int, out_channels: int, *, first: bool = False,
                 upsample_time: bool = True, use_spatial: bool = True, use_temporal: bool = True,
                 spectral_norm: bool = True) -> None:
        super().__init__()
        for name, value in (("main_in", main_in), ("content_in", content_in), ("motion_in", motion_in),
                            ("out_channels", out_channels)):
            check_int(name, value, minimum=1)
        if first and not upsample_time:
            raise ValueError("the first G3 module always grows time T' -> T' + 3 (kernel 4, stride 1); "
                             "upsample_time=False is only meaningful for later modules")
        self.main_in, self.content_in, self.motion_in = main_in, content_in, motion_in
        self.out_channels = out_channels
        self.first, self.upsample_time = first, upsample_time
        self.use_spatial, self.use_temporal = use_spatial, use_temporal

        k_s, s_s, p_s = _axis_geometry(first, upsample=True)          # space always grows
        k_t, s_t, p_t = _axis_geometry(first, upsample=upsample_time)
        block = dict(norm="batch", act="relu", spectral_norm=spectral_norm)
        # G_V: temporal then spatial transposed conv, the (1+2)D factorisation of a 3D transposed conv
        self.main = nn.Sequential(
            deconv3d_block(main_in, out_channels, (k_t, 1, 1), (s_t, 1, 1), (p_t, 0, 0), **block),
            deconv3d_block(out_channels, out_channels, (1, k_s, k_s), (1, s_s, s_s), (0, p_s, p_s), **block),
        )
        # G_S: space only, on the content stream; G_T: time only, on the motion stream
        self.spatial = (deconv3d_block(content_in, out_channels, (1, k_s, k_s), (1, s_s, s_s), (0, p_s, p_s),
                                       **block) if use_spatial else None)
        self.temporal = (deconv3d_block(motion_in, out_channels, (k_t, 1, 1), (s_t, 1, 1), (p_t, 0, 0), **block)
                         if use_temporal else None)

    @property
    def main_out_channels(self) -> int:
        """Channels of the fused main stream: ``2·out_channels`` with G_S, ``out_channels`` without."""
        return 2 * self.out_channels if self.use_spatial else self.out_channels

    def output_size(self, frames: int, size: int) -> tuple[int, int]:
        """``(T, H)`` of the output for a main-stream input with ``frames`` frames and ``size``×``size``."""
        k_t, s_t, p_t = _axis_geometry(self.first, self.upsample_time)
        k_s, s_s, p_s = _axis_geometry(self.first, True)
        return (frames - 1) * s_t - 2 * p_t + k_t, (size - 1) * s_s - 2 * p_s + k_s

    def _check_inputs(self, main: Tensor, content: Tensor | None, motion: Tensor | None) -> None:
        check_tensor("main stream", main, 5, "(B, C, T, H, W)", channels=self.main_in)
        b, _, t, h, w = main.shape
        if self.use_spatial:
            if content is None:
                raise ValueError("this G3 module has a spatial stream G_S (use_spatial=True) but got content=None")
            check_tensor("content stream", content, 5, "(B, C, 1, H, W)", channels=self.content_in)
            if content.shape[0] != b or content.shape[2] != 1 or content.shape[3:] != (h, w):
                raise ValueError(f"content stream must have shape ({b}, {self.content_in}, 1, {h}, {w}) to match "
                                 f"the main stream {tuple(main.shape)}, got {tuple(content.shape)}")
        if self.use_temporal:
            if motion is None:
                raise ValueError("this G3 module has a temporal stream G_T (use_temporal=True) but got motion=None")
            check_tensor("motion stream", motion, 5, "(B, C, T, 1, 1)", channels=self.motion_in)
            if motion.shape[0] != b or motion.shape[2] != t or motion.shape[3:] != (1, 1):
                raise ValueError(f"motion stream must have shape ({b}, {self.motion_in}, {t}, 1, 1) to match "
                                 f"the main stream {tuple(main.shape)}, got {tuple(motion.shape)}")

    def forward(self, main: Tensor, content: Tensor | None = None, motion: Tensor | None = None) -> G3Streams:
        """Advance the three streams by one scale and fuse them; returns ``G3Streams(main, content, motion)``."""
        self._check_inputs(main, content, motion)
        h_v = self.main(main)                                        # (B, C, T2, H2, W2)
        h_s = self.spatial(content) if self.spatial is not None else None     # (B, C, 1, H2, W2)
        h_t = self.temporal(motion) if self.temporal is not None else None    # (B, C, T2, 1, 1)
        if h_t is not None:
            h_v = h_v + h_t                                          # broadcast over H, W
        if h_s is not None:
            h_v = torch.cat([h_s.expand(-1, -1, h_v.shape[2], -1, -1), h_v], dim=1)  # broadcast over T
        return G3Streams(h_v, h_s, h_t)

    def extra_repr(self) -> str:
        return (f"main_in={self.main_in}, content_in={self.content_in}, motion_in={self.motion_in}, "
                f"out_channels={self.out_channels}, first={self.first}, upsample_time={self.upsample_time}, "
                f"use_spatial={self.use_spatial}, use_temporal={self.use_temporal}")


def g3_widths(base: int = 64, size: int = 64) -> tuple[int, ...]:
    """Widths of the G3 modules for a ``size``×``size`` output, one module per scale 4, 8, …, size.

    The width at spatial scale ``s`` is ``min(8·base, base·64/s)``: with ``base=64`` at 64×64 this is
    G3AN's (512, 512, 256, 128, 64); 128×128 adds a sixth module of width ``base/2`` (EncGAN3 Sec. 5
    "adding a further G3 module"; the paper does not give its width, halving is our choice); 32×32
    drops the last module: (512, 512, 256, 128). Lesson scale uses ``base`` 4–8.
    """
    check_int("base", base, minimum=1)
    levels = _levels_for(size)
    return tuple(max(1, min(8 * base, base * 64 // (4 * 2 ** i))) for i in range(levels))


def _levels_for(size: int) -> int:
    check_int("size", size, minimum=4)
    levels = round(math.log2(size / 4)) + 1
    if 4 * 2 ** (levels - 1) != size:
        supported = ", ".join(str(4 * 2 ** i) for i in range(1, 7))
        raise ValueError(f"size must be 4·2^k (one G3 module per doubling from 4×4), e.g. {supported}; got {size}")
    return levels


class G3Trunk(nn.Module):
    """The stacked G3 modules of the EncGAN3 generator, from latent codes to the main-stream features.

    Inputs (EncGAN3 Sec. 3; G3AN Sec. 3.1): the content code ``z_content`` (``z_x`` in EncGAN3, ``z_a``
    in G3AN) ``(B, C_z)`` or ``(B, C_z, 1, 1, 1)``, and the motion code ``z_motion`` (``z_v``/``z_m``)
    ``(B, C_m, T')`` or ``(B, C_m, T', 1, 1)``. The three streams start as::

        content = z_content                                  (B, C_z, 1, 1, 1)
        motion  = z_motion                                   (B, C_m, T', 1, 1)
        main    = concat(z_content repeated over T', z_motion)   (B, C_z + C_m, T', 1, 1)

    then pass through ``len(widths)`` G3 modules; the factorised self-attention F-SA is applied to the
    main stream after module ``attention_after`` (EncGAN3: "between G3_3 and G3_4", i.e. index 3, on
    32×32 features for a 64×64 video). The output is the fused main stream
    ``(B, main_out_channels, T, H, W)``; ``VideoHead`` turns it into RGB.

    Shape arithmetic (``out = (n - 1)·stride - 2·padding + kernel`` per axis):

    * space: G3_0 maps 1 → 4 (kernel 4, stride 1), every later module doubles: ``H = W = 4·2^(L-1)``
      for ``L = len(widths)`` modules (5 → 64 px, 6 → 128 px, 4 → 32 px);
    * time: G3_0 maps T' → T' + 3, modules 1 … ``time_levels - 1`` double it, the rest keep it:
      ``T = (T' + 3)·2^(time_levels - 1)``. With G3AN's ``time_levels = 3`` this is ``T = 4·(T' + 3)``:
      T' = 1 gives 16 frames, T' = 2 gives 20, T' = 5 gives 32 — longer videos from the same weights
      (G3AN's multi-length demo);
    * channels: module i outputs ``2·widths[i]`` main channels (``widths[i]`` without G_S).

    Flags: ``use_spatial`` / ``use_temporal`` switch G_S / G_T off in every module (EncGAN3 Table 4);
    ``attention_after=None`` drops F-SA (Table 3, "F-SA no").
    """

    def __init__(self, content_dim: int = 128, motion_dim: int = 10, widths: Sequence[int] = (512, 512, 256, 128, 64),
                 time_levels: int = 3, attention_after: int | None = None, use_spatial: bool = True,
                 use_temporal: bool = True, spectral_norm: bool = True) -> None:
        super().__init__()
        from .attention import FactorizedSelfAttention  # local import: attention imports this module's helpers

        check_int("content_dim", content_dim, minimum=1)
        check_int("motion_dim", motion_dim, minimum=1)
        widths = tuple(widths)
        if not widths:
            raise ValueError("widths must name at least one G3 module, got an empty sequence")
        for i, w in enumerate(widths):
            check_int(f"widths[{i}]", w, minimum=1)
        check_int("time_levels", time_levels, minimum=1, maximum=len(widths))
        if attention_after is not None:
            check_int("attention_after", attention_after, minimum=0, maximum=len(widths) - 1)
        self.content_dim, self.motion_dim, self.widths = content_dim, motion_dim, widths
        self.time_levels, self.attention_after = time_levels, attention_after
        self.use_spatial, self.use_temporal = use_spatial, use_temporal

        blocks = []
        main_in, content_in, motion_in = content_dim + motion_dim, content_dim, motion_dim
        for i, width in enumerate(widths):
            block = G3Block(main_in, content_in, motion_in, width, first=(i == 0), upsample_time=(i < time_levels),
                            use_spatial=use_spatial, use_temporal=use_temporal, spectral_norm=spectral_norm)
            blocks.append(block)
            main_in, content_in, motion_in = block.main_out_channels, width, width
            if i == attention_after:
                self.attention_channels = block.main_out_channels
        self.blocks = nn.ModuleList(blocks)
        self.attention = (FactorizedSelfAttention(self.attention_channels, spectral_norm=spectral_norm)
                          if attention_after is not None else None)
        self.out_channels = main_in

    @classmethod
    def paper(cls, size: int = 64, base: int = 64, content_dim: int = 128, motion_dim: int = 10,
              attention: bool = True, **kwargs) -> "G3Trunk":
        """G3AN / EncGAN3 layout for a ``size``×``size``, 16-frame video: widths ``g3_widths(base, size)``,
        time doubled in the first 3 modules, F-SA after G3_3 (on 32×32 features when ``size`` ≥ 64; after
        the second-to-last module for smaller sizes)."""
        widths = g3_widths(base, size)
        attention_after = min(3, len(widths) - 2) if attention and len(widths) >= 2 else None
        return cls(content_dim, motion_dim, widths, time_levels=min(3, len(widths)),
                   attention_after=attention_after, **kwargs)

    def output_shape(self, motion_length: int = 1) -> tuple[int, int, int, int]:
        """``(C, T, H, W)`` of the main-stream output for a motion code of temporal length ``T'``."""
        check_int("motion_length", motion_length, minimum=1)
        frames, size = motion_length, 1
        for block in self.blocks:
            frames, size = block.output_size(frames, size)
        return self.out_channels, frames, size, size

    def _latents(self, z_content: Tensor, z_motion: Tensor) -> tuple[Tensor, Tensor]:
        z_content = check_tensor("z_content", z_content, (2, 5), "(B, C_z) or (B, C_z, 1, 1, 1)")
        z_motion = check_tensor("z_motion", z_motion, (3, 5), "(B, C_m, T') or (B, C_m, T', 1, 1)")
        if z_content.ndim == 2:
            z_content = z_content[:, :, None, None, None]
        if z_motion.ndim == 3:
            z_motion = z_motion[:, :, :, None, None]
        if z_content.shape[1:] != (self.content_dim, 1, 1, 1):
            raise ValueError(f"z_content must have shape (B, {self.content_dim}) or (B, {self.content_dim}, 1, 1, 1), "
                             f"got {tuple(z_content.shape)}")
        if z_motion.shape[1] != self.motion_dim or z_motion.shape[3:] != (1, 1):
            raise ValueError(f"z_motion must have shape (B, {self.motion_dim}, T') or "
                             f"(B, {self.motion_dim}, T', 1, 1), got {tuple(z_motion.shape)}")
        if z_content.shape[0] != z_motion.shape[0]:
            raise ValueError(f"z_content and z_motion disagree on the batch size: {tuple(z_content.shape)} vs "
                             f"{tuple(z_motion.shape)}")
        return z_content, z_motion

    def forward(self, z_content: Tensor, z_motion: Tensor) -> Tensor:
        """Latent codes → fused main-stream features ``(B, out_channels, T, H, W)``."""
        z_content, z_motion = self._latents(z_content, z_motion)
        main = torch.cat([z_content.expand(-1, -1, z_motion.shape[2], -1, -1), z_motion], dim=1)
        streams = G3Streams(main, z_content, z_motion)
        for i, block in enumerate(self.blocks):
            streams = block(*streams)
            if i == self.attention_after:
                streams = streams._replace(main=self.attention(streams.main))
        return streams.main


class VideoHead(nn.Module):
    """Main-stream features → RGB video in [-1, 1]: ``Conv3d(C, 3, (1, 3, 3), padding (0, 1, 1))`` + tanh
    (G3AN's ``to_rgb``; a per-frame 3×3 conv, no spectral norm, as in the reference code)."""

    def __init__(self, in_channels: int, out_channels: int = 3) -> None:
        super().__init__()
        check_int("in_channels", in_channels, minimum=1)
        check_int("out_channels", out_channels, minimum=1)
        self.in_channels = in_channels
        self.conv = init_weights(nn.Conv3d(in_channels, out_channels, (1, 3, 3), 1, (0, 1, 1)))

    def forward(self, h: Tensor) -> Tensor:
        check_tensor("features", h, 5, "(B, C, T, H, W)", channels=self.in_channels)
        return torch.tanh(self.conv(h))


def time_upsampling(frames: int, levels: int) -> tuple[int, int]:
    """``(T0, doublings)`` with ``frames = T0 · 2^doublings`` and as many doublings as possible, at most
    ``levels``: the frames a decoder creates from one image and how often it then doubles time
    (16 frames over 3 levels: ``(2, 3)``; 32 over 4: ``(2, 4)``; 12 over 3: ``(3, 2)``; 15: ``(15, 0)``)."""
    check_int("frames", frames, minimum=1)
    check_int("levels", levels, minimum=0)
    doublings = 0
    while doublings < levels and frames % (2 ** (doublings + 1)) == 0:
        doublings += 1
    return frames // 2 ** doublings, doublings


class VideoDecoder(nn.Module):
    """An image feature map → a video clip, with 3D (fractionally strided) transposed convolutions.

    The decoder of the "one image in, one clip out" models (FEV-GAN's G_dec, Sec. 3.1: "combines
    spatio-temporal convolutions and fractionally strided convolutions"; VGAN's and C-VGAN's
    generators)::

        h            (B, C_in, s0, s0)           a 2D feature map (s0 = start_size, 4 by default)
        ConvT3d (T0, 1, 1), stride 1             (B, w_0, T0, s0, s0)       time is created: T0 frames
        ConvT3d (k_t, 4, 4), stride (s_t, 2, 2)  (B, w_1, ·, 2·s0, 2·s0)    space doubles in every layer,
        ...                                                                 time in the first ones
        ConvT3d (k_t, 4, 4), stride (s_t, 2, 2)  (B, C, T, size, size)     → tanh, in [-1, 1]

    ``frames = T0 · 2^n_t`` (:func:`time_upsampling`): time doubles with (4, 2, 1) in the first ``n_t``
    up-sampling layers and is kept with a (3, 1, 1) kernel in the rest, so any clip length works
    (16 frames at 32 px: T0 = 2 and three doublings). Widths halve towards the output:
    ``width·min(2^(L-1-i), 8)`` for the L = log2(size / s0) up-sampling layers (64 px, ``width=64``:
    512, 256, 128, 64, as in VGAN). Batch norm and ReLU after every layer but the last, which has tanh
    (FEV-GAN Sec. 4.2; DCGAN). No spectral norm.
    """

    def __init__(self, in_channels: int, out_channels: int = 3, size: int = 64, frames: int = 16, width: int = 64,
                 start_size: int = 4) -> None:
        super().__init__()
        check_int("in_channels", in_channels, minimum=1)
        check_int("out_channels", out_channels, minimum=1)
        check_int("width", width, minimum=1)
        check_int("start_size", start_size, minimum=1)
        check_int("size", size, minimum=start_size)
        levels = round(math.log2(size / start_size))
        if levels < 1 or start_size * 2 ** levels != size:
            raise ValueError(f"size must be start_size·2^k with k >= 1 (start_size={start_size}: "
                             f"{', '.join(str(start_size * 2 ** i) for i in range(1, 6))}, ...), got {size}")
        first_frames, doublings = time_upsampling(frames, levels)
        self.in_channels, self.out_channels, self.size, self.frames = in_channels, out_channels, size, frames
        self.start_size, self.first_frames, self.time_doublings = start_size, first_frames, doublings
        self.widths = tuple(width * min(2 ** (levels - 1 - i), 8) for i in range(levels))
        self.project = deconv3d_block(in_channels, self.widths[0], (first_frames, 1, 1), 1, 0)   # BN, ReLU
        layers = []
        for i in range(levels):
            k_t, s_t, p_t = (4, 2, 1) if i < doublings else (3, 1, 1)
            last = i == levels - 1
            c_out = out_channels if last else self.widths[i + 1]
            layers.append(deconv3d_block(self.widths[i], c_out, (k_t, 4, 4), (s_t, 2, 2), (p_t, 1, 1),
                                         norm="none" if last else "batch", act="none" if last else "relu"))
        self.upsample = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        """Feature maps ``(B, C_in, s0, s0)`` (or ``(B, C_in, 1, s0, s0)``) → clips ``(B, C, T, size, size)``."""
        s0 = self.start_size
        layout = f"(B, {self.in_channels}, {s0}, {s0})"
        check_tensor("decoder input", h, (4, 5), layout)
        given = tuple(h.shape)
        if h.ndim == 4:
            h = h.unsqueeze(2)
        if h.shape[1] != self.in_channels or h.shape[2:] != (1, s0, s0):
            raise ValueError(f"decoder input must have shape {layout} or (B, {self.in_channels}, 1, {s0}, {s0}), "
                             f"got {given}")
        return torch.tanh(self.upsample(self.project(h)))


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; spectral norm's power-iteration vectors are buffers, not counted."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
