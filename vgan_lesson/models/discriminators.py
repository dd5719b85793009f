"""The two-stream discriminator: an image discriminator D_I on one frame and a video discriminator D_V
on the whole clip (EncGAN3 Sec. 3: "a two-stream Discriminator determining the realism of a randomly
selected generated frame as well as for the whole generated video, separately"; Eq. 3 and Eq. 4).

Both follow G3AN's discriminators: strided (4, 2, 1) convolutions, spectral norm on every conv, no
normalisation layer, LeakyReLU(0.2), and a last conv that collapses the remaining 4×4 (×T) map into
logits. The number of down-sampling stages follows the input size (one per halving down to 4×4), so
the same class serves 32, 64 and 128 px.

Conditional use, for the later papers (``num_classes=K``), chosen with ``label_mode``:

* ``"head"`` (MoCoGAN, VICE-GAN): the last conv outputs ``1 + K`` channels: column 0 is the
  real/fake logit, columns 1…K the category logits (trained with cross-entropy); ``forward(x)``
  returns ``(B, 1 + K)`` and ``split_logits`` separates the two.
* ``"input"`` (FEV-GAN; as ImaGINator's video discriminator): the label, one-hot, is broadcast to
  K constant maps and concatenated to the features after the first conv; ``forward(x, labels)``
  returns ``(B,)`` — one logit for "is this a real video *of this label*".

Without ``num_classes`` the output is ``(B,)``, one logit per image or clip; use it with
``binary_cross_entropy_with_logits`` (G3AN's non-saturating loss).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..checks import check_choice, check_int, check_tensor
from .blocks import LEAKY_SLOPE, _levels_for, _maybe_spectral, init_weights

Tensor = torch.Tensor

LABEL_MODES = ("head", "input")


def _label_mode(num_classes: int | None, label_mode: str | None) -> str | None:
    if num_classes is None:
        if label_mode is not None:
            raise ValueError(f"label_mode={label_mode!r} needs num_classes; got num_classes=None")
        return None
    check_int("num_classes", num_classes, minimum=1)
    label_mode = "head" if label_mode is None else label_mode
    check_choice("label_mode", label_mode, LABEL_MODES)
    return label_mode


def one_hot_labels(labels: Tensor, num_classes: int, batch: int) -> Tensor:
    """Class indices ``(B,)`` (int) or label vectors ``(B, K)`` (float, one-hot or soft) → float ``(B, K)``."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor of class indices (B,) or one-hot (B, {num_classes}), "
                        f"got {type(labels).__name__}")
    if labels.ndim == 1 and not labels.is_floating_point():
        if labels.shape[0] != batch:
            raise ValueError(f"labels must have shape ({batch},) to match the batch, got {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(f"labels must be class indices in [0, {num_classes - 1}], "
                             f"got min {int(labels.min())}, max {int(labels.max())}")
        return nn.functional.one_hot(labels.long(), num_classes).float()
    if labels.ndim == 2 and labels.is_floating_point():
        if labels.shape != (batch, num_classes):
            raise ValueError(f"one-hot labels must have shape ({batch}, {num_classes}), got {tuple(labels.shape)}")
        return labels
    raise ValueError(f"labels must be int class indices ({batch},) or float one-hot ({batch}, {num_classes}), "
                     f"got {labels.dtype} of shape {tuple(labels.shape)}")


def split_logits(logits: Tensor) -> tuple[Tensor, Tensor]:
    """``(B, 1 + K)`` from a ``label_mode="head"`` discriminator → (real/fake ``(B,)``, class logits ``(B, K)``)."""
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"expected logits of shape (B, 1 + K) from a label_mode='head' discriminator, "
                         f"got {tuple(logits.shape)}")
    return logits[:, 0], logits[:, 1:]


def random_frame(video: Tensor, generator: torch.Generator | None = None,
                 per_sample: bool = False) -> tuple[Tensor, int | Tensor]:
    """Pick the frame that D_I judges (EncGAN3 Eq. 2–3: "x̃_n is a randomly picked frame").

    ``video`` ``(B, C, T, H, W)`` → ``(frames (B, C, H, W), index)``. By default one index for the whole
    batch (as G3AN's trainer does), returned as an ``int``; ``per_sample=True`` draws one per clip and
    returns the indices as a ``(B,)`` tensor. Pass a seeded ``torch.Generator`` for determinism; the
    indices are drawn on the generator's device, so the CUDA generator of :func:`vgan_lesson.training.train`
    works too.
    """
    check_tensor("video", video, 5, "(B, C, T, H, W)")
    b, _, t = video.shape[:3]
    if t < 1:
        raise ValueError(f"video has no frames: shape {tuple(video.shape)}")
    device = generator.device if generator is not None else torch.device("cpu")
    if per_sample:
        index = torch.randint(t, (b,), generator=generator, device=device).to(video.device)
        return video[torch.arange(b, device=video.device), :, index], index
    index = int(torch.randint(t, (1,), generator=generator, device=device))
    return video[:, :, index], index


class _Discriminator(nn.Module):
    """Shared machinery: a list of strided conv stages, optional label maps after the first, a final conv."""

    def __init__(self, num_classes: int | None, label_mode: str | None) -> None:
        super().__init__()
        self.label_mode = _label_mode(num_classes, label_mode)
        self.num_classes = num_classes
        self.label_channels = num_classes if self.label_mode == "input" else 0
        self.out_logits = 1 + num_classes if self.label_mode == "head" else 1

    def _stage_outputs(self, x: Tensor, labels: Tensor | None) -> list[Tensor]:
        """The activation after every strided stage (label maps appended after the first, if any)."""
        if self.label_mode == "input":
            if labels is None:
                raise ValueError("this discriminator is label-conditioned (label_mode='input'): pass labels")
            maps = one_hot_labels(labels, self.num_classes, x.shape[0]).to(x.dtype)
        elif labels is not None:
            raise ValueError(f"labels were given but this discriminator has label_mode={self.label_mode!r}; "
                             "build it with num_classes=K, label_mode='input' to condition on labels")
        h, outputs = x, []
        for i, stage in enumerate(self.stages):
            h = self.act(stage(h))
            if i == 0 and self.label_mode == "input":  # ImaGINator / FEV-GAN: label maps after the first conv
                h = torch.cat([h, maps.view(*maps.shape, *([1] * (h.ndim - 2))).expand(-1, -1, *h.shape[2:])], 1)
            outputs.append(h)
        return outputs

    def _run(self, x: Tensor, labels: Tensor | None) -> Tensor:
        out = self.head(self._stage_outputs(x, labels)[-1]).flatten(1)  # (B, out_logits)
        return out[:, 0] if self.out_logits == 1 else out


class ImageDiscriminator(_Discriminator):
    """D_I (EncGAN3 Eq. 3; G3AN's image discriminator): ``(B, C, H, W)`` frames → ``(B,)`` logits.

    Layout at 64×64 with ``width=64`` (G3AN)::

        Conv2d(3, 64, 4, 2, 1) → LReLU → Conv2d(64, 128, 4, 2, 1) → LReLU → Conv2d(128, 256, 4, 2, 1) → LReLU
        → Conv2d(256, 512, 4, 2, 1) → LReLU → Conv2d(512, 1, 4, 1, 0)    # 64→32→16→8→4→1

    One (4, 2, 1) stage per halving from ``size`` down to 4 (32 px: three, 128 px: five); stage i has
    ``width·min(2^i, 8)`` channels. Spectral norm on every conv, no normalisation.
    """

    def __init__(self, size: int = 64, channels: int = 3, width: int = 64, num_classes: int | None = None,
                 label_mode: str | None = None, spectral_norm: bool = True) -> None:
        super().__init__(num_classes, label_mode)
        check_int("channels", channels, minimum=1)
        check_int("width", width, minimum=1)
        stages = _levels_for(size) - 1
        if stages < 1:
            raise ValueError(f"the image discriminator needs size >= 8, got {size}")
        self.size, self.channels, self.width = size, channels, width
        convs, c_in = [], channels
        for i in range(stages):
            c_out = width * min(2 ** i, 8)
            convs.append(nn.Conv2d(c_in, c_out, 4, 2, 1))
            c_in = c_out + (self.label_channels if i == 0 else 0)
        self.stages = nn.ModuleList(_maybe_spectral(init_weights(c), spectral_norm) for c in convs)
        self.head = _maybe_spectral(init_weights(nn.Conv2d(c_in, self.out_logits, 4, 1, 0)), spectral_norm)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def _check_frames(self, frames: Tensor) -> None:
        check_tensor("frames", frames, 4, "(B, C, H, W)", channels=self.channels)
        if frames.shape[2:] != (self.size, self.size):
            raise ValueError(f"frames must be {self.size}×{self.size} for this discriminator "
                             f"(expected (B, {self.channels}, {self.size}, {self.size})), got {tuple(frames.shape)}")

    def forward(self, frames: Tensor, labels: Tensor | None = None) -> Tensor:
        """Frames ``(B, C, H, W)`` → ``(B,)`` logits (``(B, 1 + K)`` with a category head)."""
        self._check_frames(frames)
        return self._run(frames, labels)

    def features(self, frames: Tensor, labels: Tensor | None = None) -> list[Tensor]:
        """The hidden feature maps of D_I, one per strided stage (after its LeakyReLU), from ``size/2``
        down to 4×4: ``[(B, width, size/2, size/2), (B, 2·width, size/4, size/4), ...]``.

        These are the "learned similarity" features of the VAE/GAN of Larsen et al. (ICML 2016,
        Sec. 2.2, Eq. 6): a reconstruction is compared with its input through ``Dis_l(x)``, the
        l-th layer of the discriminator, instead of pixel by pixel. Same input checks as ``forward``;
        the logits are ``forward(frames) == head(features(frames)[-1])``.
        """
        self._check_frames(frames)
        return self._stage_outputs(frames, labels)


def _time_geometry(frames: int) -> tuple[int, int, int]:
    """Temporal (kernel, stride, padding) of a D_V stage: halve time while there are >= 4 frames,
    then keep it with a kernel-3 conv (so 8, 16 or 32 frames all end at 2–4 frames)."""
    return (4, 2, 1) if frames >= 4 else (3, 1, 1)


class VideoDiscriminator(_Discriminator):
    """D_V (EncGAN3 Eq. 4; the 3D video discriminator of the G3AN paper): ``(B, C, T, H, W)`` → ``(B,)``.

    One Conv3d stage per spatial halving down to 4×4, each halving space with (4, 2, 1); time is halved
    by the same (4, 2, 1) while at least 4 frames remain, after that kept by a kernel-3 stride-1 conv.
    The final Conv3d has kernel ``(T_last, 4, 4)`` and collapses what is left into the logits. At
    64×64×16, ``width=64``::

        (3, 16, 64, 64) → (64, 8, 32, 32) → (128, 4, 16, 16) → (256, 2, 8, 8) → (512, 2, 4, 4) → (1, 1, 1, 1)

    ``frames`` is fixed at construction (the final kernel depends on it); 8, 16 and 32 all work.
    Spectral norm on every conv, no normalisation, LeakyReLU(0.2).
    (G3AN's released D_V is a (2+1)D stack that only fits 16 frames; its paper's is 3D, as here.)
    """

    def __init__(self, size: int = 64, frames: int = 16, channels: int = 3, width: int = 64,
                 num_classes: int | None = None, label_mode: str | None = None, spectral_norm: bool = True) -> None:
        super().__init__(num_classes, label_mode)
        check_int("frames", frames, minimum=2)
        check_int("channels", channels, minimum=1)
        check_int("width", width, minimum=1)
        stages = _levels_for(size) - 1
        if stages < 1:
            raise ValueError(f"the video discriminator needs size >= 8, got {size}")
        self.size, self.frames, self.channels, self.width = size, frames, channels, width
        convs, c_in, t = [], channels, frames
        for i in range(stages):
            c_out = width * min(2 ** i, 8)
            k_t, s_t, p_t = _time_geometry(t)
            convs.append(nn.Conv3d(c_in, c_out, (k_t, 4, 4), (s_t, 2, 2), (p_t, 1, 1)))
            t = (t + 2 * p_t - k_t) // s_t + 1
            c_in = c_out + (self.label_channels if i == 0 else 0)
        self.final_frames = t
        self.stages = nn.ModuleList(_maybe_spectral(init_weights(c), spectral_norm) for c in convs)
        self.head = _maybe_spectral(init_weights(nn.Conv3d(c_in, self.out_logits, (t, 4, 4))), spectral_norm)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, video: Tensor, labels: Tensor | None = None) -> Tensor:
        """Clips ``(B, C, T, H, W)`` → ``(B,)`` logits (``(B, 1 + K)`` with a category head)."""
        check_tensor("video", video, 5, "(B, C, T, H, W)", channels=self.channels)
        if video.shape[2:] != (self.frames, self.size, self.size):
            raise ValueError(f"video must have {self.frames} frames of {self.size}×{self.size} for this "
                             f"discriminator (expected (B, {self.channels}, {self.frames}, {self.size}, {self.size})), "
                             f"got {tuple(video.shape)}")
        return self._run(video, labels)
