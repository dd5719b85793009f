"""Training speed and peak memory of EncGAN3 and G3AN, lesson and paper scale, fp32 and bf16.

    python benchmarks/train_throughput.py [--threads 2] [--device cpu] [--lesson-steps 5 --lesson-batch 16]
                                          [--paper-steps 2 --paper-batch 2] [--dataset shapes]

Every combination runs in a fresh subprocess, so its peak memory is its own: on CPU the growth of
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` from just before the model is built to the end of the
timed steps (tracemalloc does not see torch's allocations); on CUDA ``torch.cuda.max_memory_allocated``.
Each run makes one warm-up step, then times ``--*-steps`` steps of ``model.train_step`` (under bf16
autocast for the bf16 rows) and, separately, the rendering of the same number of batches by the
procedural dataset, to show whether the data could be the bottleneck. The last line is one JSON
object with every figure.

On a shared machine, pass ``--threads 1``: when another process keeps a core busy, two OpenMP
threads spin at every barrier and a step can take ten or more times longer than with one thread.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

MODELS = ("encgan3", "g3an")
SCALES = ("lesson", "paper")
AMPS = ("fp32", "bf16")


def _max_rss_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def run_one(model_name: str, scale: str, amp: str, steps: int, batch: int, device: str, dataset: str) -> dict:
    """One timed run in this process; returns its figures."""
    from contextlib import nullcontext

    import torch

    from vgan_lesson.__main__ import build_model
    from vgan_lesson.data import make_dataset

    dev = torch.device(device)
    probe = build_model(model_name, scale)  # only for the config: size and frames of the data
    size, frames = probe.config.size, probe.config.frames
    del probe
    data = make_dataset(dataset, size=size, frames=frames, num_clips=max(64, batch * (steps + 1)))
    batches = [data.batch(range(i * batch, (i + 1) * batch)) for i in range(steps + 1)]
    start = time.perf_counter()
    for i in range(steps):
        data.batch(range(i * batch, (i + 1) * batch))
    data_s = (time.perf_counter() - start) / steps

    rss_before = _max_rss_mib()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    torch.manual_seed(0)
    model = build_model(model_name, scale).to(dev)
    generator = torch.Generator(device=dev).manual_seed(0)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16) if amp == "bf16" else nullcontext()

    def step(i: int) -> None:
        batch_on_device = {k: v.to(dev) for k, v in batches[i].items()}
        with autocast:
            model.train_step(batch_on_device, i + 1, generator)

    step(0)  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    for i in range(1, steps + 1):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    step_s = (time.perf_counter() - start) / steps
    peak = (torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda"
            else _max_rss_mib() - rss_before)
    c = model.config
    return {"model": model_name, "scale": scale, "amp": amp, "size": c.size, "frames": c.frames,
            "batch": batch, "steps": steps, "clips_per_s": round(batch / step_s, 3),
            "step_s": round(step_s, 4), "data_s_per_batch": round(data_s, 4),
            "data_fraction": round(data_s / (data_s + step_s), 4),
            "peak_mem_mib": round(peak, 1), "mem_kind": "cuda max_memory_allocated" if dev.type == "cuda"
            else "ru_maxrss growth"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument("--lesson-steps", type=int, default=5)
    parser.add_argument("--lesson-batch", type=int, default=16)
    parser.add_argument("--paper-steps", type=int, default=2)
    parser.add_argument("--paper-batch", type=int, default=2)
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "SCALE", "AMP"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:  # the child: one run, one JSON line
        import torch

        torch.set_num_threads(args.threads)
        model_name, scale, amp = args.one
        steps = args.lesson_steps if scale == "lesson" else args.paper_steps
        batch = args.lesson_batch if scale == "lesson" else args.paper_batch
        print(json.dumps(run_one(model_name, scale, amp, steps, batch, args.device, args.dataset)))
        return

    results = []
    print(f"{'model':8s} {'scale':6s} {'amp':4s} {'px':>4s} {'batch':>5s} {'clips/s':>8s} {'step s':>7s} "
          f"{'data s':>7s} {'data %':>6s} {'peak MiB':>9s}")
    for scale in SCALES:
        for model_name in MODELS:
            for amp in AMPS:
                cmd = [sys.executable, __file__, "--one", model_name, scale, amp, *_passthrough(args)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"run {model_name} {scale} {amp} failed:\n{done.stderr}")
                r = json.loads(done.stdout.strip().splitlines()[-1])
                results.append(r)
                print(f"{model_name:8s} {scale:6s} {amp:4s} {r['size']:4d} {r['batch']:5d} {r['clips_per_s']:8.2f} "
                      f"{r['step_s']:7.3f} {r['data_s_per_batch']:7.4f} {100 * r['data_fraction']:5.1f}% "
                      f"{r['peak_mem_mib']:9.1f}", flush=True)
    import torch

    print(json.dumps({"runs": results, "threads": args.threads, "device": args.device, "dataset": args.dataset,
                      "cpu_count": os.cpu_count() or 0, "machine": platform.machine(), "torch": torch.__version__}))


def _passthrough(args: argparse.Namespace) -> list[str]:
    return ["--threads", str(args.threads), "--device", args.device, "--dataset", args.dataset,
            "--lesson-steps", str(args.lesson_steps), "--lesson-batch", str(args.lesson_batch),
            "--paper-steps", str(args.paper_steps), "--paper-batch", str(args.paper_batch)]


if __name__ == "__main__":
    main()
