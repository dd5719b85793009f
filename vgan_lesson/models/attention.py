"""Factorised self-attention (F-SA): temporal self-attention, then spatial self-attention.

EncGAN3 Sec. 3: "A factorized self-attention (F-SA) module [G3AN] is placed between G3_3 and G3_4
aiming to improve the consistency of the generated video stream. The F-SA module consists of a
temporal-wise followed by a spatial-wise self-attention module". Each half is SAGAN self-attention
(Zhang et al. 2019) restricted to one axis::

    q = W_q x,  k = W_k x   (1×1×1 convs to C/8 channels)      v = W_v x   (1×1×1 conv to C channels)
    attn_i = sum_j softmax_j(q_i · k_j) v_j                      # over the T frames of one pixel (temporal)
                                                                 # or the H·W pixels of one frame (spatial)
    out = gamma · attn + x,   gamma initialised to 0             # starts as the identity

Two things differ from the public G3AN code on purpose:

1. The public code reshapes the attention result back to ``(B, C, T, H, W)`` with the wrong axis
   order, scrambling channels with time/space (so an identity attention does not return its input).
   Ours uses the exact inverse of each token layout — see ``to_temporal_tokens`` /
   ``from_temporal_tokens`` and ``to_spatial_tokens`` / ``from_spatial_tokens``; ``tests/test_blocks.py``
   shows the bug would be caught.
2. The attention itself is ``torch.nn.functional.scaled_dot_product_attention`` (a fused kernel that
   never builds the (H·W)×(H·W) matrix in memory), not softmax(q kᵀ) v. A profile of the reference
   training step found the naive spatial attention took over half the time.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import check_int, check_tensor
from .blocks import _maybe_spectral, init_weights

Tensor = torch.Tensor
Shape5 = tuple[int, int, int, int, int]


# ----------------------------------------------------------------------------- token layouts
def to_temporal_tokens(x: Tensor) -> Tensor:
    """``(B, C, T, H, W)`` → ``(B·H·W, T, C)``: one sequence of T tokens per pixel."""
    b, c, t, h, w = x.shape
    return x.permute(0, 3, 4, 2, 1).reshape(b * h * w, t, c)


def from_temporal_tokens(tokens: Tensor, shape: Shape5) -> Tensor:
    """Inverse of ``to_temporal_tokens``: ``(B·H·W, T, C)`` → view ``(B, H, W, T, C)`` → ``(B, C, T, H, W)``."""
    b, _, t, h, w = shape
    return tokens.reshape(b, h, w, t, -1).permute(0, 4, 3, 1, 2)


def to_spatial_tokens(x: Tensor) -> Tensor:
    """``(B, C, T, H, W)`` → ``(B·T, H·W, C)``: one sequence of H·W tokens per frame."""
    b, c, t, h, w = x.shape
    return x.permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c)


def from_spatial_tokens(tokens: Tensor, shape: Shape5) -> Tensor:
    """Inverse of ``to_spatial_tokens``: ``(B·T, H·W, C)`` → view ``(B, T, H, W, C)`` → ``(B, C, T, H, W)``."""
    b, _, t, h, w = shape
    return tokens.reshape(b, t, h, w, -1).permute(0, 4, 1, 2, 3)


# ----------------------------------------------------------------------------- attention along one axis
class _AxisSelfAttention(nn.Module):
    """SAGAN self-attention along one axis of a ``(B, C, T, H, W)`` tensor; subclasses pick the axis."""

    axis = ""

    def __init__(self, channels: int, spectral_norm: bool = True, scale: float | None = 1.0) -> None:
        super().__init__()
        check_int("channels", channels, minimum=1)
        self.channels = channels
        self.qk_channels = max(1, channels // 8)  # SAGAN: queries and keys live in C/8 dimensions

        def conv1(out: int) -> nn.Module:
            return _maybe_spectral(init_weights(nn.Conv3d(channels, out, 1)), spectral_norm)

        self.query, self.key, self.value = conv1(self.qk_channels), conv1(self.qk_channels), conv1(channels)
        self.gamma = nn.Parameter(torch.zeros(1))  # out = gamma·attn + x starts as the identity
        # SAGAN (and G3AN) use raw dot products q·k; ``scale=None`` gives the Transformer's 1/sqrt(d).
        self.scale = 1.0 / math.sqrt(self.qk_channels) if scale is None else float(scale)

    def to_tokens(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def from_tokens(self, tokens: Tensor, shape: Shape5) -> Tensor:
        raise NotImplementedError

    def attend(self, x: Tensor) -> Tensor:
        """The attention term ``attn`` alone, in ``(B, C, T, H, W)`` layout (before gamma and the residual)."""
        q, k, v = (self.to_tokens(conv(x)) for conv in (self.query, self.key, self.value))
        # The fused kernels need one head size for q, k and v. Zero-padding q and k from C/8 to C
        # channels leaves every dot product q_i·k_j unchanged and lets PyTorch pick its fused kernel
        # (about 3× faster than softmax(q kᵀ) v on a 2-core CPU at 32×32, and it never stores the
        # (H·W)×(H·W) attention matrix). ``scale`` is passed explicitly: the default would be
        # 1/sqrt(padded size).
        pad = self.channels - self.qk_channels
        q, k = F.pad(q, (0, pad)), F.pad(k, (0, pad))
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None], scale=self.scale)[:, 0]
        return self.from_tokens(out, tuple(x.shape))

    def forward(self, x: Tensor) -> Tensor:
        check_tensor(f"{self.axis} attention input", x, 5, "(B, C, T, H, W)", channels=self.channels)
        return self.gamma * self.attend(x) + x

    def extra_repr(self) -> str:
        return f"channels={self.channels}, qk_channels={self.qk_channels}, scale={self.scale:g}"


class TemporalSelfAttention(_AxisSelfAttention):
    """Self-attention over time: each pixel's T feature vectors attend to each other (G3AN's TSA).
    Equivariant to permutations of the frames (no positional encoding)."""

    axis = "temporal"

    def to_tokens(self, x: Tensor) -> Tensor:
        return to_temporal_tokens(x)

    def from_tokens(self, tokens: Tensor, shape: Shape5) -> Tensor:
        return from_temporal_tokens(tokens, shape)


class SpatialSelfAttention(_AxisSelfAttention):
    """Self-attention over space: each frame's H·W feature vectors attend to each other (G3AN's SSA)."""

    axis = "spatial"

    def to_tokens(self, x: Tensor) -> Tensor:
        return to_spatial_tokens(x)

    def from_tokens(self, tokens: Tensor, shape: Shape5) -> Tensor:
        return from_spatial_tokens(tokens, shape)


class FactorizedSelfAttention(nn.Module):
    """F-SA (EncGAN3 Sec. 3, G3AN Sec. 3.2): temporal self-attention followed by spatial self-attention.

    Factorising needs ``H·W·T² + T·(H·W)² = T·H·W·(T + H·W)`` attention weights per clip (each of the
    H·W pixels attends over T frames, then each of the T frames over H·W pixels) instead of
    ``(T·H·W)²`` for full spatio-temporal attention. Input and output ``(B, C, T, H, W)``; with both
    gammas at their initial 0 the module is exactly the identity.
    """

    def __init__(self, channels: int, spectral_norm: bool = True, scale: float | None = 1.0) -> None:
        super().__init__()
        self.channels = channels
        self.temporal = TemporalSelfAttention(channels, spectral_norm, scale)
        self.spatial = SpatialSelfAttention(channels, spectral_norm, scale)

    def forward(self, x: Tensor) -> Tensor:
        return self.spatial(self.temporal(x))
