"""How long every metric takes on 1,000 videos of 64×64×16 on this machine's CPU.

    python benchmarks/metrics_speed.py [--videos 1000] [--size 64] [--threads 2]

Real clips come from ``shapes``; the "generated" set is the same number of other clips with noise
added. Times each metric once (after a small warm-up) with the shipped evaluators as feature
extractors: FID (frame features of every frame), FVD and IS (clip features / classes), PSNR, SSIM,
MSE (per frame), ACD (consecutive frame features). Target (evaluation issue): everything together
under 60 s on 2 cores. The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from vgan_lesson.data import make_dataset
from vgan_lesson.metrics import acd, extract, frechet_distance, inception_score, mse, psnr, ssim
from vgan_lesson.pretrained import load_pretrained_evaluator


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = make_dataset("shapes", "test", size=args.size, frames=16, num_clips=2 * args.videos)
    real = data.batch(range(args.videos))["video"]
    g = torch.Generator().manual_seed(0)
    fake = (data.batch(range(args.videos, 2 * args.videos))["video"]
            + 0.1 * torch.randn(real.shape, generator=g)).clamp(-1, 1)
    frame_eval = load_pretrained_evaluator("shapes", "frame")
    video_eval = load_pretrained_evaluator("shapes", "video")
    d = frame_eval.config.feature_dim
    extract(frame_eval.features, real[:8]), extract(video_eval.features, real[:8])     # warm-up

    times, values = {}, {}

    def timed(name, fn):
        t0 = time.perf_counter()
        values[name] = fn()
        times[name] = round(time.perf_counter() - t0, 2)

    timed("fid", lambda: frechet_distance(extract(frame_eval.features, real).view(-1, d),
                                          extract(frame_eval.features, fake).view(-1, d)))
    timed("fvd", lambda: frechet_distance(extract(video_eval.features, real), extract(video_eval.features, fake)))
    timed("is", lambda: inception_score(extract(lambda v: video_eval.probabilities(v), fake))["is"])
    timed("psnr", lambda: psnr(fake, real))
    timed("ssim", lambda: ssim(fake, real))
    timed("mse", lambda: mse(fake, real))
    timed("acd", lambda: acd(extract(frame_eval.features, fake).view(args.videos, 16, d)))
    total = round(sum(times.values()), 2)
    for name in times:
        print(f"{name:>5}: {times[name]:6.2f} s   value {values[name]:.4g}")
    print(f"total: {total:.1f} s for {args.videos} videos of {args.size}x{args.size}x16 on {args.threads} threads "
          f"(target 60 s)")
    print(json.dumps({"videos": args.videos, "size": args.size, "threads": args.threads, "seconds": times,
                      "total_seconds": total, "meets_target": total < 60, "values": values}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
