"""Input validation shared by every module: clear errors that say what was expected and what came."""
from __future__ import annotations

from typing import Iterable

import torch


def check_choice(name: str, value, choices: Iterable) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(repr(c) for c in choices)}")


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as int, raising ``TypeError``/``ValueError`` for non-integers or values out of range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_tensor(name: str, x, ndim: int | tuple[int, ...], layout: str, channels: int | None = None,
                 value_range: tuple[float, float] | None = None) -> torch.Tensor:
    """Check a tensor's type, rank, dtype, channel count and (optionally) value range.

    ``layout`` is the expected axis names for the message, e.g. ``"(N, C, T, H, W)"``. ``channels`` is
    checked on axis 1, the C of a batched layout, so it needs a single rank ``ndim`` (a function that
    accepts a batched and an unbatched form, as :func:`check_video` does, checks its channels itself).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {layout}, got {type(x).__name__}")
    ranks = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in ranks:
        raise ValueError(f"{name} must have shape {layout} ({' or '.join(map(str, ranks))} dims), "
                         f"got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor in [-1, 1], got dtype {x.dtype}")
    if channels is not None:
        if len(ranks) != 1 or ranks[0] < 2:
            raise ValueError(f"check_tensor checks channels on axis 1 of one batched layout; it was called for "
                             f"{name} with ranks {ranks} (check the channels of each rank in the caller)")
        if x.shape[1] != channels:
            raise ValueError(f"{name} must have {channels} channels on axis 1 of {layout}, "
                             f"got shape {tuple(x.shape)}")
    if value_range is not None and x.numel():
        lo, hi = value_range
        tol = 1e-4
        mn, mx = float(x.detach().min()), float(x.detach().max())
        if not (mn >= lo - tol and mx <= hi + tol):
            raise ValueError(f"{name} must have values in [{lo}, {hi}], got min {mn:.4g}, max {mx:.4g}"
                             + (" (NaN present)" if torch.isnan(x).any() else ""))
    return x


def check_video(x, name: str = "video", batched: bool | None = None, value_range=(-1.0, 1.0)) -> torch.Tensor:
    """A video ``(C, T, H, W)`` or a batch ``(N, C, T, H, W)``, float, values in [-1, 1].

    ``batched=True`` demands the 5-d form, ``False`` the 4-d form, ``None`` accepts both.
    """
    if batched is None:
        ndim, layout = (4, 5), "(C, T, H, W) or (N, C, T, H, W)"
    elif batched:
        ndim, layout = 5, "(N, C, T, H, W)"
    else:
        ndim, layout = 4, "(C, T, H, W)"
    x = check_tensor(name, x, ndim, layout, value_range=value_range)
    if x.shape[-4] not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (axis C of {layout}), got shape {tuple(x.shape)}")
    return x


def check_frames(x, name: str = "frames", value_range=(-1.0, 1.0)) -> torch.Tensor:
    """A batch of frames ``(N, C, H, W)`` or one frame ``(C, H, W)``, float, values in [-1, 1]."""
    x = check_tensor(name, x, (3, 4), "(C, H, W) or (N, C, H, W)", value_range=value_range)
    if x.shape[-3] not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels, got shape {tuple(x.shape)}")
    return x


def check_images(x, name: str, channels: int, size: int, what: str = "images", video_hint: str = "video[:, :, t]",
                 value_range=(-1.0, 1.0)) -> torch.Tensor:
    """A batch of ``size``×``size`` images ``(B, channels, size, size)`` for a model; a video batch or one
    image without its batch axis gets an error that says how to pass it instead (``video_hint``)."""
    layout = f"(B, {channels}, {size}, {size})"
    if isinstance(x, torch.Tensor) and x.ndim == 5:
        raise ValueError(f"{name} must be a batch of {what} {layout}, got a video batch {tuple(x.shape)}: "
                         f"pass {video_hint}")
    if isinstance(x, torch.Tensor) and x.ndim == 3:
        raise ValueError(f"{name} must be a batch of {what} {layout}, got one image {tuple(x.shape)} without the "
                         f"batch axis: pass image[None]")
    check_tensor(name, x, 4, layout, channels=channels, value_range=value_range)
    if x.shape[2:] != (size, size):
        raise ValueError(f"{name} must be {size}×{size} {what} for this model (expected {layout}), got "
                         f"{tuple(x.shape)}: resize them, or build the model with size={x.shape[-1]}")
    return x
