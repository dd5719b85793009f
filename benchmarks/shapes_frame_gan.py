"""Can a plain frame GAN draw the ``shapes`` objects within a CPU budget? The control for the shipped
shapes models (issue 3: their samples from prior noise are coloured blobs, not triangles or stars).

    python benchmarks/shapes_frame_gan.py                                 # width 64, batch 64, 3000 steps
    python benchmarks/shapes_frame_gan.py --steps 6000 --eval-every 1500 --out runs/frame_gan
    python benchmarks/shapes_frame_gan.py --width 16 --batch 16           # lesson 01's widths

No video, no G3 module, no encoder: lesson 01's DCGAN (:class:`vgan_lesson.models.frames.FrameGAN`, the
package's ``FrameDecoder`` as G, D_I as D, the non-saturating loss, Adam 2e-4, beta (0.5, 0.999)) trained
on single frames of ``shapes`` at 32 px with the package's training loop. Every ``--eval-every`` steps it
saves ``step_<N>.png`` into ``--out``: 64 frames from prior noise (left) beside 64 real frames (right).
It prints the seconds so far, D's mean probability of "real" on the last real and generated batches, and
the frame FID of 1,024 generated frames against 1,024 held-out frames (shipped frame evaluator). The run
keeps its newest checkpoint in ``<out>/run``: the same command with a larger ``--steps`` continues it
exactly (the package's resume), so a long run can be made in pieces.

Look at the grids, not only at the FID. Two references are printed beside it: other held-out frames
(the floor), and the same held-out frames re-rendered with every object a circle — a shape-blind
renderer that is perfect in everything else. The frame evaluator's features are mostly about the
shape class, so that reference scores far worse than the floor; a GAN that spreads its blobs over
the evaluator's shape classes can score better than it without drawing one recognisable outline.
The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from vgan_lesson.data import make_dataset
from vgan_lesson.metrics import extract, frechet_distance
from vgan_lesson.models.frames import FrameGAN, FrameModelConfig
from vgan_lesson.pretrained import load_pretrained_evaluator
from vgan_lesson.training import Callback, TrainConfig, evaluating, seeded_rng, train
from vgan_lesson.viz import frame_grid

SIZE = 32


def frames_as_rows(frames: torch.Tensor, per_row: int = 8) -> torch.Tensor:
    """``(N, C, H, W)`` frames -> ``(N / per_row, C, per_row, H, W)``, so ``frame_grid`` lays them out in rows."""
    n, c, h, w = frames.shape
    return frames[: n - n % per_row].view(-1, per_row, c, h, w).transpose(1, 2)


class Checkpoints(Callback):
    """Scores and saves a grid of the GAN's samples every ``every`` steps (and at the last step)."""

    def __init__(self, every: int, steps: int, score, real_grid: torch.Tensor, out: Path, seed: int) -> None:
        self.every, self.steps, self.score, self.real_grid, self.out, self.seed = every, steps, score, real_grid, out, seed
        self.rows: list[dict] = []
        self.t0 = time.perf_counter()

    def on_train_start(self, model, config, history) -> None:
        self.model, self.t0 = model, time.perf_counter()

    def on_log(self, step: int, history) -> None:
        if step % self.every and step != self.steps:
            return
        seconds = time.perf_counter() - self.t0
        with evaluating(self.model) as model, torch.no_grad():
            fake = torch.cat([model.sample(256, torch.Generator().manual_seed(self.seed + i)) for i in range(4)])
        last = {name: round(values[-1], 3) for name, values in history.losses.items() if name in ("p_real", "p_fake")}
        row = {"step": step, "seconds": round(seconds, 1), **last, "fid": self.score(fake.float().cpu())}
        self.rows.append(row)
        grid = torch.cat([frames_as_rows(fake[:64].float().cpu()), self.real_grid], dim=2)
        frame_grid(grid, scale=3).save(self.out / f"step_{step}.png")
        print(f"step {step:6d}  {row['seconds']:7.0f} s  p_real {row['p_real']:.3f}  p_fake {row['p_fake']:.3f}  "
              f"FID {row['fid']:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=64, help="first D stage / last G hidden stage (lesson 01: 16)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/shapes_frame_gan")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    evaluator = load_pretrained_evaluator("shapes", "frame")

    def features(frames: torch.Tensor) -> torch.Tensor:          # frames as one-frame clips
        return extract(evaluator.features, frames.unsqueeze(2)).view(-1, evaluator.config.feature_dim)

    def held_out(seed: int, circles: bool = False) -> torch.Tensor:
        data = make_dataset("shapes", "test", size=SIZE, seed=seed)
        if circles:                                                  # the same clips' factors, drawn once
            factors = {k: v[:256] for k, v in data.factors.items()}
            factors["shape"] = torch.zeros_like(factors["shape"])          # SHAPES[0] is the circle
            video = data.render_factors(factors)[0]
        else:
            video = data.render(range(256))
        return video[:, :, ::4].transpose(1, 2).reshape(-1, 3, SIZE, SIZE)   # 4 frames per clip

    real = held_out(0)
    real_features = features(real)

    def score(frames: torch.Tensor) -> float:
        return round(frechet_distance(features(frames), real_features), 1)

    references = {"other held-out frames": score(held_out(1)), "every object a circle": score(held_out(1, True))}
    for name, value in references.items():
        print(f"reference FID, {name}: {value:.1f}")

    with seeded_rng(args.seed):
        model = FrameGAN(FrameModelConfig(size=SIZE, width=args.width))
    checkpoints = Checkpoints(args.eval_every, args.steps, score, frames_as_rows(real[:64]), out, args.seed)
    train(model, make_dataset("shapes", "train", size=SIZE, seed=args.seed),
          TrainConfig(steps=args.steps, batch_size=args.batch, seed=args.seed, out_dir=str(out / "run"),
                      progress=False, log_every=args.eval_every, sample_every=0, checkpoint_every=args.eval_every,
                      keep_last=1),
          resume=True, callbacks=[checkpoints])
    print(f"grids in {out}/step_<N>.png: generated frames left, real frames right")
    print(json.dumps({"width": args.width, "batch": args.batch, "steps": args.steps, "threads": args.threads,
                      "cpu_count": os.cpu_count(), "references": references, "checkpoints": checkpoints.rows}))


if __name__ == "__main__":
    main()
