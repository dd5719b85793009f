"""Rendering speed of the procedural datasets on this machine's CPU.

    python benchmarks/data_throughput.py [--threads 2] [--size 64] [--frames 16] [--repeats 3]

Prints clips/s for ``shapes`` and ``faces`` and frames/s for ``dancer`` (long videos), each the
best of ``--repeats`` timed renders after a warm-up, against the targets of the foundation issue
(shapes >= 500 clips/s, faces >= 100 clips/s, dancer >= 2,000 frames/s at 64x64 on 2 cores). The
last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from vgan_lesson.data import make_dataset

TARGETS = {"shapes_clips_per_s": 500, "faces_clips_per_s": 100, "dancer_frames_per_s": 2000}


def best_rate(fn, items: int, repeats: int) -> float:
    fn()  # warm-up (allocations, first-call overheads)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return items / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--clips", type=int, default=256, help="clips per timed render (shapes, faces)")
    parser.add_argument("--dancer-frames", type=int, default=2000, help="length of each dancer video")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    results: dict[str, float | int | str] = {}
    for name in ("shapes", "faces"):
        ds = make_dataset(name, size=args.size, frames=args.frames, num_clips=args.clips)
        rate = best_rate(lambda: ds.render(range(args.clips)), args.clips, args.repeats)
        results[f"{name}_clips_per_s"] = round(rate, 1)
        print(f"{name:7s} {args.size}x{args.size}x{args.frames}: {rate:8.1f} clips/s "
              f"(target >= {TARGETS[f'{name}_clips_per_s']})")
    dancer = make_dataset("dancer", size=args.size, frames=args.dancer_frames, num_clips=2)
    rate = best_rate(lambda: dancer.render([0]), args.dancer_frames, args.repeats)
    results["dancer_frames_per_s"] = round(rate, 1)
    print(f"dancer  {args.size}x{args.size}, {args.dancer_frames}-frame video: {rate:8.1f} frames/s "
          f"(target >= {TARGETS['dancer_frames_per_s']})")

    results.update(size=args.size, frames=args.frames, threads=torch.get_num_threads(),
                   cpu_count=os.cpu_count() or 0, machine=platform.machine(), torch=torch.__version__)
    results["meets_targets"] = all(results[k] >= v for k, v in TARGETS.items())
    print(json.dumps(results))


if __name__ == "__main__":
    main()
