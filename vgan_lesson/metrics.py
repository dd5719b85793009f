"""The papers' metrics, on tensors in the package's video convention, with any feature extractor.

Every function takes videos ``(N, C, T, H, W)`` in [-1, 1], or features / class probabilities
computed from them, and says in its docstring what it reduces over. Feature extractors are plain
callables (``videos -> (N, D)`` or ``frames -> (N, D)``): the package's own evaluator networks, or
a user's local Inception / I3D weights for real data.

The traps (REFERENCE_FACTS.md, "Metrics: the traps") are handled here once:

* Fréchet distance is computed in float64 with scipy's matrix square root, retried with a small
  diagonal offset when the product of covariances is near singular (as pytorch-fid does); it needs
  at least two samples, and it warns when there are fewer samples than feature dimensions.
* PSNR, MSE and SSIM are per frame, then averaged — never pooled over a batch (pooling one MSE over
  the batch, as public ImaGINator code does, weights easy frames and hard ones differently).
  SSIM is Wang et al.'s: Gaussian window of sigma 1.5 (11 taps), K1 = 0.01, K2 = 0.03, computed by
  torchmetrics on [0, 1] images (data range 1).
* The Inception Score comes with its two components: ``H(y)`` (diversity of classes over the set)
  and ``E[H(y|x)]`` (confidence per sample); ``IS = exp(E_x KL(p(y|x) || p(y))) = exp(H(y) - E[H(y|x)])``
  when computed on one split.
* ACD is the mean L2 distance between the features of **consecutive** frames (FEV-GAN, VICE-GAN);
  ACD-I the mean distance of each frame's features to the input image's.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import torch
from scipy import linalg

from .checks import check_tensor, check_video

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- Fréchet distance
def _features(name: str, x) -> np.ndarray:
    x = torch.as_tensor(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be features of shape (N, D), got shape {tuple(x.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples to estimate a covariance, got {x.shape[0]}")
    arr = x.detach().double().cpu().numpy()
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """scipy's matrix square root; its singular-matrix warnings are handled by the caller's retry."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = linalg.sqrtm(matrix)
    return out[0] if isinstance(out, tuple) else out


def frechet_gaussians(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                      eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):
    ``|mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))`` (Heusel et al., 2017).
    A distance, so never below 0: the rounding of the matrix square root can leave about -1e-5 for two
    identical Gaussians, which is returned as 0."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched Gaussians: means {mu1.shape} and {mu2.shape}, covariances "
                         f"{sigma1.shape} and {sigma2.shape}")
    diff = mu1 - mu2
    product = sigma1 @ sigma2
    covmean = _sqrtm(product)
    scale = max(1.0, float(np.abs(product).max()))
    if not np.isfinite(covmean).all() or not np.allclose(covmean @ covmean, product, atol=1e-5 * scale):
        offset = np.eye(sigma1.shape[0]) * eps           # near-singular product: pytorch-fid's retry
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"matrix square root has a large imaginary part ({np.abs(covmean.imag).max():.3g})")
        covmean = covmean.real
    return max(0.0, float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)))


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between two feature sets ``(N, D)`` (FID on frame features, video FID / FVD
    on clip features). Features are summarised by their mean and covariance in float64."""
    a, b = _features("features_a", features_a), _features("features_b", features_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    if min(len(a), len(b)) <= a.shape[1]:
        warnings.warn(f"only {min(len(a), len(b))} samples for {a.shape[1]}-d features: the covariance is "
                      "singular and the distance is biased; use many more samples than dimensions", stacklevel=2)
    return frechet_gaussians(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def extract(extractor: Callable[[Tensor], Tensor], videos: Tensor, batch_size: int = 64) -> Tensor:
    """Features of ``videos`` ``(N, C, T, H, W)`` from ``extractor`` in batches, without gradients."""
    check_video(videos, "videos", batched=True)
    with torch.no_grad():
        return torch.cat([extractor(videos[i:i + batch_size]).float().flatten(1)
                          for i in range(0, len(videos), batch_size)])


# ----------------------------------------------------------------------------- Inception Score
def inception_score(probs, splits: int = 1) -> dict[str, float]:
    """Inception Score of class probabilities ``(N, K)`` with its components (EncGAN3 Table 2).

    Returns ``is`` = mean over ``splits`` of ``exp(E_x KL(p(y|x) || p(y)))``, ``is_std`` over the
    splits, ``h_y`` = entropy of the marginal p(y) (high: many classes generated) and ``h_y_given_x``
    = mean entropy of p(y|x) (low: each sample clearly one class), both in nats on the whole set,
    plus the sample count and splits.
    """
    p = torch.as_tensor(probs).double()
    if p.ndim != 2 or p.shape[0] < 1:
        raise ValueError(f"probs must have shape (N, K), got {tuple(p.shape)}")
    if (p < -1e-6).any() or not torch.allclose(p.sum(1), torch.ones(p.shape[0], dtype=p.dtype), atol=1e-4):
        raise ValueError("probs must be probabilities: non-negative rows summing to 1 (apply softmax to logits)")
    if not 1 <= splits <= p.shape[0]:
        raise ValueError(f"splits must be between 1 and the number of samples {p.shape[0]}, got {splits}")
    p = p.clamp_min(1e-12)

    def entropy(q: Tensor) -> Tensor:
        return -(q * q.log()).sum(-1)

    scores = []
    for chunk in p.chunk(splits):
        marginal = chunk.mean(0, keepdim=True)
        kl = (chunk * (chunk.log() - marginal.log())).sum(1).mean()
        scores.append(math.exp(float(kl)))
    return {"is": float(np.mean(scores)), "is_std": float(np.std(scores)),
            "h_y": float(entropy(p.mean(0))), "h_y_given_x": float(entropy(p).mean()),
            "samples": int(p.shape[0]), "splits": splits}


# ----------------------------------------------------------------------------- regression
def r2_score(pred, target) -> float:
    """Coefficient of determination of predictions ``(N, ...)`` against targets of the same shape:
    ``1 - sum (y - p)^2 / sum (y - mean_N y)^2``, pooled over every column after the first axis (a
    colour's three channels count as one target). 1: exact; 0: no better than predicting the mean of
    the targets; negative: worse than that. Computed in float64; needs targets that vary."""
    p, y = torch.as_tensor(pred).double(), torch.as_tensor(target).double()
    if p.shape != y.shape or p.ndim < 1 or p.shape[0] < 2:
        raise ValueError(f"pred and target must have the same shape (N, ...) with N >= 2, got "
                         f"{tuple(p.shape)} and {tuple(y.shape)}")
    spread = (y - y.mean(0)).pow(2).sum()
    if spread <= 0:
        raise ValueError("the targets are all equal: R² is undefined")
    return float(1 - (y - p).pow(2).sum() / spread)


def linear_readout(train_features, train_targets, test_features, test_targets) -> float:
    """How much of a factor a representation holds, read linearly: fit ``targets ≈ [features, 1] @ W``
    by least squares on the training pairs, predict the test features, and return :func:`r2_score` of
    those predictions (a linear probe; beyond the papers). Features ``(N, D)``, targets ``(N,)`` or
    ``(N, K)``; fitted in float64. Needs more training pairs than ``D + 1`` unknowns per target, or
    the fit can memorise them."""
    xs = [torch.as_tensor(x).double() for x in (train_features, test_features)]
    ys = [torch.as_tensor(y).double() for y in (train_targets, test_targets)]
    ys = [y.unsqueeze(1) if y.ndim == 1 else y for y in ys]
    if any(x.ndim != 2 for x in xs) or xs[0].shape[1] != xs[1].shape[1]:
        raise ValueError(f"features must be (N, D) with the same D for training and test, got "
                         f"{tuple(xs[0].shape)} and {tuple(xs[1].shape)}")
    if any(y.ndim != 2 for y in ys) or ys[0].shape[1] != ys[1].shape[1] or \
            [len(y) for y in ys] != [len(x) for x in xs]:
        raise ValueError(f"targets must be (N,) or (N, K), one row per feature row, with the same K for training "
                         f"and test; got {tuple(ys[0].shape)} and {tuple(ys[1].shape)} for features "
                         f"{tuple(xs[0].shape)} and {tuple(xs[1].shape)}")
    if len(xs[0]) <= xs[0].shape[1] + 1:
        raise ValueError(f"a linear read-out of {xs[0].shape[1]} features needs more than {xs[0].shape[1] + 1} "
                         f"training pairs, got {len(xs[0])}")
    train, test = (torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1) for x in xs)
    weights = torch.linalg.lstsq(train, ys[0]).solution
    return r2_score(test @ weights, ys[1])


# ----------------------------------------------------------------------------- pixel metrics
def _pair(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    check_video(x, "x", batched=True)
    check_video(y, "y", batched=True)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    return x, y


def _frames01(v: Tensor) -> Tensor:
    """(N, C, T, H, W) in [-1, 1] -> (N*T, C, H, W) in [0, 1]."""
    n, c, t, h, w = v.shape
    return ((v.transpose(1, 2).reshape(n * t, c, h, w).float() + 1) / 2).clamp(0, 1)


def _frame_mse(x: Tensor, y: Tensor, chunk: int = 64) -> Tensor:
    """Per-frame MSE ``(N*T,)`` (float64) on [0, 1] pixels of two checked video batches, ``chunk``
    videos at a time in float32 (no full-size float64 copy of the videos)."""
    out = []
    for i in range(0, len(x), chunk):
        d = (x[i:i + chunk].float() - y[i:i + chunk].float()).mul_(0.5)        # [-1, 1] -> [0, 1] differences
        out.append(d.pow_(2).mean(dim=(1, 3, 4)).double().flatten())           # (n, T) -> (n*T,)
    return torch.cat(out)


def mse(x: Tensor, y: Tensor) -> float:
    """Mean squared error on [0, 1] pixels, per frame then averaged (VICE-GAN's MSE)."""
    return float(_frame_mse(*_pair(x, y)).mean())


def psnr(x: Tensor, y: Tensor, max_db: float = 100.0) -> float:
    """Peak signal-to-noise ratio in dB on [0, 1] pixels, **per frame** then averaged
    (``10 log10(1 / MSE_frame)``, capped at ``max_db`` for identical frames)."""
    per_frame = _frame_mse(*_pair(x, y))
    db = 10 * torch.log10(1.0 / per_frame.clamp_min(10 ** (-max_db / 10)))
    return float(db.mean())


def ssim(x: Tensor, y: Tensor, chunk: int = 512) -> float:
    """Structural similarity (Wang et al., 2004) per frame, averaged: Gaussian window sigma 1.5,
    K1 = 0.01, K2 = 0.03, data range 1 on [0, 1] pixels (torchmetrics' implementation).

    Frames go to torchmetrics ``chunk`` at a time: it stacks five copies of its input for one
    convolution, which for 1,000 clips of 64×64×16 at once would need about 28 GB."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    x, y = _pair(x, y)
    per_frame, step = [], max(1, chunk // x.shape[2])            # whole videos, about `chunk` frames a call
    for i in range(0, len(x), step):
        a, b = _frames01(x[i:i + step]), _frames01(y[i:i + step])
        per_frame.append(structural_similarity_index_measure(a, b, gaussian_kernel=True, sigma=1.5, kernel_size=11,
                                                             data_range=1.0, k1=0.01, k2=0.03, reduction="none"))
    per_frame = torch.cat(per_frame)
    return float(per_frame.mean())


# ----------------------------------------------------------------------------- identity / content consistency
def acd(frame_features: Tensor) -> float:
    """Average Content Distance: mean L2 distance between the features of consecutive frames.

    ``frame_features`` is ``(N, T, D)``: per-frame identity (or content) features of N videos.
    Lower means a steadier identity; a static video scores exactly 0.
    """
    f = check_tensor("frame_features", frame_features, 3, "(N, T, D)")
    if f.shape[1] < 2:
        raise ValueError(f"ACD needs at least 2 frames per video, got T={f.shape[1]}")
    return float((f[:, 1:] - f[:, :-1]).double().norm(dim=-1).mean())


def acd_i(frame_features: Tensor, input_features: Tensor) -> float:
    """ACD-I (FEV-GAN): mean L2 distance between each frame's features ``(N, T, D)`` and the
    features ``(N, D)`` of the input image the video was generated from."""
    f = check_tensor("frame_features", frame_features, 3, "(N, T, D)")
    g = check_tensor("input_features", input_features, 2, "(N, D)")
    if g.shape[0] != f.shape[0] or g.shape[1] != f.shape[2]:
        raise ValueError(f"input_features {tuple(g.shape)} do not match frame_features {tuple(f.shape)}")
    return float((f - g.unsqueeze(1)).double().norm(dim=-1).mean())


def cas(logits: Tensor, requested) -> float:
    """Classification Accuracy Score: share of generated videos that the video classifier assigns to
    the class they were asked for. ``logits`` ``(N, K)``, ``requested`` ``(N,)`` class indices."""
    logits = check_tensor("logits", logits, 2, "(N, K)")
    requested = torch.as_tensor(requested).long().reshape(-1)
    if requested.shape[0] != logits.shape[0]:
        raise ValueError(f"{logits.shape[0]} logits but {requested.shape[0]} requested labels")
    if requested.numel() and (int(requested.min()) < 0 or int(requested.max()) >= logits.shape[1]):
        raise ValueError(f"requested labels must lie in [0, {logits.shape[1]}), got {requested.tolist()}")
    return float((logits.argmax(1) == requested).double().mean())


# ----------------------------------------------------------------------------- long videos
def seam_score(videos: Tensor, boundaries, features: Tensor | None = None) -> dict[str, float]:
    """Temporal seams of long videos (beyond the papers; for REncGAN3's chained clips).

    ``videos`` ``(N, C, T, H, W)``; ``boundaries`` the frame indices ``j`` where a new clip starts, so
    the step from frame ``j - 1`` to ``j`` is a **seam**. Every consecutive step is measured as the
    root-mean-square change per pixel (or, with ``features`` ``(N, T, D)``, the L2 change of the
    per-frame features). Returns ``seam`` (mean step across boundaries), ``within`` (mean step
    everywhere else) and ``ratio = seam / within``: about 1 when the joins are invisible, well above
    1 when clips are simply concatenated (a static video has both steps 0 and ratio 1), and ``steps``:
    the change at every step ``t -> t + 1`` (a list of ``T - 1`` numbers, for plotting where a video jumps).
    """
    check_video(videos, "videos", batched=True)
    t = videos.shape[2]
    cuts = sorted({int(b) for b in boundaries})
    if not cuts:
        raise ValueError("boundaries must name at least one frame index where a clip starts")
    if cuts[0] < 1 or cuts[-1] > t - 1:
        raise ValueError(f"boundaries must lie in [1, {t - 1}] for videos of {t} frames, got {cuts}")
    if len(cuts) >= t - 1:
        raise ValueError(f"every step is a boundary ({len(cuts)} of {t - 1}): nothing is left to compare with")
    if features is not None:
        f = check_tensor("features", features, 3, "(N, T, D)")
        if f.shape[0] != videos.shape[0] or f.shape[1] != t:
            raise ValueError(f"features {tuple(f.shape)} do not match {videos.shape[0]} videos of {t} frames")
        steps = (f[:, 1:] - f[:, :-1]).double().norm(dim=-1).mean(0)                    # (T-1,)
    else:
        steps = (videos[:, :, 1:] - videos[:, :, :-1]).double().pow(2).mean(dim=(1, 3, 4)).sqrt().mean(0)
    is_seam = torch.zeros(t - 1, dtype=torch.bool)
    is_seam[[c - 1 for c in cuts]] = True
    seam, within = float(steps[is_seam].mean()), float(steps[~is_seam].mean())
    ratio = seam / within if within > 0 else (1.0 if seam == 0 else math.inf)
    return {"seam": seam, "within": within, "ratio": ratio, "seams": len(cuts), "steps": steps.tolist()}
