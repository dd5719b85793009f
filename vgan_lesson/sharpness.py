"""How sharp is a picture? Two blur measures for lesson 01's "VAEs blur, GANs do not".

A VAE trained with a pixel likelihood (L1 or L2) is rewarded for predicting, at every pixel, the
centre of what the posterior ``q(z | x)`` leaves uncertain — a mean (L2) or a median (L1) of several
plausible images, which is a blurred image (Larsen et al., ICML 2016, Sec. 1: "element-wise
distance measures are not suitable for image data"; EncGAN3 Sec. 1: VAEs "tend to yield images which
are blurry"). These functions turn that visual statement into numbers a lesson can check:

* :func:`gradient_sharpness` — the root-mean-square magnitude of the image gradient (forward
  differences), per frame. Edges are where the gradient is large; blurring spreads an edge over
  more pixels and lowers its peak, so blurred frames score lower.
* :func:`high_frequency_energy` — the energy of a frame above a radial frequency cut-off (the mean
  square of its high-pass part). Blurring is a low-pass filter, so it removes exactly this energy.
* :func:`relative_sharpness` — ``mean gradient_sharpness(frames) / mean gradient_sharpness(reference)``:
  1 means "as sharp as the real frames", below 1 blurrier.

Caveat the lesson states: both measures reward *any* high-frequency content, including noise and
checkerboard artefacts, which an undertrained GAN produces plenty of. A high score therefore means
"not blurry", not "good"; read it next to the pictures and a reconstruction error.

Frames follow the package convention: ``(N, C, H, W)`` (or one frame ``(C, H, W)``) in [-1, 1].
"""
from __future__ import annotations

import torch

from .checks import check_frames

Tensor = torch.Tensor


def _as_batch(frames: Tensor, name: str) -> Tensor:
    check_frames(frames, name=name, value_range=None)
    if frames.shape[-1] < 2 or frames.shape[-2] < 2:
        raise ValueError(f"{name} must be at least 2×2 pixels to have a gradient, got shape {tuple(frames.shape)}")
    return (frames if frames.ndim == 4 else frames.unsqueeze(0)).float()


def gradient_sharpness(frames: Tensor) -> Tensor:
    """Root-mean-square gradient magnitude of each frame: ``(N, C, H, W)`` → ``(N,)`` (``(C, H, W)`` → ``(1,)``).

    With forward differences ``dx = x[i, j+1] - x[i, j]`` and ``dy = x[i+1, j] - x[i, j]`` on the
    common ``(H-1)×(W-1)`` grid, per channel::

        sharpness = sqrt(mean over C, H-1, W-1 of (dx² + dy²))

    (the "Tenengrad" focus measure of autofocus cameras, as a root mean square). Why squares: a hard
    edge of height ``h`` is one step of ``h``; blurred over ``k`` pixels it becomes ``k`` steps of
    ``h/k``. The plain mean of ``|dx|`` is the same for both (``h`` in total: blur keeps the total
    variation of a monotone edge), but the mean of ``dx²`` falls from ``h²`` to ``h²/k`` — blur over
    ``k`` pixels divides this measure by about ``sqrt(k)``. A constant frame scores 0.
    """
    x = _as_batch(frames, "frames").detach()
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]
    return (dx.pow(2) + dy.pow(2)).flatten(1).mean(1).sqrt()


def high_frequency_energy(frames: Tensor, cutoff: float = 0.25) -> Tensor:
    """Mean energy of each frame above a radial frequency ``cutoff`` (a fraction of the Nyquist frequency).

    ``(N, C, H, W)`` → ``(N,)``: the mean square, over channels and pixels, of the frame's high-pass
    part — the frequencies whose radius ``sqrt(fx² + fy²)`` (cycles per pixel) is at least
    ``cutoff · 0.5``. By Parseval's theorem this is ``Σ_high |FFT(x)|² / (H·W)²`` per channel. A
    constant frame gives 0; a ±1 checkerboard (all its energy at the Nyquist corner) gives 1.
    It is an energy, not a share of the total: a nearly flat reconstruction with faint artefacts has
    a large *share* of high frequencies but very little high-frequency *energy*, and it is the energy
    that blurring removes.
    """
    if not (isinstance(cutoff, (int, float)) and not isinstance(cutoff, bool) and 0.0 < cutoff < 1.0):
        raise ValueError(f"cutoff must be a number in (0, 1) (a fraction of the Nyquist frequency), got {cutoff!r}")
    x = _as_batch(frames, "frames").detach()
    h, w = x.shape[-2:]
    power = torch.fft.fft2(x).abs().pow(2)                               # (N, C, H, W)
    fy = torch.fft.fftfreq(h, device=x.device).view(-1, 1)
    fx = torch.fft.fftfreq(w, device=x.device).view(1, -1)
    high = (fx.pow(2) + fy.pow(2)).sqrt() >= cutoff * 0.5
    return (power * high).flatten(1).sum(1) / (x.shape[1] * (h * w) ** 2)


def relative_sharpness(frames: Tensor, reference: Tensor) -> float:
    """``mean gradient_sharpness(frames) / mean gradient_sharpness(reference)`` as a float.

    Typically ``frames`` are a model's reconstructions or samples and ``reference`` real frames:
    below 1 is blurrier than the data, about 1 as sharp, above 1 sharper (often: noisier).
    """
    ref = float(gradient_sharpness(reference).mean())
    if ref <= 0.0:
        raise ValueError("the reference frames are constant (sharpness 0); pass real frames with some structure")
    return float(gradient_sharpness(frames).mean()) / ref


__all__ = ["gradient_sharpness", "high_frequency_energy", "relative_sharpness"]
