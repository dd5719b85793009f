"""Long videos in the memory of one clip: speed and peak memory of REncGAN3's chain by length.

    python benchmarks/long_video.py [--lengths 64 400 2000] [--n 1] [--threads 2] [--device cpu]

Uses the shipped REncGAN3 (``rencgan3_dancer``) when it is present, else an untrained lesson-scale
REncGAN3 (the same networks and chain, so the same memory and speed; the output says which).
Every length runs in a **fresh subprocess** that loads the model and streams
:func:`vgan_lesson.longvideo.generate_long` to a ``.npy`` in a temporary folder; the child measures
its own peak resident memory during the call (``VmHWM``, see :func:`vgan_lesson.longvideo.peak_memory`)
and, on CUDA, ``torch.cuda.max_memory_allocated``. Peaks are per process, hence one process per length.

Target (REncGAN3 Sec. 4: "the same amount of GPU memory as EncGAN3"): peak(longest) / peak(shortest)
at most 1.2 — resident memory on the CPU, allocated GPU memory on CUDA. Prints frames per second
(of each video; ``n`` are made together) and the peaks; the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_RATIO = 1.2


def _load_model(device: str):
    """The shipped REncGAN3 for ``dancer`` if present, else an untrained lesson-scale one; and its description."""
    from vgan_lesson.models.rencgan3 import REncGAN3, REncGAN3Config
    from vgan_lesson.pretrained import available, load_pretrained

    if "rencgan3_dancer" in available("model"):
        model, source = load_pretrained("rencgan3", "dancer"), "shipped rencgan3_dancer"
    else:
        model, source = REncGAN3(REncGAN3Config.lesson()), "untrained lesson-scale REncGAN3 (rencgan3_dancer not shipped)"
    c = model.config
    return model.to(device).eval(), f"{source}: {c.size}x{c.size}, clips of {c.frames}, {c.stride} new frames per link"


def child(args: argparse.Namespace) -> int:
    """One length in this (fresh) process: load, generate to ``args.out``, print one JSON line."""
    import torch

    from vgan_lesson.longvideo import generate_long, long_video_shape, peak_memory

    torch.set_num_threads(args.threads)
    model, source = _load_model(args.device)
    result, memory = peak_memory(generate_long, model, args.child, args.out, n=args.n, progress=False)
    shape = long_video_shape(result.path)
    print(json.dumps({"frames": args.child, "n": args.n, "file_shape": list(shape),
                      "file_mib": round(Path(result.path).stat().st_size / 2**20, 2), "model": source,
                      "seconds": round(result.seconds, 2), "frames_per_second": round(result.frames_per_second, 1),
                      **{k: (round(v, 1) if isinstance(v, float) else v) for k, v in memory.items()}}))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 400, 2000])
    parser.add_argument("--n", type=int, default=1, help="long videos made together")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return child(args)
    if min(args.lengths) < 1 or args.n < 1 or args.threads < 1:
        parser.error(f"lengths, --n and --threads must be positive, got {args.lengths}, {args.n}, {args.threads}")

    rows = []
    with tempfile.TemporaryDirectory(prefix="long_video_bench_") as tmp:
        for length in args.lengths:
            out = Path(tmp) / f"long_{length}.npy"
            cmd = [sys.executable, __file__, "--child", str(length), "--out", str(out), "--n", str(args.n),
                   "--threads", str(args.threads), "--device", args.device]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                raise SystemExit(f"the run for {length} frames failed (exit {proc.returncode})")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            out.unlink(missing_ok=True)

    print(f"model: {rows[0]['model']}")
    print(f"device {args.device}, {args.threads} threads, n = {args.n} videos per run, each length in a fresh process")
    cuda = rows[0]["cuda_peak_mib"] is not None
    print(f"{'frames':>7} {'seconds':>8} {'frames/s':>9} {'RSS before':>11} {'RSS peak':>9} {'growth':>7}"
          + (f" {'CUDA peak':>10}" if cuda else "") + "   (MiB)")
    for r in rows:
        line = (f"{r['frames']:>7} {r['seconds']:>8.2f} {r['frames_per_second']:>9.1f} {r['rss_before_mib']:>11.1f} "
                f"{r['rss_peak_mib']:>9.1f} {r['rss_peak_mib'] - r['rss_before_mib']:>7.1f}")
        print(line + (f" {r['cuda_peak_mib']:>10.1f}" if cuda else ""))
    short, long = min(rows, key=lambda r: r["frames"]), max(rows, key=lambda r: r["frames"])
    key = "cuda_peak_mib" if cuda else "rss_peak_mib"
    ratio = long[key] / short[key]
    growth = [r["rss_peak_mib"] - r["rss_before_mib"] for r in (long, short)]
    growth_ratio = growth[0] / growth[1] if growth[1] > 0 else None
    print(f"peak({long['frames']}) / peak({short['frames']}) = {ratio:.3f} ({'CUDA allocated' if cuda else 'resident'} "
          f"memory; target <= {TARGET_RATIO}); RSS measured as {rows[0]['rss_method']}")
    if growth_ratio is not None:
        print(f"growth during the call: {growth[0]:.1f} MiB for {long['frames']} frames vs {growth[1]:.1f} MiB for "
              f"{short['frames']} (x{growth_ratio:.2f}; the peak ratio above includes the "
              f"{short['rss_before_mib']:.0f} MiB resident before the call)")
    print(json.dumps({"device": args.device, "threads": args.threads, "n": args.n, "model": rows[0]["model"],
                      "runs": rows, "memory": "cuda" if cuda else "rss", "peak_ratio": round(ratio, 4),
                      "ratio_lengths": [long["frames"], short["frames"]],
                      "rss_growth_ratio": None if growth_ratio is None else round(growth_ratio, 4),
                      "target_ratio": TARGET_RATIO,
                      "meets_target": ratio <= TARGET_RATIO}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
