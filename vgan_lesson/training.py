"""One training loop for every model of the package: GANs, VAEs and their hybrids.

The split of work
-----------------
A model knows *what* one update is; the loop knows everything else.

* The model is a :class:`Trainable` (an ``nn.Module``). It owns its sub-networks and its optimizers
  (built in ``__init__``, returned by :meth:`Trainable.optimizers`), has a ``config`` dataclass, and
  implements :meth:`Trainable.train_step` (one update, returns the losses to log) and
  :meth:`Trainable.sample` (videos or frames for the sample grid). Inside ``train_step`` it calls
  ``self.update("D", loss_d)`` instead of ``loss.backward(); opt.step()`` and draws per-example
  noise with ``self.randn(...)``.
* :func:`train` does the rest: seeding, device placement, bf16 autocast, the data stream, a
  progress bar, the metrics log, loss curves, sample grids and GIFs, atomic checkpoints, exact
  resume, the NaN/inf guard, the notebook live view and multi-process data parallelism.

A minimal model::

    class TinyVAE(Trainable):
        def __init__(self, config: TinyVAEConfig):
            super().__init__()
            self.config = config
            self.encoder = nn.Linear(64, 2 * config.z_dim)
            self.decoder = nn.Linear(config.z_dim, 64)
            self.opt = torch.optim.Adam(self.parameters(), lr=config.lr)

        def optimizers(self):
            return {"vae": self.opt}

        def train_step(self, batch, step, generator):
            x = batch["video"].flatten(1)                               # (N, 64)
            mu, logvar = self.encoder(x).float().chunk(2, dim=1)
            z = mu + (0.5 * logvar).exp() * self.randn(*mu.shape, generator=generator)
            recon = F.mse_loss(torch.tanh(self.decoder(z)).float(), x)
            kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1).mean()
            self.update("vae", recon + 1e-3 * kl)
            return {"recon": recon, "kl": kl}

        def sample(self, n, generator):
            z = self.randn(n, self.config.z_dim, generator=generator)
            return torch.tanh(self.decoder(z)).view(n, 1, 1, 8, 8)   # (N, C, T, H, W)

    history = train(TinyVAE(TinyVAEConfig()), dataset, TrainConfig(steps=500, batch_size=32))

What lands in ``out_dir``
-------------------------
``metrics.jsonl``           one JSON line per logged step: ``step``, ``epoch``, ``time`` (unix),
                            ``elapsed`` (training seconds, summed over resumes) and every loss,
                            averaged over the steps since the previous line (non-finite -> null)
``loss_curves.png``         :func:`vgan_lesson.viz.loss_plot` of every step's losses
``samples/step_NNNNNNN.png`` a :func:`vgan_lesson.viz.frame_grid` of ``model.sample`` (fixed noise,
                            so the grids of successive steps are comparable), and ``.gif`` for videos
``checkpoints/step_NNNNNNN.pt`` atomic checkpoints (the newest ``keep_last`` are kept)

Exact resume
------------
A checkpoint holds the weights of every sub-network, every optimizer's state, the step, both
configs as plain dicts, the RNG states (torch CPU and CUDA, Python ``random``, NumPy and the loop's
own ``torch.Generator`` that ``train_step`` receives) as tensors and plain types (so it loads with
``weights_only=True``), the data stream's epoch and position, and the loss history. The data order
of epoch ``e`` is a permutation seeded by ``(config.seed, e)``, so resuming recomputes it and skips
to the saved position. Training ``N`` steps straight and training ``k`` steps, stopping and resuming
to ``N`` give bit-identical parameters, optimizer states and losses (tested). Sampling and saving
never touch the training RNG streams.

Precision
---------
``amp="bf16"`` runs ``train_step`` under ``torch.autocast(device_type, dtype=torch.bfloat16)`` on
CPU or CUDA: matrix products and convolutions run in bf16, parameters, gradients and optimizer
states stay fp32, and backward (inside :meth:`Trainable.backward`) runs with autocast disabled, as
PyTorch recommends. Losses should be computed in fp32: cast network outputs with ``.float()``
before the loss (autocast already does so for its fp32-listed ops such as ``mse_loss``); the loop
logs every loss as an fp32 number. bf16 needs no gradient scaler (it has fp32's exponent range), so
fp16 is deliberately not offered.

Data parallel (``torchrun``)
----------------------------
When a process group is initialised (or ``WORLD_SIZE`` > 1 is set, as ``torchrun`` does, in which
case :func:`train` initialises one itself: NCCL on CUDA, gloo on CPU), every rank builds the same
model and calls :func:`train` with the same config. Design, chosen for being simple and exactly
equal to one process on the whole batch:

* ``batch_size`` is the *global* batch; rank ``r`` takes rows ``[r*b, (r+1)*b)`` of every global
  batch, ``b = batch_size // world_size`` (an error if not divisible). With a dataset that has
  ``.batch(indices)`` only the rank's own rows are rendered.
* No ``DistributedDataParallel`` wrapper (its single-forward assumptions fit a GAN's several
  forward/backward passes per step badly). Instead :meth:`Trainable.step_optimizer` all-reduces and
  averages the gradients of the optimizer's parameters (one flat all-reduce per optimizer step)
  just before ``optimizer.step()``. Since each rank's loss is a mean over an equal share of the
  batch, the averaged gradient is the gradient of the mean over the global batch.
* Parameters and buffers are broadcast from rank 0 at the start; all ranks seed their RNGs
  identically, so :meth:`Trainable.randn` can draw the noise of the *global* batch on every rank and
  hand each rank its own rows — the noise is then the same as in one process.
* The logged losses are averaged over the ranks (so every rank sees the same values and the NaN
  guard fires everywhere at once); only rank 0 shows progress, writes files and runs callbacks.
* Not exact across world sizes: BatchNorm statistics (per rank, as with DDP without SyncBatchNorm)
  and dropout masks (drawn from each rank's global torch RNG).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.optim import Optimizer

from .checks import check_choice, check_int
from .data.base import derive_seed
from .device import get_device
from .io import atomic_save, atomic_write_bytes, safe_load

Tensor = torch.Tensor

#: Identifies a checkpoint written by :func:`train`; bump ``CHECKPOINT_VERSION`` when its layout changes.
CHECKPOINT_FORMAT = "vgan_lesson.training.checkpoint"
CHECKPOINT_VERSION = 1

#: TrainConfig fields that may differ between a checkpoint and the run resuming it: they change
#: how long training runs and what is written or shown, never the numbers computed.
RESUMABLE_FIELDS: tuple[str, ...] = ("steps", "out_dir", "progress", "device", "log_every", "sample_every",
                                     "checkpoint_every", "keep_last", "sample_count")

#: Keys of a metrics line that are not losses (a loss may not have one of these names).
RESERVED_LOG_KEYS: tuple[str, ...] = ("step", "epoch", "time", "elapsed")

AMP_MODES: tuple[str | None, ...] = (None, "bf16")


class TrainingDiverged(RuntimeError):
    """A logged loss became NaN or infinite; raised by :func:`train`, which stops at once.

    Attributes: ``loss_name``, ``value``, ``step`` and ``checkpoint`` (the last good checkpoint's
    path, or ``None`` when none was written yet).
    """

    def __init__(self, loss_name: str, value: float, step: int, checkpoint: Path | None):
        self.loss_name, self.value, self.step, self.checkpoint = loss_name, value, step, checkpoint
        where = (f"the last good checkpoint is {checkpoint}" if checkpoint is not None
                 else "no checkpoint was written before it (lower checkpoint_every to keep one)")
        super().__init__(f"training diverged: loss {loss_name!r} is {value} at step {step}; {where}")


# --------------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------------

@dataclass
class TrainConfig:
    """Everything :func:`train` needs besides the model and the data.

    steps: total number of updates (a resumed run continues up to this number).
    batch_size: the global batch (split evenly over the ranks under ``torchrun``).
    seed: seeds torch, Python ``random``, NumPy, the step generator and the data order.
    device: ``"cpu"``, ``"cuda"``, ... or ``None`` for :func:`vgan_lesson.device.get_device`.
    amp: ``"bf16"`` for bfloat16 autocast around ``train_step``, or ``None`` for plain fp32.
    log_every: write a metrics line every this many steps (0: never).
    sample_every: save a sample grid (and GIF) every this many steps and at the end (0: never).
    checkpoint_every: save a checkpoint every this many steps (0: only at the end).
    out_dir: folder for metrics, curves, samples and checkpoints; ``None`` writes nothing.
    keep_last: how many checkpoints to keep (``None``: all).
    max_grad_norm: clip each optimizer's gradients to this total norm (``None``: no clipping).
    progress: show a tqdm progress bar with the latest losses.
    sample_count: how many videos ``model.sample`` makes for a grid.
    """

    steps: int = 1000
    batch_size: int = 32
    seed: int = 0
    device: str | None = None
    amp: str | None = None
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 500
    out_dir: str | None = "runs/train"
    keep_last: int | None = 3
    max_grad_norm: float | None = None
    progress: bool = True
    sample_count: int = 8

    def __post_init__(self) -> None:
        check_int("steps", self.steps, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("seed", self.seed, minimum=0)
        for name in ("log_every", "sample_every", "checkpoint_every"):
            check_int(name, getattr(self, name), minimum=0)
        check_int("sample_count", self.sample_count, minimum=1)
        if self.keep_last is not None:
            check_int("keep_last", self.keep_last, minimum=1)
        check_choice("amp mode", self.amp, AMP_MODES)
        if isinstance(self.device, torch.device):
            self.device = str(self.device)
        if self.device is not None and not isinstance(self.device, str):
            raise TypeError(f"device must be a string like 'cpu' or 'cuda:0', or None, got {self.device!r}")
        if isinstance(self.out_dir, os.PathLike):
            self.out_dir = os.fspath(self.out_dir)
        if self.out_dir is not None and not isinstance(self.out_dir, str):
            raise TypeError(f"out_dir must be a path or None, got {type(self.out_dir).__name__}")
        if self.max_grad_norm is not None:
            if isinstance(self.max_grad_norm, bool) or not isinstance(self.max_grad_norm, (int, float)) \
                    or not (math.isfinite(self.max_grad_norm) and self.max_grad_norm > 0):
                raise ValueError(f"max_grad_norm must be a positive number or None, got {self.max_grad_norm!r}")
            self.max_grad_norm = float(self.max_grad_norm)
        if not isinstance(self.progress, bool):
            raise TypeError(f"progress must be True or False, got {self.progress!r}")


def _plain(value: Any) -> Any:
    """A config value as plain Python (numbers, strings, None, lists, tuples, dicts) for a checkpoint."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)  # enums, dtypes, ...: compared by their printed form


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a plain dict (what a checkpoint stores and resume compares)."""
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise TypeError(f"expected a dataclass config instance, got {type(config).__name__}")
    return _plain(config)


def _differences(expected: Mapping[str, Any], found: Mapping[str, Any], ignore: Sequence[str] = ()) -> list[str]:
    """Lines ``name: expected X, found Y`` for every field that differs (missing fields included)."""
    lines = []
    for name in sorted(set(expected) | set(found)):
        if name in ignore:
            continue
        mine, theirs = expected.get(name, "<missing>"), found.get(name, "<missing>")
        if mine != theirs:
            lines.append(f"{name}: expected {mine!r} (this run), found {theirs!r} (checkpoint)")
    return lines


# --------------------------------------------------------------------------------------------------
# the model side
# --------------------------------------------------------------------------------------------------

@dataclass
class StepContext:
    """What :func:`train` tells a model about the current run (read by the :class:`Trainable` helpers)."""

    world_size: int = 1
    rank: int = 0
    max_grad_norm: float | None = None


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Switch off ``requires_grad`` of the modules' parameters inside the block, then restore it.

    A forward pass made inside still lets gradients flow *through* the modules to their inputs, but
    backward computes no gradient for their weights: what a loss that trains another module needs
    (Enc's Eq. 1 through G; G's Eq. 2 through D), at about a third less backward work.
    """
    params = [p for m in modules for p in m.parameters()]
    saved = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode inside the block, then back in the mode it was in (also on errors):
    batch norm uses its running statistics and spectral norm takes no power-iteration step, so the
    same input and seed give the same output twice."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


class Trainable(nn.Module):
    """Base class of every trainable model of the package.

    A subclass sets ``self.config`` (a dataclass) and builds its sub-networks and optimizers in
    ``__init__``, then implements:

    * :meth:`optimizers` — ``{name: optimizer}``, the same objects on every call;
    * :meth:`train_step` — one update; calls :meth:`update` (or :meth:`backward` then
      :meth:`step_optimizer`) for each optimizer and returns the losses to log;
    * :meth:`sample` — ``n`` videos ``(N, C, T, H, W)`` (or frames ``(N, C, H, W)``) in [-1, 1].

    The helpers keep a model free of multi-process and precision details: :meth:`update` zeroes the
    optimizer's gradients, runs backward outside autocast, averages gradients over the ranks,
    clips them when ``max_grad_norm`` is set and steps; :meth:`randn` / :meth:`rand` draw per-example
    noise so that several ranks together draw exactly what one process would.
    """

    config: Any
    _context: StepContext = StepContext()  # class default until train() sets one on the instance

    # ----------------------------------------------------------------- to implement
    def optimizers(self) -> dict[str, Optimizer]:
        """The model's optimizers by name (e.g. ``{"G": opt_g, "D": opt_d}``), built in ``__init__``."""
        raise NotImplementedError(f"{type(self).__name__} must implement optimizers()")

    def train_step(self, batch: dict[str, Any], step: int, generator: torch.Generator) -> dict[str, Tensor | float]:
        """One update on ``batch`` (already on the model's device); return ``{loss name: scalar}``.

        ``step`` counts updates from 1. Draw all randomness from ``generator`` (e.g. through
        :meth:`randn`), which the loop seeds, saves and restores.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement train_step()")

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` samples for the grid: videos ``(n, C, T, H, W)`` or frames ``(n, C, H, W)`` in [-1, 1]."""
        raise NotImplementedError(f"{type(self).__name__} must implement sample()")

    # ----------------------------------------------------------------- helpers for train_step
    def backward(self, loss: Tensor, retain_graph: bool = False) -> None:
        """``loss.backward()`` with autocast switched off (backward follows the forward's dtypes)."""
        with torch.autocast(device_type=loss.device.type, enabled=False):
            loss.backward(retain_graph=retain_graph)

    def step_optimizer(self, name: str) -> None:
        """Average gradients over the ranks, clip them if asked, and step optimizer ``name``."""
        optimizer = self._optimizer(name)
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        ctx = self._context
        if ctx.world_size > 1 and params:
            average_gradients(params, ctx.world_size)
        if ctx.max_grad_norm is not None and params:
            torch.nn.utils.clip_grad_norm_(params, ctx.max_grad_norm)
        optimizer.step()

    def update(self, name: str | tuple[str, ...], loss: Tensor, retain_graph: bool = False) -> None:
        """One optimizer update: zero ``name``'s gradients, backward ``loss``, then :meth:`step_optimizer`.

        ``name`` may be a tuple: several optimizers trained on one loss (REncGAN3's Enc + G, Eq. 2)
        get one backward and are stepped in turn."""
        names = (name,) if isinstance(name, str) else tuple(name)
        for n in names:
            self._optimizer(n).zero_grad(set_to_none=True)
        self.backward(loss, retain_graph=retain_graph)
        for n in names:
            self.step_optimizer(n)

    def randn(self, *shape: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
        """Standard normal noise ``shape`` (first dimension: this rank's batch) on the model's device.

        With several ranks the noise of the whole global batch is drawn and this rank's rows are
        returned, so the run matches a single process drawing ``shape`` for the global batch.
        """
        return self._noise(torch.randn, shape, generator, dtype)

    def rand(self, *shape: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
        """Uniform [0, 1) noise, sharded over the ranks like :meth:`randn`."""
        return self._noise(torch.rand, shape, generator, dtype)

    def _noise(self, fn: Callable[..., Tensor], shape: tuple[int, ...], generator: torch.Generator,
               dtype: torch.dtype) -> Tensor:
        if not shape:
            raise ValueError("noise needs a shape whose first dimension is the batch size")
        world, rank = self._context.world_size, self._context.rank
        full = fn((shape[0] * world, *shape[1:]), generator=generator, device=generator.device, dtype=dtype)
        first = next(self.parameters(), None)  # the model's device (a model may use "device" itself)
        return full[rank * shape[0]:(rank + 1) * shape[0]].to(first.device if first is not None else full.device)

    def _optimizer(self, name: str) -> Optimizer:
        optimizers = self.optimizers()
        if name not in optimizers:
            raise KeyError(f"{type(self).__name__} has no optimizer {name!r}; it has {sorted(optimizers)}")
        return optimizers[name]


def average_gradients(params: Sequence[nn.Parameter], world_size: int) -> None:
    """Replace every ``p.grad`` by its mean over the process group (one flat all-reduce)."""
    grads = [p.grad for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


@contextmanager
def _single_process(model: Trainable) -> Iterator[None]:
    """Let ``model`` act as one process (for sampling on rank 0), then restore its context."""
    saved = model._context
    model._context = StepContext(max_grad_norm=saved.max_grad_norm)
    try:
        yield
    finally:
        model._context = saved


def _check_model(model: Any) -> Trainable:
    if not isinstance(model, Trainable):
        raise TypeError(f"train() needs a vgan_lesson.training.Trainable model, got {type(model).__name__}")
    config = getattr(model, "config", None)
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise TypeError(f"{type(model).__name__}.config must be a dataclass instance, got {type(config).__name__}")
    optimizers = model.optimizers()
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise TypeError(f"{type(model).__name__}.optimizers() must return a non-empty dict of name -> optimizer")
    for name, opt in optimizers.items():
        if not isinstance(opt, Optimizer):
            raise TypeError(f"optimizer {name!r} of {type(model).__name__} is a {type(opt).__name__}, "
                            "expected a torch.optim.Optimizer")
    return model


def model_class_name(model: nn.Module) -> str:
    """``module.QualifiedName`` of a model's class, as stored in checkpoints."""
    return f"{type(model).__module__}.{type(model).__qualname__}"


# --------------------------------------------------------------------------------------------------
# randomness
# --------------------------------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    """Seed Python ``random``, NumPy and torch (CPU and every CUDA device) with ``seed``."""
    check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def global_rng_state() -> dict[str, Any]:
    """The global RNG states as tensors and plain types (loadable with ``weights_only=True``)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_initialized() else [],
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
    }


def set_global_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`global_rng_state` returned."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        count = min(len(state["cuda"]), torch.cuda.device_count())
        for i in range(count):
            torch.cuda.set_rng_state(state["cuda"][i], i)
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block without disturbing the global RNGs (used around sampling and saving)."""
    state = global_rng_state()
    try:
        yield
    finally:
        set_global_rng_state(state)


@contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run a block with torch's global RNG seeded ``seed`` and restore the RNGs afterwards, e.g.
    ``with seeded_rng(0): model = EncGAN3(config)``. Building a model draws its initial weights from the
    global RNG, which :func:`train` only seeds later; without this the weights depend on whatever ran
    before in the process and on torch's start-up seed, which here differs from process to process."""
    check_int("seed", seed, minimum=0)
    with preserved_rng():
        torch.manual_seed(seed)
        yield


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------

def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of the data order of ``epoch`` in a run seeded ``seed``."""
    return derive_seed("train-order", seed, epoch)


def _batch_rows(batch: Mapping[str, Any]) -> int | None:
    """The number of examples in a dict batch (the first dimension of ``video``, else of any tensor)."""
    if isinstance(batch.get("video"), Tensor):
        return batch["video"].shape[0]
    for value in batch.values():
        if isinstance(value, Tensor) and value.ndim > 0:
            return value.shape[0]
    return None


def shard_batch(batch: Mapping[str, Any], rank: int, world_size: int) -> dict[str, Any]:
    """Rank ``rank``'s contiguous share of a global dict batch (tensors and lists with one row per example)."""
    batch = dict(batch)
    if world_size == 1:
        return batch
    rows = _batch_rows(batch)
    if rows is None or rows % world_size:
        raise ValueError(f"a batch of {rows} examples cannot be split evenly over {world_size} processes")
    per = rows // world_size
    lo, hi = rank * per, (rank + 1) * per
    out = {}
    for key, value in batch.items():
        if isinstance(value, Tensor) and value.ndim > 0 and value.shape[0] == rows:
            out[key] = value[lo:hi]
        elif isinstance(value, (list, tuple)) and len(value) == rows:
            out[key] = value[lo:hi]
        else:
            out[key] = value
    return out


class BatchStream:
    """An endless, resumable stream of dict batches, cycling over epochs, sharded over the ranks.

    ``data`` may be

    * a dataset with ``len(data)`` and ``data.batch(indices)`` (the procedural datasets, clip
      datasets): epoch ``e`` visits ``torch.randperm(len(data))`` seeded by :func:`epoch_seed`, in
      global batches of ``batch_size`` (the incomplete last batch is dropped); only this rank's
      rows are fetched, and resuming jumps straight to the saved position;
    * an object with ``.batches(batch_size, shuffle, seed, drop_last, epochs)``: each epoch is one
      call with the epoch's seed; resuming replays the epoch up to the saved position;
    * any re-iterable of dict batches (a list, a ``DataLoader``): each epoch iterates it again, and
      its batches are used as they come. For exact resume it must yield the same order every time
      (a list, or a ``DataLoader`` with a seeded ``generator``); a one-shot generator lasts one epoch.

    ``epoch`` and ``position`` always say where the *next* batch comes from.
    """

    def __init__(self, data: Any, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 epoch: int = 0, position: int = 0):
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.position = epoch, position
        self._iterator: Iterator | None = None
        self._order: tuple[int, Tensor] | None = None
        if hasattr(data, "batch") and hasattr(data, "__len__"):
            self.kind = "indexed"
            if len(data) < batch_size:
                raise ValueError(f"the dataset has {len(data)} examples, fewer than one batch of {batch_size}")
        elif hasattr(data, "batches"):
            self.kind = "batches"
        elif isinstance(data, Iterable) and not isinstance(data, (Mapping, Tensor, str)):
            self.kind = "iterable"
        else:
            raise TypeError("data must be a dataset with .batch(indices) and len(), an object with "
                            f".batches(...), or an iterable of dict batches; got {type(data).__name__}")

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> dict[str, Any]:
        batch = self._next_indexed() if self.kind == "indexed" else self._next_iterated()
        if not isinstance(batch, Mapping):
            raise TypeError(f"expected dict batches like {{'video': (N, C, T, H, W), 'label': (N,)}}, "
                            f"got a {type(batch).__name__}")
        return batch

    def _next_indexed(self) -> dict[str, Any]:
        per_epoch = len(self.data) // self.batch_size
        if self.position >= per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        if self._order is None or self._order[0] != self.epoch:
            g = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
            self._order = (self.epoch, torch.randperm(len(self.data), generator=g))
        start = self.position * self.batch_size
        indices = self._order[1][start:start + self.batch_size]
        if self.world_size > 1:
            if self.batch_size % self.world_size:
                raise ValueError(f"batch_size {self.batch_size} is not divisible by {self.world_size} processes")
            per = self.batch_size // self.world_size
            indices = indices[self.rank * per:(self.rank + 1) * per]
        self.position += 1
        return self.data.batch(indices)

    def _open_epoch(self) -> Iterator:
        if self.kind == "batches":
            source = self.data.batches(self.batch_size, shuffle=True, seed=epoch_seed(self.seed, self.epoch),
                                       drop_last=True, epochs=1)
        else:
            source = self.data
        iterator = iter(source)
        for _ in range(self.position):  # replay up to the saved position (resume)
            if next(iterator, None) is None:
                break
        return iterator

    def _next_iterated(self) -> dict[str, Any]:
        if self._iterator is None:
            self._iterator = self._open_epoch()
        batch = next(self._iterator, None)
        if batch is None:  # the epoch is over: start the next one
            if self.position == 0:
                raise ValueError("the data yielded no batches (an empty dataset, or a one-shot iterator/generator "
                                 "that is already used up: pass a list, a DataLoader or a dataset instead)")
            self.epoch, self.position = self.epoch + 1, 0
            self._iterator = self._open_epoch()
            batch = next(self._iterator, None)
            if batch is None:
                raise ValueError(f"the data yielded no batches in epoch {self.epoch} (a one-shot iterator or "
                                 "generator lasts one epoch only: pass a list, a DataLoader or a dataset instead)")
        self.position += 1
        return shard_batch(batch, self.rank, self.world_size) if isinstance(batch, Mapping) else batch


def _to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    non_blocking = device.type == "cuda"
    return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, Tensor) else v for k, v in batch.items()}


# --------------------------------------------------------------------------------------------------
# history, metrics and checkpoints
# --------------------------------------------------------------------------------------------------

@dataclass
class History:
    """What :func:`train` returns: every step's losses (averaged over the ranks) and where things are.

    ``history["loss_D"]`` is the list of that loss, one value per step in ``history.steps``.
    """

    steps: list[int] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)
    last_checkpoint: Path | None = None
    out_dir: Path | None = None

    def __getitem__(self, name: str) -> list[float]:
        return self.losses[name]

    def __len__(self) -> int:
        return len(self.steps)

    def append(self, step: int, losses: Mapping[str, float]) -> None:
        """Record one step's losses (a loss missing at some steps is padded with NaN)."""
        for name in losses:
            self.losses.setdefault(name, [math.nan] * len(self.steps))
        self.steps.append(step)
        for name, values in self.losses.items():
            values.append(float(losses.get(name, math.nan)))

    def plot(self, smooth: int | None = None, title: str | None = None):
        """The loss curves as a matplotlib Figure (:func:`vgan_lesson.viz.loss_plot`).

        ``smooth=None`` picks a moving average of about a twentieth of the run (at most 50 steps).
        """
        from .viz import loss_plot

        if smooth is None:
            smooth = min(50, len(self.steps) // 20) if len(self.steps) >= 40 else 0
        return loss_plot(self.losses, smooth=smooth, title=title, xlabel="step")

    def to_state(self) -> dict[str, Any]:
        """Tensors for a checkpoint."""
        return {"steps": torch.tensor(self.steps, dtype=torch.int64),
                "losses": {k: torch.tensor(v, dtype=torch.float64) for k, v in self.losses.items()}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "History":
        return cls(steps=state["steps"].tolist(), losses={k: v.tolist() for k, v in state["losses"].items()})


CHECKPOINT_NAME = "step_{step:07d}.pt"


def checkpoint_path(out_dir: str | os.PathLike, step: int) -> Path:
    """Where :func:`train` puts the checkpoint of ``step``."""
    return Path(out_dir) / "checkpoints" / CHECKPOINT_NAME.format(step=step)


def list_checkpoints(out_dir: str | os.PathLike) -> list[Path]:
    """The checkpoints in ``out_dir/checkpoints``, oldest first."""
    folder = Path(out_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("step_*.pt"):
        digits = path.stem[len("step_"):]
        if digits.isdigit():
            found.append((int(digits), path))
    return [p for _, p in sorted(found)]


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The newest checkpoint in ``out_dir/checkpoints``, or ``None``."""
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` and check that it is one."""
    ckpt = safe_load(path, what="checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a vgan_lesson training checkpoint (no {CHECKPOINT_FORMAT!r} marker)")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint {path} has layout version {ckpt.get('version')}, "
                         f"this code reads version {CHECKPOINT_VERSION}")
    return ckpt


def load_checkpoint(path: str | os.PathLike, model: Trainable, optimizers: bool = True) -> dict[str, Any]:
    """Load a checkpoint's weights (and, by default, optimizer states) into ``model``; return the checkpoint.

    Raises ``ValueError`` when the checkpoint was written by another model class or with another
    model config (naming every differing field, expected vs found). Use it in a notebook to pick
    up trained weights: ``load_checkpoint(latest_checkpoint("runs/encgan3"), model, optimizers=False)``.
    """
    ckpt = read_checkpoint(path)
    expected_class, found_class = model_class_name(model), ckpt["model_class"]
    if expected_class != found_class:
        raise ValueError(f"checkpoint {path} was written by model class {found_class}, "
                         f"but the model being loaded is {expected_class}")
    diffs = _differences(config_dict(model.config), ckpt["model_config"])
    if diffs:
        raise ValueError(f"checkpoint {path} was written with another {type(model.config).__name__}: "
                         + "; ".join(diffs))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not fit {expected_class}: {err}") from err
    if optimizers:
        mine = model.optimizers()
        if set(mine) != set(ckpt["optimizers"]):
            raise ValueError(f"checkpoint {path} has optimizers {sorted(ckpt['optimizers'])}, "
                             f"the model has {sorted(mine)}")
        for name, opt in mine.items():
            opt.load_state_dict(ckpt["optimizers"][name])
    return ckpt


def _write_checkpoint(path: Path, model: Trainable, config: TrainConfig, step: int, stream: BatchStream,
                      generator: torch.Generator, history: History, elapsed: float, world_size: int) -> Path:
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model_class": model_class_name(model),
        "model_config": config_dict(model.config),
        "train_config": config_dict(config),
        "step": step,
        "epoch": stream.epoch,
        "position": stream.position,
        "model": model.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in model.optimizers().items()},
        "rng": {**global_rng_state(), "generator": generator.get_state()},
        "history": history.to_state(),
        "elapsed": elapsed,
        "world_size": world_size,
    }
    return atomic_save(ckpt, path)


def _prune_checkpoints(out_dir: Path, keep_last: int | None) -> None:
    if keep_last is None:
        return
    for old in list_checkpoints(out_dir)[:-keep_last]:
        old.unlink(missing_ok=True)


def _json_number(x: float) -> float | None:
    return x if math.isfinite(x) else None


class MetricsLog:
    """The JSONL metrics file: one line per logged step, each loss averaged since the previous line."""

    def __init__(self, path: Path | None, resume_step: int | None):
        self.path = path
        self._sums: dict[str, float] = {}
        self._count = 0
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            path.write_text("")
        elif path.exists():  # drop lines written after the checkpoint we resume from
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= resume_step]
            atomic_write_bytes(("".join(line + "\n" for line in kept)).encode(), path)

    def add(self, losses: Mapping[str, float]) -> None:
        for name, value in losses.items():
            self._sums[name] = self._sums.get(name, 0.0) + value
        self._count += 1

    def write(self, step: int, epoch: int, elapsed: float) -> None:
        if self.path is None or self._count == 0:
            return
        line = {"step": step, "epoch": epoch, "time": time.time(), "elapsed": round(elapsed, 3)}
        line.update({k: _json_number(v / self._count) for k, v in self._sums.items()})
        with open(self.path, "a") as fh:
            fh.write(json.dumps(line) + "\n")
        self._sums, self._count = {}, 0


# --------------------------------------------------------------------------------------------------
# callbacks and the notebook live view
# --------------------------------------------------------------------------------------------------

class Callback:
    """Hooks :func:`train` calls on rank 0. Override any of them."""

    def on_train_start(self, model: Trainable, config: TrainConfig, history: History) -> None:
        """Before the first step (after a resume, ``history`` already holds the earlier steps)."""

    def on_log(self, step: int, history: History) -> None:
        """Every ``log_every`` steps."""

    def on_sample(self, step: int, samples: Tensor) -> None:
        """When a sample grid is made; ``samples`` are CPU videos ``(N, C, T, H, W)`` in [-1, 1]."""

    def on_train_end(self, history: History, error: BaseException | None) -> None:
        """After the last step, or when training stops with ``error`` (e.g. :class:`TrainingDiverged`)."""


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    return get_ipython() is not None


class LiveView(Callback):
    """Live loss curves and the latest sample grid in ONE notebook output, updated in place.

    Under IPython (Jupyter, papermill, VS Code) it displays an image with ``display_id=True`` and
    re-renders that same output with ``handle.update(...)`` at most every ``every_seconds`` (and at
    every sample grid and at the end), so a long run does not flood the notebook. Headless
    (papermill) the saved notebook keeps the last rendering. Outside IPython it does nothing.
    """

    def __init__(self, every_seconds: float = 2.0, smooth: int | None = None, active: bool | None = None):
        self.every_seconds, self.smooth = every_seconds, smooth
        self.active = _in_ipython() if active is None else active
        self.handle: Any = None
        self.history: History | None = None
        self.grid: Any = None            # PIL image of the latest samples
        self.grid_step: int | None = None
        self._last = -math.inf

    def on_train_start(self, model: Trainable, config: TrainConfig, history: History) -> None:
        self.history = history

    def on_log(self, step: int, history: History) -> None:
        self.history = history
        if time.monotonic() - self._last >= self.every_seconds:
            self.refresh()

    def on_sample(self, step: int, samples: Tensor) -> None:
        if not self.active:
            return
        from .viz import frame_grid

        self.grid, self.grid_step = frame_grid(samples, max_frames=16, scale=_grid_scale(samples)), step
        self.refresh()

    def on_train_end(self, history: History, error: BaseException | None) -> None:
        self.history = history
        self.refresh()

    def figure(self):
        """The figure shown: loss curves on top, the latest sample grid beneath (if any)."""
        from matplotlib.figure import Figure

        from .viz import loss_plot

        rows = 2 if self.grid is not None else 1
        fig = Figure(figsize=(7.0, 3.2 * rows), layout="constrained")
        ax = fig.add_subplot(rows, 1, 1)
        history = self.history or History()
        smooth = self.smooth
        if smooth is None:
            smooth = min(50, len(history) // 20) if len(history) >= 40 else 0
        step = history.steps[-1] if history.steps else 0
        loss_plot(history.losses, smooth=smooth, ax=ax, xlabel="step", title=f"losses (step {step})")
        if self.grid is not None:
            ax_img = fig.add_subplot(rows, 1, 2)
            ax_img.imshow(np.asarray(self.grid), interpolation="nearest")
            ax_img.set_axis_off()
            ax_img.set_title(f"samples at step {self.grid_step}", fontsize=10)
        return fig

    def refresh(self) -> None:
        """Re-render the one output (does nothing outside IPython)."""
        if not self.active:
            return
        from IPython.display import Image, display

        from .viz import figure_png

        image = Image(data=figure_png(self.figure()), format="png")
        if self.handle is None:
            self.handle = display(image, display_id=True)
        else:
            self.handle.update(image)
        self._last = time.monotonic()


def _grid_scale(videos: Tensor) -> int:
    """Upscaling that makes a frame about 64 pixels tall."""
    return max(1, 64 // int(videos.shape[-2]))


# --------------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------------

def _setup_distributed() -> tuple[int, int, bool]:
    """``(rank, world_size, created)``; initialise a process group from ``torchrun``'s env if needed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if not dist.is_available():
            raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, init_method="env://")
        return dist.get_rank(), dist.get_world_size(), True
    return 0, 1, False


def _resolve_device(config: TrainConfig, world_size: int) -> torch.device:
    device = get_device(config.device)
    if world_size > 1 and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    return device


def _autocast(config: TrainConfig, device: torch.device) -> ContextManager:
    if config.amp == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def _loss_values(losses: Any, step: int, model: Trainable, device: torch.device, world_size: int) -> dict[str, float]:
    """``train_step``'s losses as floats (one device sync), averaged over the ranks."""
    if not isinstance(losses, Mapping) or not losses:
        raise TypeError(f"{type(model).__name__}.train_step must return a non-empty dict of loss name -> "
                        f"scalar, got {type(losses).__name__} at step {step}")
    values = []
    for name, value in losses.items():
        if name in RESERVED_LOG_KEYS:
            raise ValueError(f"a loss may not be called {name!r} (reserved for the metrics log)")
        if isinstance(value, Tensor):
            if value.numel() != 1:
                raise ValueError(f"loss {name!r} must be a scalar, got a tensor of shape {tuple(value.shape)}")
            values.append(value.detach().reshape(()).to(device, torch.float32))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values.append(torch.tensor(float(value), device=device))
        else:
            raise TypeError(f"loss {name!r} must be a number or a scalar tensor, got {type(value).__name__}")
    stacked = torch.stack(values)
    if world_size > 1:
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
        stacked /= world_size
    return dict(zip(losses.keys(), stacked.tolist()))


def _make_samples(model: Trainable, config: TrainConfig, device: torch.device) -> Tensor:
    """``model.sample`` with fixed noise, in eval mode, without touching any training RNG."""
    generator = torch.Generator(device=device).manual_seed(derive_seed("samples", config.seed))
    with evaluating(model), preserved_rng(), _single_process(model), torch.no_grad(), _autocast(config, device):
        out = model.sample(config.sample_count, generator)
    if not isinstance(out, Tensor) or out.ndim not in (4, 5):
        raise ValueError(f"{type(model).__name__}.sample must return videos (N, C, T, H, W) or frames "
                         f"(N, C, H, W), got {getattr(out, 'shape', type(out).__name__)}")
    out = out.detach().to("cpu", torch.float32).clamp(-1.0, 1.0)
    return out.unsqueeze(2) if out.ndim == 4 else out


def _save_samples(samples: Tensor, out_dir: Path, step: int) -> None:
    from .viz import frame_grid, save_gif, save_png

    folder = out_dir / "samples"
    scale = _grid_scale(samples)
    save_png(frame_grid(samples, max_frames=16, scale=scale), folder / f"step_{step:07d}.png")
    if samples.shape[2] > 1:
        save_gif(samples, folder / f"step_{step:07d}.gif", fps=8, scale=scale)


def _save_loss_plot(history: History, out_dir: Path) -> None:
    from .viz import save_png

    if history.steps:
        save_png(history.plot(), out_dir / "loss_curves.png")


def _resume_path(resume: bool | str | os.PathLike, out_dir: Path | None) -> Path | None:
    if resume is False:
        return None
    if resume is True:
        return latest_checkpoint(out_dir) if out_dir is not None else None
    path = Path(resume)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint to resume from not found: {path}")
    return path


def train(model: Trainable, data: Any, config: TrainConfig | None = None, resume: bool | str | os.PathLike = False,
          callbacks: Sequence[Callback] | None = None) -> History:
    """Train ``model`` on ``data`` for ``config.steps`` updates; return the :class:`History`.

    ``data``: a dataset with ``.batch(indices)`` and ``len()``, an object with ``.batches(...)``, or
    an iterable of dict batches (see :class:`BatchStream`); batches go to the device as they come.

    ``resume``: ``False`` starts afresh (an ``out_dir`` that already holds checkpoints is refused,
    so no earlier run is overwritten by accident); ``True`` continues from the newest checkpoint in
    ``out_dir`` (or starts afresh if there is none); a path continues from that checkpoint. The
    checkpoint must come from the same model class with the same model config and the same
    training config except :data:`RESUMABLE_FIELDS`, else ``ValueError`` names the differing fields.
    A run already at ``config.steps`` returns at once.

    ``callbacks``: run on rank 0; ``None`` means ``[LiveView()]`` (which does nothing outside IPython).

    Raises :class:`TrainingDiverged` when a loss becomes NaN or infinite. Everything else the loop
    does (seeding, autocast, files written, data parallelism) is described in the module docstring.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    model = _check_model(model)
    rank, world_size, created_group = _setup_distributed()
    try:
        return _train(model, data, config, resume, callbacks, rank, world_size)
    finally:
        if created_group:
            dist.destroy_process_group()


def _train(model: Trainable, data: Any, config: TrainConfig, resume: bool | str | os.PathLike,
           callbacks: Sequence[Callback] | None, rank: int, world_size: int) -> History:
    from tqdm.auto import tqdm

    if config.batch_size % world_size:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the number of processes "
                         f"({world_size}): each takes batch_size // world_size examples")
    is_main = rank == 0
    device = _resolve_device(config, world_size)
    model.to(device)
    out_dir = Path(config.out_dir) if config.out_dir is not None else None
    generator = torch.Generator(device=device)

    # ---- fresh start or resume
    ckpt_path = _resume_path(resume, out_dir)
    if ckpt_path is None:
        if out_dir is not None and latest_checkpoint(out_dir) is not None:
            raise ValueError(f"out_dir {out_dir} already holds checkpoints (newest {latest_checkpoint(out_dir)}): "
                             "pass resume=True to continue that run, or use another out_dir")
        seed_everything(config.seed)
        generator.manual_seed(derive_seed("train-step", config.seed))
        start, epoch, position, elapsed, history = 0, 0, 0, 0.0, History()
    else:
        ckpt = load_checkpoint(ckpt_path, model)
        diffs = _differences(config_dict(config), ckpt["train_config"], ignore=RESUMABLE_FIELDS)
        if diffs:
            raise ValueError(f"cannot resume from {ckpt_path} with a different TrainConfig: " + "; ".join(diffs))
        set_global_rng_state(ckpt["rng"])
        generator.set_state(ckpt["rng"]["generator"])
        start, epoch, position, elapsed = ckpt["step"], ckpt["epoch"], ckpt["position"], ckpt["elapsed"]
        history = History.from_state(ckpt["history"])
    history.out_dir, history.last_checkpoint = out_dir, ckpt_path
    if start >= config.steps:
        return history

    if world_size > 1:  # every rank starts from rank 0's weights, as DDP does
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                dist.broadcast(tensor, src=0)

    stream = BatchStream(data, config.batch_size, config.seed, rank, world_size, epoch, position)
    metrics = MetricsLog(out_dir / "metrics.jsonl" if out_dir is not None and is_main else None,
                         resume_step=start if ckpt_path is not None else None)
    callbacks = ([LiveView()] if callbacks is None else list(callbacks)) if is_main else []
    bar = tqdm(total=config.steps, initial=start, desc=type(model).__name__, dynamic_ncols=True,
               disable=not (config.progress and is_main))
    model._context = StepContext(world_size=world_size, rank=rank, max_grad_norm=config.max_grad_norm)
    model.train()
    began = time.monotonic() - elapsed
    error: BaseException | None = None
    for cb in callbacks:
        cb.on_train_start(model, config, history)
    try:
        for step in range(start + 1, config.steps + 1):
            batch = _to_device(next(stream), device)
            with _autocast(config, device):
                raw = model.train_step(batch, step, generator)
            losses = _loss_values(raw, step, model, device, world_size)
            history.append(step, losses)
            metrics.add(losses)
            bad = [(name, v) for name, v in losses.items() if not math.isfinite(v)]
            if bad:
                metrics.write(step, stream.epoch, time.monotonic() - began)
                if out_dir is not None and is_main:
                    _save_loss_plot(history, out_dir)
                raise TrainingDiverged(bad[0][0], bad[0][1], step, history.last_checkpoint)
            bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items()}, refresh=False)
            bar.update(1)
            final = step == config.steps
            if config.log_every and (step % config.log_every == 0 or final):
                metrics.write(step, stream.epoch, time.monotonic() - began)
                for cb in callbacks:
                    cb.on_log(step, history)
            wanted = out_dir is not None or bool(callbacks)
            if is_main and wanted and config.sample_every and (step % config.sample_every == 0 or final):
                samples = _make_samples(model, config, device)
                if out_dir is not None:
                    _save_samples(samples, out_dir, step)
                for cb in callbacks:
                    cb.on_sample(step, samples)
            if out_dir is not None and ((config.checkpoint_every and step % config.checkpoint_every == 0) or final):
                if is_main:
                    _write_checkpoint(checkpoint_path(out_dir, step), model, config, step, stream, generator,
                                      history, time.monotonic() - began, world_size)
                    _prune_checkpoints(out_dir, config.keep_last)
                    _save_loss_plot(history, out_dir)
                history.last_checkpoint = checkpoint_path(out_dir, step)
        if world_size > 1:
            dist.barrier()  # no rank leaves before rank 0 has written its files
    except BaseException as err:
        error = err
        raise
    finally:
        bar.close()
        model._context = StepContext()
        for cb in callbacks:
            cb.on_train_end(history, error)
    return history


__all__ = [
    "Trainable", "frozen", "evaluating", "StepContext", "TrainConfig", "History", "TrainingDiverged", "Callback", "LiveView",
    "BatchStream", "train", "seed_everything", "average_gradients", "shard_batch", "epoch_seed",
    "global_rng_state", "set_global_rng_state", "preserved_rng", "seeded_rng", "config_dict", "model_class_name",
    "checkpoint_path", "list_checkpoints", "latest_checkpoint", "read_checkpoint", "load_checkpoint",
    "MetricsLog", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "RESUMABLE_FIELDS",
]
