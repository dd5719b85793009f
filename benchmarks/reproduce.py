"""The reproduction report: the papers' tables on our data, with computed verdicts.

    python benchmarks/reproduce.py                          # shipped models, shapes and faces
    python benchmarks/reproduce.py --ablation-steps 300     # also train every Table 3/4 variant (slow)
    python benchmarks/reproduce.py --datasets shapes --num-eval 512

For each dataset: EncGAN3 Tables 1–3 from the shipped lesson-scale G3AN and EncGAN3, scored with the
shipped evaluators (:func:`vgan_lesson.evaluation.encgan3_report`); with ``--ablation-steps N`` every
variant of Tables 3 and 4 is trained from scratch for N steps (same data, seed and budget each) and
scored. Every claim is printed beside the paper's figure with a verdict computed from our numbers.
REncGAN3, FEV-GAN and VICE-GAN rows join this report when those models exist in the package.
The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from vgan_lesson.evaluation import SCORE_COLUMNS, encgan3_report, markdown_table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["shapes", "faces"])
    parser.add_argument("--num-eval", type=int, default=256)
    parser.add_argument("--ablation-steps", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    everything = {}
    for dataset in args.datasets:
        t0 = time.perf_counter()
        report = encgan3_report(dataset, num_eval=args.num_eval, seed=args.seed, ablation_steps=args.ablation_steps)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        what = f"trained {args.ablation_steps} steps each" if args.ablation_steps else "shipped checkpoints"
        print(f"\n## EncGAN3 on {dataset} ({what}; {args.num_eval} clips; {report['seconds']} s)\n")
        print(markdown_table(report["rows"], SCORE_COLUMNS))
        print()
        print(markdown_table({c["claim"]: c for c in report["claims"]}, ["table", "column", "verdict"], label="claim"))
        everything[dataset] = report
    held = sum(c["verdict"] == "reproduced" for r in everything.values() for c in r["claims"])
    total = sum(len(r["claims"]) for r in everything.values())
    print(f"\n{held} of {total} checked claims reproduced")
    print(json.dumps({"encgan3": everything, "reproduced": held, "checked": total}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
