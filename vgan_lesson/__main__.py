"""Command line: ``python -m vgan_lesson <command>``.

* ``lessons`` — execute every lesson notebook in order with papermill into ``build/`` (+ HTML).
* ``notebooks`` — check the notebook output policy, record checked outputs, make student versions.
* ``train`` — train a model on a procedural dataset, e.g.
  ``python -m vgan_lesson train --model encgan3 --dataset shapes --scale lesson --steps 300 --out runs/encgan3``
  (``--resume`` continues the run in ``--out``; ``--set key=value`` overrides a model config field).
* ``pretrain`` — train and export the shipped checkpoints and evaluators (``vgan_lesson.pretrained``):
  ``python -m vgan_lesson pretrain [NAME ...] [--jobs 4 --threads 4]``.
* ``info`` — versions and the device that would be used.
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from pathlib import Path


def _parse_param(text: str):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (VALUE as JSON, e.g. SIZE=32), got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


TRAIN_MODELS = ("encgan3", "g3an", "rencgan3", "rencgan3_encg", "fevgan", "vicegan")
#: models that animate a face, so train on ``faces`` only
FACE_MODELS = ("fevgan", "vicegan")
TRAIN_DATASETS = ("shapes", "faces", "dancer")


def build_model(name: str, scale: str = "lesson", seed: int | None = None, **overrides):
    """The model ``name`` at ``scale`` (``"lesson"`` or ``"paper"``) with config ``overrides``; with
    ``seed`` its initial weights are drawn from that seed alone
    (:func:`vgan_lesson.training.seeded_rng`), so a command with a seed trains the same model every time.

    ``"g3an"`` is EncGAN3's generator trained from noise alone (``use_encoder=False``);
    ``"rencgan3"`` is REncGAN3 and ``"rencgan3_encg"`` its Enc_G variant (``joint=False``).
    ``"fevgan"`` is FEV-GAN with its frozen E_Id loaded from ``identity_weights`` (an override that is
    not a config field: ``"default"``, the shipped ``checkpoints/identity_encoders/faces_identity.pt``;
    a path; or ``None`` for an untrained E_Id, e.g. in tests).
    ``"vicegan"`` is VICE-GAN (its Table 2 Model 4 by default) with its pretrained autoencoder from
    ``autoencoder_weights`` (``"default"``: ``checkpoints/autoencoders/faces_standard_large.pt``; a
    path; or ``None``).
    """
    from .checks import check_choice
    from .training import seeded_rng

    check_choice("model", name, TRAIN_MODELS)
    with seeded_rng(seed) if seed is not None else nullcontext():
        return _build_model(name, scale, **overrides)


def _build_model(name: str, scale: str, **overrides):
    from .models.encgan3 import EncGAN3, EncGAN3Config
    from .models.rencgan3 import REncGAN3, REncGAN3Config

    if name == "fevgan":
        from .models.fevgan import FEVGAN, FEVGANConfig, default_identity_encoder_path

        weights = overrides.pop("identity_weights", "default")
        return _with_pretrained_part(FEVGAN(FEVGANConfig.for_scale(scale, **overrides)), weights,
                                     default_identity_encoder_path, "load_identity_encoder",
                                     "FEV-GAN's identity encoder E_Id", "fevgan_identity_encoder_faces")
    if name == "vicegan":
        from .models.vicegan import VICEGAN, VICEGANConfig, default_autoencoder_path

        weights = overrides.pop("autoencoder_weights", "default")
        return _with_pretrained_part(VICEGAN(VICEGANConfig.for_scale(scale, **overrides)), weights,
                                     default_autoencoder_path, "load_autoencoder",
                                     "VICE-GAN's autoencoder", "vicegan_autoencoder_faces")
    if name.startswith("rencgan3"):
        if name == "rencgan3_encg":
            if overrides.get("joint", False):
                raise ValueError("model 'rencgan3_encg' trains Enc and G separately: drop joint=true or use rencgan3")
            overrides = {**overrides, "joint": False}
        return REncGAN3(REncGAN3Config.for_scale(scale, **overrides))
    if name == "g3an":
        if overrides.get("use_encoder", False):
            raise ValueError("model 'g3an' has no encoder: drop use_encoder=true or use --model encgan3")
        overrides = {**overrides, "use_encoder": False}
    return EncGAN3(EncGAN3Config.for_scale(scale, **overrides))


def _with_pretrained_part(model, weights, default_path, loader: str, what: str, recipe: str):
    """``model`` with its pretrained, frozen part loaded by ``model.<loader>(path)`` from ``weights``:
    ``"default"`` (``default_path()``), a path, or ``None`` (left untrained)."""
    if weights is None:
        return model
    path = default_path() if weights == "default" else Path(weights)
    if not path.exists():
        raise ValueError(f"{what} {path} is missing; it is made by: python -m vgan_lesson pretrain {recipe}")
    return getattr(model, loader)(path)


def training_frames(config) -> int:
    """Frames per training video: a clip (EncGAN3, G3AN) or a window of overlapping clips (REncGAN3)."""
    return getattr(config, "window", config.frames)


def run_training(args: argparse.Namespace):
    """The ``train`` command: dataset + model + :func:`vgan_lesson.training.train`; returns the History."""
    from .checks import check_choice
    from .data import make_dataset
    from .training import TrainConfig, train

    check_choice("dataset", args.dataset, TRAIN_DATASETS)
    if args.model in FACE_MODELS and args.dataset != "faces":
        raise ValueError(f"{args.model} animates faces: use --dataset faces, got {args.dataset!r}")
    model = build_model(args.model, args.scale, seed=args.seed, **dict(args.overrides))
    c = model.config
    data = make_dataset(args.dataset, split="train", size=c.size, frames=training_frames(c))
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed, device=args.device,
                         amp=args.amp, out_dir=args.out, sample_every=args.sample_every,
                         checkpoint_every=args.checkpoint_every)
    print(f"{model.extra_repr()}; {data.describe()}")
    history = train(model, data, config, resume=args.resume, callbacks=[])
    print(f"done: step {history.steps[-1] if history.steps else 0}, checkpoint {history.last_checkpoint}")
    return history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vgan_lesson", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    lessons = sub.add_parser("lessons", help="execute the lesson notebooks in order (papermill)")
    lessons.add_argument("--out", default="build", help="folder for the executed notebooks and HTML")
    lessons.add_argument("--only", nargs="*", help="lesson numbers or names, e.g. 00 03")
    lessons.add_argument("-p", "--param", action="append", type=_parse_param, default=[],
                         help="papermill parameter NAME=VALUE for every lesson, e.g. -p SCALE='\"paper\"'")
    lessons.add_argument("--no-html", action="store_true")
    sub.add_parser("notebooks", help="notebook policy, checked outputs, student versions "
                                     "(see python -m vgan_lesson notebooks --help)", add_help=False)
    sub.add_parser("info", help="versions and device")
    tr = sub.add_parser("train", help="train a model on a procedural dataset (checkpoints, metrics, samples)")
    tr.add_argument("--model", default="encgan3", help=f"one of {', '.join(TRAIN_MODELS)}")
    tr.add_argument("--dataset", default="shapes", help=f"one of {', '.join(TRAIN_DATASETS)}")
    tr.add_argument("--scale", default="lesson", help="lesson (32 px, narrow, CPU) or paper (64 px, G3AN widths)")
    tr.add_argument("--steps", type=int, default=1000)
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", required=True, help="run folder: metrics, samples, checkpoints")
    tr.add_argument("--amp", choices=["bf16"], default=None, help="bfloat16 autocast")
    tr.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: the best available)")
    tr.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    tr.add_argument("--set", dest="overrides", action="append", type=_parse_param, default=[], metavar="KEY=VALUE",
                    help="model config override, VALUE as JSON, e.g. --set attention=false --set size=128")
    tr.add_argument("--sample-every", type=int, default=200)
    tr.add_argument("--checkpoint-every", type=int, default=500)
    pre = sub.add_parser("pretrain", help="train and export the shipped checkpoints and evaluators")
    pre.add_argument("names", nargs="*", help="recipe names (default: all; see vgan_lesson.pretrained.RECIPES)")
    pre.add_argument("--jobs", type=int, default=1, help="recipes trained at once (subprocesses)")
    pre.add_argument("--threads", type=int, default=None, help="torch threads per job")
    pre.add_argument("--out", default=None, help="folder for the files (default: checkpoints/)")
    pre.add_argument("--work", default="runs/pretrain", help="training runs (resumed when present)")
    pre.add_argument("--steps", type=int, default=None, help="override every recipe's steps")
    pre.add_argument("--export-only", action="store_true", help="export the newest checkpoint of each model run")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["notebooks"]:
        from .notebooks import main as nb_main

        return nb_main(argv[1:])
    args = parser.parse_args(argv)

    if args.command == "lessons":
        from .notebooks import run_lessons

        run_lessons(args.out, args.only, dict(args.param), html=not args.no_html)
    elif args.command == "train":
        try:
            run_training(args)
        except ValueError as err:  # bad names or values: one clear line, no traceback
            parser.error(str(err))
    elif args.command == "pretrain":
        from .pretrained import pretrain

        try:
            pretrain(args.names, jobs=args.jobs, threads=args.threads, out=args.out, work=args.work, steps=args.steps,
                     export_only=args.export_only)
        except ValueError as err:
            parser.error(str(err))
    elif args.command == "info":
        import torch

        from . import __version__, get_device

        print(f"vgan_lesson {__version__}, torch {torch.__version__}, device {get_device()}, "
              f"threads {torch.get_num_threads()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
