"""The reproduction report: the papers' tables on our data, with computed verdicts.

    python benchmarks/reproduce.py                          # shipped models, shapes and faces
    python benchmarks/reproduce.py --ablation-steps 300     # also train every Table 3/4 variant (slow)
    python benchmarks/reproduce.py --datasets shapes --num-eval 512
    python benchmarks/reproduce.py --papers rencgan3 --length 256   # REncGAN3 only, longer chains
    python benchmarks/reproduce.py --papers fevgan --ablation-steps 6000   # FEV-GAN Table 3, trained variants
    python benchmarks/reproduce.py --papers vicegan --ablation-steps 300 --autoencoder-steps 500   # VICE-GAN

For each dataset: EncGAN3 Tables 1–3 from the shipped lesson-scale G3AN and EncGAN3, scored with the
shipped evaluators (:func:`vgan_lesson.evaluation.encgan3_report`); with ``--ablation-steps N`` every
variant of Tables 3 and 4 is trained from scratch for N steps (same data, seed and budget each) and
scored. Every claim is printed beside the paper's figure with a verdict computed from our numbers.
REncGAN3 (Tables 1–2, Fig. 2–3 and the recall claims on ``dancer``): the shipped REncGAN3 against its
Enc_G variant (EncGAN3's separate updates on the same data), 16-frame clips from prior noise, long
videos from the recall chain, their joins against independent clips glued together, quality along
the length and how close the motion comes to repeating (:func:`vgan_lesson.evaluation.rencgan3_report`).
FEV-GAN (Tables 1 and 3 on ``faces``, :func:`vgan_lesson.evaluation.fevgan_report`): held-out identities,
each clip's neutral first frame and label in, the generated clip against the real one: PSNR, SSIM,
ACD (consecutive frames) and ACD-I (frames against the input face) with the measuring identity
evaluator (not FEV-GAN's own E_Id), CAS and identity verification; the shipped model, and with
``--ablation-steps N`` the full model, "w/o E_s" and "w/o E_Id" each trained for N steps (without it
the ablation claims say "not run"). VICE-GAN (Tables 2 and 4, the seen / unseen question on ``faces``,
:func:`vgan_lesson.evaluation.vicegan_report`): the shipped Model 4 and, with ``--ablation-steps N``, the four
Table 2 variants trained N steps each under the unseen and the seen condition (8 models), each animating
the held-out clips' first frames: SSIM, MSE, ACD (consecutive frames, measuring identity evaluator), CAS and
identity kept; with ``--autoencoder-steps M`` the six autoencoders of Table 4 trained M steps each beside
the paper's MSE and SSIM (without it those claims say "not run").
The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from vgan_lesson.evaluation import (AUTOENCODER_COLUMNS, ENCGAN3_COLUMNS, FEVGAN_COLUMNS, FEVGAN_METRICS,
                                   RENCGAN3_COLUMNS, VICEGAN_COLUMNS, VICEGAN_METRICS, encgan3_report,
                                   fevgan_report, markdown_table, rencgan3_report, vicegan_report)


def print_face_metric_notes(report: dict, notes: dict, columns: tuple[str, ...]) -> None:
    """How a faces report's identity threshold was set, and what its ``columns`` measure."""
    calibration = report["identity_threshold"]
    print(f"\nidentity_kept: cosine >= {calibration['threshold']:.3f} (calibrated on training identities; "
          f"held-out verification accuracy {calibration['held_out_accuracy']:.3f})")
    for column in columns:
        print(f"{column}: {notes[column]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", nargs="+", default=["encgan3", "rencgan3", "fevgan", "vicegan"],
                        choices=["encgan3", "rencgan3", "fevgan", "vicegan"])
    parser.add_argument("--datasets", nargs="+", default=["shapes", "faces"], help="EncGAN3's datasets")
    parser.add_argument("--length", type=int, default=128, help="frames of REncGAN3's long videos")
    parser.add_argument("--num-eval", type=int, default=256)
    parser.add_argument("--ablation-steps", type=int, default=0,
                        help="steps for every ablation variant (EncGAN3 Tables 3-4, FEV-GAN Table 3, VICE-GAN Table 2)")
    parser.add_argument("--autoencoder-steps", type=int, default=0,
                        help="VICE-GAN Table 4: steps for each of the six autoencoders (0: skipped)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    everything, claims = {}, []
    for dataset in args.datasets if "encgan3" in args.papers else []:
        t0 = time.perf_counter()
        report = encgan3_report(dataset, num_eval=args.num_eval, seed=args.seed, ablation_steps=args.ablation_steps)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        what = f"trained {args.ablation_steps} steps each" if args.ablation_steps else "shipped checkpoints"
        print(f"\n## EncGAN3 on {dataset} ({what}; {args.num_eval} clips; {report['seconds']} s)\n")
        print(markdown_table(report["rows"], ENCGAN3_COLUMNS))
        print()
        print(markdown_table({c["claim"]: c for c in report["claims"]}, ["table", "column", "verdict"], label="claim"))
        everything[f"encgan3_{dataset}"] = report
        claims += report["claims"]
    if "rencgan3" in args.papers:
        t0 = time.perf_counter()
        report = rencgan3_report(num_eval=args.num_eval, length=args.length, seed=args.seed)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        print(f"\n## REncGAN3 on dancer (shipped checkpoints; {args.num_eval} clips and long videos of "
              f"{args.length} frames; {report['seconds']} s)\n")
        print(markdown_table(report["rows"], RENCGAN3_COLUMNS))
        print("\nvideo FID along the length (Fig. 3), per 16-frame clip:")
        for name, q in report["quality"].items():
            print(f"  {name}: " + ", ".join(f"{p}: {v:.1f}" for p, v in zip(q["positions"], q["fvd"])))
        print()
        print(markdown_table({c["claim"]: c for c in report["claims"]}, ["table", "column", "verdict"], label="claim"))
        everything["rencgan3_dancer"] = report
        claims += report["claims"]
    if "fevgan" in args.papers:
        t0 = time.perf_counter()
        report = fevgan_report(num_eval=args.num_eval, seed=args.seed, ablation_steps=args.ablation_steps)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        what = (f"full model and ablations trained {args.ablation_steps} steps each, shipped model beside them"
                if args.ablation_steps else "shipped checkpoint")
        print(f"\n## FEV-GAN on faces ({what}; {args.num_eval} held-out clips; {report['seconds']} s)\n")
        print(markdown_table(report["rows"], FEVGAN_COLUMNS, digits=3))
        print_face_metric_notes(report, FEVGAN_METRICS, ("acd", "acd_i", "embedder"))
        print()
        print(markdown_table({c["claim"]: c for c in report["claims"]}, ["table", "column", "verdict"], label="claim"))
        everything["fevgan_faces"] = report
        claims += report["claims"]
    if "vicegan" in args.papers:
        t0 = time.perf_counter()
        report = vicegan_report(num_eval=args.num_eval, seed=args.seed, steps=args.ablation_steps,
                                autoencoder_steps=args.autoencoder_steps)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        what = (f"Table 2 variants trained {args.ablation_steps} steps each per condition, shipped Model 4 beside them"
                if args.ablation_steps else "shipped checkpoint")
        print(f"\n## VICE-GAN on faces ({what}; {args.num_eval} held-out clips per condition; "
              f"{report['seconds']} s)\n")
        print(markdown_table(report["rows"], VICEGAN_COLUMNS, digits=3))
        if report["autoencoders"]:
            what = (f"trained {args.autoencoder_steps} steps each" if args.autoencoder_steps
                    else "the shipped one only")
            print(f"\nTable 4, the autoencoders ({what}; ours on held-out faces, the paper's on MUG):\n")
            print(markdown_table(report["autoencoders"], AUTOENCODER_COLUMNS, digits=4))
        print_face_metric_notes(report, VICEGAN_METRICS, ("acd", "conditions"))
        print()
        print(markdown_table({c["claim"]: c for c in report["claims"]}, ["table", "column", "verdict"], label="claim"))
        everything["vicegan_faces"] = report
        claims += report["claims"]
    held = sum(c["verdict"] == "reproduced" for c in claims)
    checked = sum(c["verdict"] != "not run" for c in claims)
    print(f"\n{held} of {checked} checked claims reproduced" + (f" ({len(claims) - checked} not run)"
                                                               if checked < len(claims) else ""))
    print(json.dumps({"reports": everything, "reproduced": held, "checked": checked}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
