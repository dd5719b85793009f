"""The package's own evaluator networks (DESIGN §4): small in-domain stand-ins for Inception, I3D and
VGG-Face, trained on the procedural data by :func:`train_evaluator` and shipped with a manifest.

Three kinds, one architecture family (conv blocks, global mean+max pooling, a feature layer, heads):

* ``"frame"`` — a 2D network on single frames that predicts the **content factors** (``shapes``: shape,
  colour, background; ``faces``: hair style and colour, skin tone, glasses, beard; ``dancer``:
  clothing and wall colours and body proportions, regressed). Its features feed frame FID.
* ``"video"`` — a 3D network on whole clips that predicts the **motion class** (action, expression,
  dance style). Its features feed video FID / FVD, its probabilities the Inception Score and CAS.
* ``"identity"`` — for ``faces``: a 2D network trained to tell the 96 training identities apart,
  whose L2-normalised features are an identity embedding for ACD / ACD-I; it is judged on the 24
  **held-out** identities by face verification (same person or not, threshold set on training
  identities).

Inputs are videos ``(N, C, T, H, W)`` in [-1, 1]; frames of another size are resized (antialiased)
to the evaluator's size; a video evaluator needs its own frame count.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_choice, check_video
from .data import make_dataset
from .io import atomic_save, safe_load
from .metrics import r2_score
from .models.blocks import conv2d_block, conv3d_block
from .training import Trainable

Tensor = torch.Tensor

#: What each evaluator predicts: factor name -> number of classes (int) or ``("regress", dims)``.
TARGETS: dict[tuple[str, str], dict[str, object]] = {
    ("shapes", "frame"): {"shape": 5, "color": 8, "background": 4},
    ("shapes", "video"): {"label": 6},
    ("faces", "frame"): {"hair_style": 5, "hair_color": 8, "skin_tone": 8, "glasses": 2, "beard": 3},
    ("faces", "video"): {"label": 6},
    ("faces", "identity"): {"identity": 120},
    ("dancer", "frame"): {"shirt": ("regress", 3), "trousers": ("regress", 3), "wall": ("regress", 3),
                          "height": ("regress", 1), "build": ("regress", 1)},
    ("dancer", "video"): {"label": 4},
}
KINDS = ("frame", "video", "identity")


@dataclass
class EvaluatorConfig:
    """An evaluator's architecture and training settings."""

    dataset: str = "shapes"
    kind: str = "video"
    size: int = 32
    frames: int = 16
    width: int = 24
    feature_dim: int = 64
    lr: float = 1e-3
    targets: dict = field(default_factory=dict)

    def __post_init__(self):
        check_choice("evaluator kind", self.kind, KINDS)
        key = (self.dataset, self.kind)
        check_choice("(dataset, kind) of an evaluator", key, TARGETS)
        if not self.targets:
            self.targets = {k: (list(v) if isinstance(v, tuple) else v) for k, v in TARGETS[key].items()}


class Evaluator(Trainable):
    """Conv stack -> global mean and max pooling -> ``feature_dim`` features -> one head per target."""

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.config = config
        video = config.kind == "video"
        block = conv3d_block if video else conv2d_block
        stages, c_in, layers = 0, 3, []
        size = config.size
        while size > 4:
            c_out = config.width * min(2 ** stages, 4)
            layers.append(block(c_in, c_out, 4, 2, 1, norm="batch", act="leaky"))
            c_in, size, stages = c_out, size // 2, stages + 1
        self.body = nn.Sequential(*layers)
        self.features_layer = nn.Linear(2 * c_in, config.feature_dim)
        self.heads = nn.ModuleDict({
            name: nn.Linear(config.feature_dim, spec[1] if isinstance(spec, list) else spec)
            for name, spec in config.targets.items()})   # linear layers keep PyTorch's default init
        self.opt = torch.optim.Adam(self.parameters(), lr=config.lr)

    # ------------------------------------------------------------------ inputs
    def _prepare(self, videos: Tensor) -> Tensor:
        """Videos -> the network's input: resized frames; for 2D kinds every frame becomes an item."""
        check_video(videos, "videos", batched=True)
        n, c, t, h, w = videos.shape
        if c == 1:
            videos = videos.expand(n, 3, t, h, w)
        if self.config.kind == "video" and t != self.config.frames:
            raise ValueError(f"this video evaluator takes clips of {self.config.frames} frames, got T={t}")
        frames = videos.transpose(1, 2).reshape(n * t, 3, h, w)
        if h != self.config.size or w != self.config.size:
            frames = F.interpolate(frames, size=(self.config.size, self.config.size), mode="bilinear",
                                   antialias=True, align_corners=False)
        s = self.config.size
        if self.config.kind == "video":
            return frames.view(n, t, 3, s, s).transpose(1, 2)
        return frames

    def _embed(self, x: Tensor) -> Tensor:
        h = self.body(x).flatten(2)
        # mean and max pooling: the mean sees the scene, the max a small object anywhere in it
        return self.features_layer(torch.cat([h.mean(-1), h.amax(-1)], dim=1))

    # ------------------------------------------------------------------ outputs
    def features(self, videos: Tensor) -> Tensor:
        """Features: ``(N, D)`` per clip for video evaluators; ``(N, T, D)`` per frame otherwise
        (identity features are L2-normalised)."""
        n, t = videos.shape[0], videos.shape[2]
        f = self._embed(self._prepare(videos))
        if self.config.kind == "video":
            return f
        f = f.view(n, t, -1)
        return F.normalize(f, dim=-1) if self.config.kind == "identity" else f

    def logits(self, videos: Tensor) -> dict[str, Tensor]:
        """Head outputs per target: ``(N, K)`` per clip (video) or ``(N, T, K)`` per frame."""
        f = self._embed(self._prepare(videos))
        out = {name: head(f) for name, head in self.heads.items()}
        if self.config.kind != "video":
            n, t = videos.shape[0], videos.shape[2]
            out = {k: v.view(n, t, -1) for k, v in out.items()}
        return out

    def probabilities(self, videos: Tensor, target: str = "label") -> Tensor:
        """Class probabilities of a classification target (softmax of its logits)."""
        return self.logits(videos)[target].softmax(-1)

    # ------------------------------------------------------------------ training
    def optimizers(self):
        return {"evaluator": self.opt}

    def _loss(self, batch: dict, generator) -> tuple[Tensor, dict[str, Tensor]]:
        videos = batch["video"]
        if self.config.kind != "video":   # one random frame per clip is enough per step
            t = torch.randint(videos.shape[2], (1,), generator=generator).item()
            videos = videos[:, :, t:t + 1]
        out = self.logits(videos)
        losses = {}
        for name, spec in self.config.targets.items():
            pred = out[name].reshape(videos.shape[0], -1).float()
            target = batch[name]
            if isinstance(spec, list):
                losses[name] = F.mse_loss(pred, target.float().view(len(target), -1))
            else:
                losses[name] = F.cross_entropy(pred, target.long())
        return sum(losses.values()), losses

    def train_step(self, batch, step, generator):
        total, losses = self._loss(batch, generator)
        self.update("evaluator", total)
        return losses

    def sample(self, n, generator):
        raise NotImplementedError("evaluators generate nothing; train them with sample_every=0")


@torch.no_grad()
def accuracy(model: Evaluator, dataset, num: int = 512, batch_size: int = 64) -> dict[str, float]:
    """Held-out scores per target: accuracy for classes (majority over frames for frame kinds), R² for
    regressed factors."""
    model.eval()
    scores: dict[str, list] = {}
    for start in range(0, min(num, len(dataset)), batch_size):
        b = dataset.batch(range(start, min(start + batch_size, num, len(dataset))))
        out = model.logits(b["video"])
        for name, spec in model.config.targets.items():
            target = b[name]
            p = out[name].mean(1) if out[name].ndim == 3 else out[name]   # frame kinds: average over frames
            if isinstance(spec, list):
                scores.setdefault(name, []).append((p.reshape(len(target), -1), target.float().view(len(target), -1)))
            else:
                scores.setdefault(name, []).append((p.argmax(-1) == target).float())
    result = {}
    for name, parts in scores.items():
        if isinstance(parts[0], tuple):
            p, y = torch.cat([a for a, _ in parts]), torch.cat([b for _, b in parts])
            result[f"{name}_r2"] = r2_score(p, y)
        else:
            result[f"{name}_accuracy"] = float(torch.cat(parts).mean())
    return result


@torch.no_grad()
def verification_accuracy(model: Evaluator, size: int = 32, frames: int = 4, pairs: int = 600,
                          seed: int = 0) -> dict[str, float]:
    """Face verification on identities the embedder never saw: cosine similarity of two clips' mean
    embeddings, thresholded at the value that best separates same/different pairs of *training*
    identities; returns the accuracy on held-out pairs (half same, half different) and the threshold."""
    def pair_scores(split: str) -> tuple[Tensor, Tensor]:
        ds = make_dataset("faces", split, size=size, frames=frames, num_clips=2 * pairs, seed=seed)
        emb = model.features(ds.render(range(len(ds)))).mean(1)
        emb = F.normalize(emb, dim=-1)
        ident = ds.factors["identity"]
        g = torch.Generator().manual_seed(seed)
        # half the pairs share an identity (a partner drawn among that identity's clips), half do not
        a = torch.randint(len(ds), (pairs,), generator=g)
        b = torch.randint(len(ds), (pairs,), generator=g)
        for k in range(pairs // 2):
            mates = (ident == ident[a[k]]).nonzero().flatten()
            mates = mates[mates != a[k]] if len(mates) > 1 else mates
            b[k] = mates[torch.randint(len(mates), (1,), generator=g)]
        for k in range(pairs // 2, pairs):
            while ident[b[k]] == ident[a[k]]:
                b[k] = torch.randint(len(ds), (1,), generator=g)
        return (emb[a] * emb[b]).sum(-1), ident[a] == ident[b]

    model.eval()
    train_s, train_y = pair_scores("train")
    candidates = train_s.sort().values
    accs = torch.stack([((train_s >= c) == train_y).float().mean() for c in candidates])
    threshold = float(candidates[int(accs.argmax())])
    test_s, test_y = pair_scores("test")
    return {"verification_accuracy": float(((test_s >= threshold) == test_y).float().mean()),
            "threshold": threshold, "held_out_pairs": int(len(test_y))}


def train_evaluator(dataset: str, kind: str, out_dir: str | Path, steps: int = 600, batch_size: int = 32,
                    seed: int = 0, num_clips: int = 4096, entry: dict | None = None, **overrides) -> dict:
    """Train one evaluator, measure it on held-out data and write ``<dataset>_<kind>.pt`` plus a
    manifest entry (``entry`` — command, commit, machine — and seed, steps, held-out scores, SHA-256)
    into ``out_dir``. ``python -m vgan_lesson pretrain evaluator_<dataset>_<kind>`` calls this."""
    from .pretrained import git_commit, record
    from .training import TrainConfig, seeded_rng, train

    config = EvaluatorConfig(dataset=dataset, kind=kind, **overrides)
    split = "train"
    data = make_dataset(dataset, split, size=config.size, frames=config.frames, num_clips=num_clips, seed=seed)
    with seeded_rng(seed):
        model = Evaluator(config)
    history = train(model, data, TrainConfig(steps=steps, batch_size=batch_size, seed=seed, out_dir=None,
                                             progress=False, log_every=50, sample_every=0,
                                             checkpoint_every=0), callbacks=[])
    held_out = make_dataset(dataset, "test", size=config.size, frames=config.frames, num_clips=512, seed=seed + 1)
    scores = accuracy(model, held_out)
    if kind == "identity":
        scores.update(verification_accuracy(model, size=config.size, seed=seed + 2))
    out_dir = Path(out_dir)
    path = atomic_save({"config": asdict(config), "state_dict": model.state_dict()}, out_dir / f"{dataset}_{kind}.pt")
    return record(path, {"commit": git_commit(), **(entry or {}), "seed": seed, "steps": steps,
                         "batch_size": batch_size, "train_clips": num_clips,
                         "final_losses": {k: round(float(v[-1]), 4) for k, v in history.losses.items()},
                         "held_out": {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()},
                         "config": asdict(config)})


def load_evaluator(path: str | Path, verify: bool = True) -> Evaluator:
    """Load a shipped evaluator (``weights_only=True``), checking its SHA-256 against the manifest."""
    from .pretrained import verify as verify_manifest

    path = Path(path)
    if verify:
        verify_manifest(path)
    payload = safe_load(path, "evaluator file")
    if not isinstance(payload, dict) or "config" not in payload or "state_dict" not in payload:
        raise ValueError(f"{path} is not a vgan_lesson evaluator (expected 'config' and 'state_dict')")
    model = Evaluator(EvaluatorConfig(**payload["config"]))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not fit the evaluator its config describes: {err}") from err
    return model.eval()
