"""The two-stream variational encoder of EncGAN3: a content encoder and a motion encoder.

EncGAN3 Sec. 3: "The inference module encodes first frame of the input video to produce the content
latent space. Meanwhile, the features of all difference maps between consecutive frames are encoded
to produce the motion latent space. [...] The motion stream encoder uses fully-connected layers to
compress features from all difference maps, resulting in latent space codes, instead of using the
Long Short Term Memory (LSTM) as in [TwoStreamVAN]."

Both encoders are *variational*: they return the mean ``mu`` and the log-variance ``logvar`` of a
diagonal Gaussian ``q(z | input) = N(mu, exp(logvar))``; a code is drawn with the reparameterisation
trick (:func:`vgan_lesson.losses.reparameterize`) and pulled towards the prior ``N(0, I)`` by the KL
terms of Eq. 1 (:func:`vgan_lesson.losses.kl_standard_normal`)::

    x_0  (B, C, H, W)          --ContentEncoder-->  mu_x, logvar_x   (B, content_dim)
    v    (B, C, T-1, H, W)     --MotionEncoder--->  mu_v, logvar_v   (B, motion_dim, T')
         v_j = x_j - x_{j-1}

The shapes match the inputs of the G3 generator (:class:`vgan_lesson.models.G3Trunk`): ``z_x`` is
G3AN's 128-d appearance code, ``z_v`` its 10-d motion code with temporal length ``T'`` (``T' = 1``
for 16 frames). Both encoders are plain ``nn.Module`` s reused by the later models (REncGAN3,
FEV-GAN, VICE-GAN), so they know nothing about EncGAN3 itself.

Architecture (our choice: the paper gives no layer list): a DCGAN-style stack of (4, 2, 1) strided
``conv2d_block`` s halves the frame down to 4×4 (widths ``width·min(2^i, 8)``: 64 → 128 → 256 → 512 at
64×64, the mirror of D_I), LeakyReLU(0.2), batch norm after every conv but the first (DCGAN), then a
linear head. The motion encoder applies the *same* 2D stack to every difference map (shared weights,
like a per-frame CNN), maps each to a ``map_features``-d vector, concatenates the T-1 vectors in time
order and compresses them with two fully-connected layers. Because the concatenation keeps the order,
the FC layers see *when* each change happens, which an order-blind pooling would lose.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..checks import check_choice, check_int, check_tensor
from .blocks import LEAKY_SLOPE, NORMS, _levels_for, conv2d_block, init_weights

Tensor = torch.Tensor

#: Difference maps of frames in [-1, 1] lie in [-2, 2].
DIFFERENCE_RANGE = (-2.0, 2.0)


def downsampling_stack(channels: int, width: int, size: int, norm: str = "batch") -> tuple[nn.Sequential, int]:
    """Strided conv blocks from ``size``×``size`` frames down to 4×4 feature maps.

    One ``conv2d_block`` (4, 2, 1) per halving (32 px: 3, 64 px: 4, 128 px: 5); block ``i`` has
    ``width·min(2^i, 8)`` channels; batch norm (``norm="batch"``) on all blocks but the first, as in
    DCGAN; LeakyReLU(0.2). Returns the stack and its number of output channels.
    """
    check_int("channels", channels, minimum=1)
    check_int("width", width, minimum=1)
    check_choice("norm", norm, NORMS)
    stages = _levels_for(size) - 1
    if stages < 1:
        raise ValueError(f"an encoder needs frames of at least 8×8, got size {size}")
    blocks, c_in = [], channels
    for i in range(stages):
        c_out = width * min(2 ** i, 8)
        blocks.append(conv2d_block(c_in, c_out, norm="none" if i == 0 else norm, act="leaky"))
        c_in = c_out
    return nn.Sequential(*blocks), c_in


def _gaussian_head(in_features: int, latent: int) -> nn.Linear:
    """A linear layer giving ``[mu, logvar]`` (``2·latent`` outputs), DCGAN-initialised (weights
    N(0, 0.02), bias 0), so every posterior starts near ``N(0, I)``: ``mu ≈ 0``, ``logvar ≈ 0``."""
    return init_weights(nn.Linear(in_features, 2 * latent))


class SpatialEncoder(nn.Module):
    """A deterministic image encoder: ``(B, C, size, size)`` frames in [-1, 1] → a 4×4 feature map.

    The :func:`downsampling_stack` alone: ``forward(x)`` returns ``(B, out_channels, 4, 4)`` and
    ``features(x)`` the output of every conv stage, from ``size/2`` down to 4×4 (the pyramid a model
    with skip connections would use). FEV-GAN's spatial encoder E_s (Sec. 3.1: "extracts feature maps
    F_s that contain more spatial details beside the identity features"); the base of
    :class:`ContentEncoder`.
    """

    input_name = "image"

    def __init__(self, size: int = 64, channels: int = 3, width: int = 64, norm: str = "batch") -> None:
        super().__init__()
        self.size, self.channels = size, channels
        self.stack, self.out_channels = downsampling_stack(channels, width, size, norm)

    def _check(self, x: Tensor) -> None:
        layout = f"(B, {self.channels}, {self.size}, {self.size})"
        check_tensor(self.input_name, x, 4, layout, channels=self.channels, value_range=(-1.0, 1.0))
        if x.shape[2:] != (self.size, self.size):
            raise ValueError(f"{self.input_name} must have shape {layout} for this encoder, got {tuple(x.shape)}")

    def features(self, x: Tensor) -> list[Tensor]:
        """The output of every conv stage, from ``size/2`` down to 4×4."""
        self._check(x)
        out, h = [], x
        for block in self.stack:
            h = block(h)
            out.append(h)
        return out

    def forward(self, x: Tensor) -> Tensor:
        """Frames ``(B, C, H, W)`` → feature maps ``(B, out_channels, 4, 4)``."""
        self._check(x)
        return self.stack(x)


class ContentEncoder(SpatialEncoder):
    """Enc_x of EncGAN3 (Sec. 3, Eq. 1): the first frame ``x_0`` → ``q(z_x | x_0) = N(mu_x, exp(logvar_x))``.

    ``forward(x_0)`` takes ``(B, C, size, size)`` frames in [-1, 1] and returns ``(mu, logvar)``, each
    ``(B, content_dim)``: the :class:`SpatialEncoder` stack, flattened, then a Gaussian head.
    ``features(x_0)`` returns the feature map of every conv stage.
    """

    input_name = "first frame x_0"

    def __init__(self, size: int = 64, channels: int = 3, content_dim: int = 128, width: int = 64,
                 norm: str = "batch") -> None:
        check_int("content_dim", content_dim, minimum=1)
        super().__init__(size, channels, width, norm)
        self.content_dim = content_dim
        self.head = _gaussian_head(self.out_channels * 4 * 4, content_dim)

    def forward(self, x0: Tensor) -> tuple[Tensor, Tensor]:
        """``x_0`` ``(B, C, H, W)`` → ``(mu_x, logvar_x)``, each ``(B, content_dim)``."""
        return self.head(super().forward(x0).flatten(1)).chunk(2, dim=1)


class MotionEncoder(nn.Module):
    """Enc_v of EncGAN3 (Sec. 3, Eq. 1): the difference maps ``v`` → ``q(z_v | v) = N(mu_v, exp(logvar_v))``.

    Input: all ``maps = frames - 1`` difference maps of a clip, ``v_j = x_j - x_{j-1}``, as
    ``(B, C, maps, size, size)`` with values in [-2, 2] (:func:`vgan_lesson.data.difference_maps`).
    Output: ``(mu_v, logvar_v)``, each ``(B, motion_dim, motion_length)`` — the temporal motion code
    ``z_v`` the G3 generator expects (``motion_length = T'``; 1 for 16 frames).

    Pipeline::

        v / 2                          (B·maps, C, H, W)     scaled to [-1, 1], maps folded into the batch
        shared conv stack              (B·maps, c, 4, 4)     the same 2D CNN on every map
        per-map linear                 (B, maps, map_features)
        concatenate in time order      (B, maps·map_features)
        FC → LeakyReLU → FC            (B, 2·motion_dim·T')  fully-connected compression, *not* an LSTM
        split                          mu_v, logvar_v: (B, motion_dim, T')

    The first FC layer's size depends on ``maps``, so the clip length is fixed at construction.
    """

    def __init__(self, size: int = 64, frames: int = 16, channels: int = 3, motion_dim: int = 10,
                 motion_length: int = 1, width: int = 64, map_features: int = 64, hidden: int = 256,
                 norm: str = "batch") -> None:
        super().__init__()
        check_int("frames", frames, minimum=2)
        check_int("motion_dim", motion_dim, minimum=1)
        check_int("motion_length", motion_length, minimum=1)
        check_int("map_features", map_features, minimum=1)
        check_int("hidden", hidden, minimum=1)
        self.size, self.channels, self.maps = size, channels, frames - 1
        self.motion_dim, self.motion_length = motion_dim, motion_length
        self.stack, c_out = downsampling_stack(channels, width, size, norm)
        self.per_map = nn.Sequential(init_weights(nn.Linear(c_out * 4 * 4, map_features)),
                                     nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        self.compress = nn.Sequential(init_weights(nn.Linear(self.maps * map_features, hidden)),
                                      nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        self.head = _gaussian_head(hidden, motion_dim * motion_length)

    def _check(self, v: Tensor) -> None:
        layout = f"(B, {self.channels}, {self.maps}, {self.size}, {self.size})"
        check_tensor("difference maps v", v, 5, layout, channels=self.channels, value_range=DIFFERENCE_RANGE)
        if v.shape[2:] != (self.maps, self.size, self.size):
            raise ValueError(f"difference maps v must have shape {layout} (the {self.maps} maps of a "
                             f"{self.maps + 1}-frame clip), got {tuple(v.shape)}")

    def forward(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """Difference maps ``(B, C, T-1, H, W)`` → ``(mu_v, logvar_v)``, each ``(B, motion_dim, T')``."""
        self._check(v)
        b = v.shape[0]
        per_map = (0.5 * v).transpose(1, 2).flatten(0, 1)                # (B·maps, C, H, W)
        h = self.per_map(self.stack(per_map).flatten(1))                  # (B·maps, map_features)
        h = self.compress(h.reshape(b, -1))                               # (B, hidden)
        mu, logvar = self.head(h).chunk(2, dim=1)                         # (B, motion_dim·T') each
        shape = (b, self.motion_dim, self.motion_length)
        return mu.reshape(shape), logvar.reshape(shape)


__all__ = ["SpatialEncoder", "ContentEncoder", "MotionEncoder", "downsampling_stack", "DIFFERENCE_RANGE"]
