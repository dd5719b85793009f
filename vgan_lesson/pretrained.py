"""Shipped weights: the package's own trained models and evaluators, each described by a manifest.

Everything under ``checkpoints/`` (at the repository root; ``$VGAN_CHECKPOINTS`` points elsewhere)
was produced by one command of this package::

    python -m vgan_lesson pretrain                      # every recipe below, one after the other
    python -m vgan_lesson pretrain encgan3_shapes       # one of them
    python -m vgan_lesson pretrain --jobs 4 --threads 4 # four at a time, 4 CPU threads each

The recipes (:data:`RECIPES`) fix the model, data, steps, batch size and seed of each file. Each
model is trained with :func:`vgan_lesson.training.train` in ``runs/pretrain/<name>`` (an
interrupted run resumes there) and then **exported**: only the weights and the config are kept
(no optimizer state), written atomically, and a manifest entry records the command, seed, commit,
steps, torch version, machine, training time, the final losses and the file's SHA-256.
:func:`load_pretrained` checks that hash and loads with ``weights_only=True``::

    model = load_pretrained("encgan3", "shapes")        # an EncGAN3 in eval mode, on the CPU

Evaluators (``checkpoints/evaluators/``) are trained by :func:`vgan_lesson.evaluators.train_evaluator`
through the same command and loaded with :func:`vgan_lesson.evaluators.load_evaluator` or
:func:`load_pretrained_evaluator`.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch

from .checks import check_choice
from .io import atomic_save, atomic_write_bytes, safe_load
from .models.encgan3 import reconstruction_settings

PRETRAINED_FORMAT = "vgan_lesson.pretrained"
MANIFEST = "manifest.json"


def checkpoint_dir() -> Path:
    """Where shipped weights live: ``$VGAN_CHECKPOINTS`` or ``checkpoints/`` beside the package."""
    env = os.environ.get("VGAN_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "checkpoints"


@dataclass(frozen=True)
class Recipe:
    """How one shipped file is made. ``kind`` is ``"model"``, ``"evaluator"``, ``"identity_encoder"``
    (a frozen network a model trains against, e.g. FEV-GAN's E_Id: kept apart from the evaluators that
    measure the model) or ``"autoencoder"`` (VICE-GAN's step one, ``model`` = ``"<kind>_<architecture>"``)."""

    kind: str
    dataset: str
    model: str = ""                 # "encgan3" | "g3an" | "rencgan3" | "rencgan3_encg" for models; "frame" | "video" | "identity" for evaluators
    steps: int = 1000
    batch_size: int = 16
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()     # recipes whose files this one trains against (made first by ``pretrain``)
    half: bool = False              # store the exported weights as float16 (half the bytes; loads into fp32)

    @property
    def file(self) -> str:
        if self.kind == "model":
            return f"{self.model}_{self.dataset}.pt"
        return f"{FOLDERS[self.kind]}/{self.dataset}_{self.model}.pt"


#: the folder of each kind of shipped file that is not a model
FOLDERS = {"evaluator": "evaluators", "identity_encoder": "identity_encoders", "autoencoder": "autoencoders"}


#: Every shipped file and how it is trained (lesson scale, on a 2-core CPU; each manifest entry gives the
#: threads and seconds its run took: EncGAN3 ~1.1 s/step on one busy thread, ~0.6 on two; G3AN ~0.45 and ~0.2).
RECIPES: dict[str, Recipe] = {
    # EncGAN3 on shapes, with the squared reconstruction error (rec_norm "l2") weighted 100 (ImaGINator's weight):
    # with the default L1, runs of 2000 and 5000 steps reconstructed every clip as its background alone (L1's
    # median optimum drops an object that covers a few percent of the frame; see losses.video_reconstruction);
    # L2 at rec_weight 10 put the object into the first reconstructed frames but let it fade (3000 steps).
    # Both come from models.encgan3.DATASET_RECONSTRUCTION, the one place lesson 03 and the ablations read too.
    "encgan3_shapes": Recipe("model", "shapes", "encgan3", steps=3000, batch_size=16,
                             overrides=reconstruction_settings("shapes")),
    # G3AN on shapes: 20000 steps, 5685 s of CPU against EncGAN3's 1839 s (resumed runs: 3000, then 10000; no schedule, so
    # the first N steps of a longer run are the run of N steps). At 3000 steps its shapes were blobs that
    # changed colour within a clip; from 3000 to 10000 its FVD fell from 129 to 51.
    "g3an_shapes": Recipe("model", "shapes", "g3an", steps=20000, batch_size=16),
    "encgan3_faces": Recipe("model", "faces", "encgan3", steps=2000, batch_size=16),
    "g3an_faces": Recipe("model", "faces", "g3an", steps=3000, batch_size=16),
    # REncGAN3: batches of 4 windows of 4 overlapping clips (40 frames) = 16 clips, the clips per step of
    # EncGAN3; three recall links per window, and wider G and encoders than the lesson default (the
    # figure's thin limbs and the link through the content code need them: a first run at the lesson
    # defaults with 2-clip windows, looked at after 800 steps, drifted every chain to one look within 3 links).
    # The joint model's prior samples are chains of 4 links with their own reference term (chain_prior, the
    # default): trained with independent prior clips its generation-time chain drifted (content codes
    # growing over 16 links from 7 to 21 against the prior's 11) and collapsed to one look; chained prior
    # samples alone did not stop the collapse in 1000-step trials. kl_weight 1e-3: the default
    # 1 / (C·T·H·W) = 2e-5 left the posteriors ~220 nats from the prior, so G drew garbage from prior
    # noise and the chain's first link had nothing to carry. Enc_G has the same KL weight, so the paper's
    # comparison changes only the update rule. Both in float16.
    "rencgan3_dancer": Recipe("model", "dancer", "rencgan3", steps=2000, batch_size=4,
                              overrides=dict(g_base=4, enc_width=16, clips_per_video=4, kl_weight=1e-3), half=True),
    "rencgan3_encg_dancer": Recipe("model", "dancer", "rencgan3_encg", steps=2000, batch_size=4,
                                   overrides=dict(g_base=4, enc_width=16, clips_per_video=4, kl_weight=1e-3),
                                   half=True),
    # FEV-GAN (full model, Eq. 1 with the config's lambda_1 = lambda_2), trained against the frozen E_Id, with
    # a 4x wider G_dec (128-64-32) and a 2x wider E_s than the lesson default: at the default widths
    # (G_dec 0.05 M parameters) 3000 steps animated the expressions barely (CAS 0.25); at these widths the
    # CAS rose from 0.49 to 0.65 between steps 1500 and 3000 and was still climbing. Stored in float16.
    "fevgan_faces": Recipe("model", "faces", "fevgan", steps=6000, batch_size=16,
                           overrides=dict(g_width=32, enc_width=16), needs=("fevgan_identity_encoder_faces",),
                           half=True),
    # VICE-GAN step one: the standard large autoencoder, the paper's pick (Sec. 6.1)
    "vicegan_autoencoder_faces": Recipe("autoencoder", "faces", "standard_large", steps=2000, batch_size=32),
    # VICE-GAN Table 2 Model 4 (single-frame content, frozen autoencoder)
    "vicegan_faces": Recipe("model", "faces", "vicegan", steps=3000, batch_size=16,
                            needs=("vicegan_autoencoder_faces",)),
    # FEV-GAN's frozen identity encoder E_Id (the stand-in for VGG-Face): the identity-evaluator
    # architecture, narrower and with another seed than the evaluator that measures ACD / ACD-I
    "fevgan_identity_encoder_faces": Recipe("identity_encoder", "faces", "identity", steps=1500, batch_size=32,
                                            seed=1),
    "evaluator_shapes_frame": Recipe("evaluator", "shapes", "frame", steps=3000, batch_size=32),
    "evaluator_shapes_video": Recipe("evaluator", "shapes", "video", steps=1000, batch_size=32),
    "evaluator_faces_frame": Recipe("evaluator", "faces", "frame", steps=8000, batch_size=32),
    "evaluator_faces_video": Recipe("evaluator", "faces", "video", steps=1000, batch_size=32),
    "evaluator_faces_identity": Recipe("evaluator", "faces", "identity", steps=1500, batch_size=32),
    "evaluator_dancer_frame": Recipe("evaluator", "dancer", "frame", steps=3000, batch_size=32),
    "evaluator_dancer_video": Recipe("evaluator", "dancer", "video", steps=1000, batch_size=32),
}


# --------------------------------------------------------------------------------------------------
# manifests
# --------------------------------------------------------------------------------------------------

def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit() -> str:
    """The commit the code was run from, with ``-dirty`` when tracked files outside ``checkpoints/``
    differ from it (``$VGAN_COMMIT`` wins: a copy of the tree without ``.git``)."""
    if os.environ.get("VGAN_COMMIT"):
        return os.environ["VGAN_COMMIT"]
    here = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=here).stdout.strip()
        # edits to tracked files outside checkpoints/ (whose manifests the pretrain command itself
        # rewrites) mean the code that ran is not exactly the commit: say so
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                  ":(exclude)checkpoints"], capture_output=True, text=True, check=True,
                                 cwd=here.parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if changed else head


def machine() -> str:
    """A short description of where a file was trained (for the manifest)."""
    return (f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, python {platform.python_version()}")


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """A portable lock file, so parallel ``pretrain`` jobs can update one manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / f".{MANIFEST}.lock"
    deadline = time.monotonic() + 120
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{lock} is held for over 2 minutes; remove it if no pretrain job is running")
            time.sleep(0.05)
    try:
        yield
    finally:
        os.close(fd)
        os.unlink(lock)


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The manifest of ``folder`` (``{}`` when there is none)."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err


def record(path: str | os.PathLike, entry: dict[str, Any]) -> dict[str, Any]:
    """Add ``path``'s manifest entry (keyed by its file stem) to the manifest beside it, with its
    size and SHA-256; returns the entry as written."""
    path = Path(path)
    entry = json.loads(json.dumps({**entry, "file": path.name, "bytes": path.stat().st_size,
                                   "sha256": sha256_file(path)}))       # as it reads back: lists, not tuples
    with _locked(path.parent):
        manifest = read_manifest(path.parent)
        manifest[path.stem] = entry
        atomic_write_bytes((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(), path.parent / MANIFEST)
    return entry


def verify(path: str | os.PathLike) -> dict[str, Any] | None:
    """Check ``path`` against the manifest beside it; return its entry (``None`` if it has none)."""
    path = Path(path)
    entry = read_manifest(path.parent).get(path.stem)
    if entry is not None:
        digest = sha256_file(path)
        if entry.get("sha256") != digest:
            raise ValueError(f"{path} does not match its manifest: sha256 {digest}, manifest says {entry.get('sha256')}"
                             f" (a damaged download or a file replaced by hand; re-run its command: "
                             f"{entry.get('command', '?')})")
    return entry


# --------------------------------------------------------------------------------------------------
# export and load
# --------------------------------------------------------------------------------------------------

def export_model(checkpoint: str | os.PathLike, path: str | os.PathLike, half: bool = False,
                 **entry: Any) -> dict[str, Any]:
    """Keep only the weights and config of a training checkpoint; write them atomically to ``path``
    and record a manifest entry (``entry`` plus the step, final losses and training time).

    ``half``: store the floating-point weights as float16, half the bytes of a shipped file.
    ``load_state_dict`` copies them into the model's float32 parameters, so loading is unchanged;
    the weights are rounded to fp16 (a relative error of at most 2^-11), so measure the exported file,
    not the checkpoint. The manifest says ``"weights_dtype"``."""
    from .training import History, read_checkpoint

    ckpt = read_checkpoint(checkpoint)
    state = ckpt["model"]
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {"format": PRETRAINED_FORMAT, "model_class": ckpt["model_class"], "model_config": ckpt["model_config"],
               "state_dict": state, "step": ckpt["step"]}
    atomic_save(payload, path)
    losses = History.from_state(ckpt["history"]).losses
    final = {k: round(sum(v[-100:]) / len(v[-100:]), 4) for k, v in losses.items() if len(v)}
    return record(path, {**entry, "steps": ckpt["step"], "model_class": ckpt["model_class"],
                         "weights_dtype": "float16" if half else "float32",
                         "model_config": ckpt["model_config"], "train_seconds": round(float(ckpt["elapsed"]), 1),
                         "final_losses_mean_last_100": final})


def _model_classes() -> dict[str, type]:
    from .models.encgan3 import EncGAN3, EncGAN3Config
    from .models.fevgan import FEVGAN, FEVGANConfig
    from .models.rencgan3 import REncGAN3, REncGAN3Config
    from .models.vicegan import VICEGAN, VICEGANConfig

    return {"EncGAN3": (EncGAN3, EncGAN3Config), "REncGAN3": (REncGAN3, REncGAN3Config),
            "FEVGAN": (FEVGAN, FEVGANConfig), "VICEGAN": (VICEGAN, VICEGANConfig)}


def load_model_file(path: str | os.PathLike, expected_class: str | None = None):
    """Load an exported model file (any path); the model comes back in eval mode on the CPU."""
    path = Path(path)
    verify(path)
    payload = safe_load(path, "pretrained model")
    if not isinstance(payload, dict) or payload.get("format") != PRETRAINED_FORMAT:
        raise ValueError(f"{path} is not an exported vgan_lesson model (no {PRETRAINED_FORMAT!r} marker); a training "
                         f"checkpoint loads with vgan_lesson.training.load_checkpoint")
    classes = _model_classes()
    name = str(payload["model_class"]).rsplit(".", 1)[-1]         # stored qualified: vgan_lesson.models....
    if expected_class is not None and name != expected_class:
        raise ValueError(f"{path} holds a {name}, expected a {expected_class}")
    if name not in classes:
        raise ValueError(f"{path} holds a {name}; this version loads {sorted(classes)}")
    cls, config_cls = classes[name]
    model = cls(config_cls(**payload["model_config"]))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path} does not fit {name} with its stored config: {err}") from err
    return model.eval()


def available(kind: str | None = None) -> list[str]:
    """Names of the shipped files that are present (``kind``: ``"model"``, ``"evaluator"`` or all)."""
    names = []
    for name, recipe in RECIPES.items():
        if (kind is None or recipe.kind == kind) and (checkpoint_dir() / recipe.file).exists():
            names.append(name)
    return names


def _recipe(name: str, kind: str) -> Recipe:
    names = [n for n, r in RECIPES.items() if r.kind == kind]
    check_choice(f"pretrained {kind}", name, names)
    recipe = RECIPES[name]
    path = checkpoint_dir() / recipe.file
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; it is made by: python -m vgan_lesson pretrain {name}")
    return recipe


def load_pretrained(model: str, dataset: str | None = None):
    """A shipped model in eval mode: ``load_pretrained("encgan3", "shapes")`` or ``load_pretrained("g3an_faces")``."""
    name = model if dataset is None else f"{model}_{dataset}"
    recipe = _recipe(name, "model")
    return load_model_file(checkpoint_dir() / recipe.file)


def load_pretrained_evaluator(dataset: str, kind: str):
    """A shipped evaluator in eval mode, e.g. ``load_pretrained_evaluator("faces", "identity")``."""
    from .evaluators import load_evaluator

    recipe = _recipe(f"evaluator_{dataset}_{kind}", "evaluator")
    return load_evaluator(checkpoint_dir() / recipe.file)


def manifest_entry(name: str) -> dict[str, Any]:
    """The manifest entry of a shipped file, by recipe name (command, seed, commit, steps, scores, ...)."""
    check_choice("pretrained name", name, list(RECIPES))
    path = checkpoint_dir() / RECIPES[name].file
    entry = read_manifest(path.parent).get(path.stem)
    if entry is None:
        raise FileNotFoundError(f"no manifest entry for {name} in {path.parent / MANIFEST}")
    return entry


# --------------------------------------------------------------------------------------------------
# the ``pretrain`` command
# --------------------------------------------------------------------------------------------------

def pretrain_one(name: str, out: str | os.PathLike | None = None, work: str | os.PathLike = "runs/pretrain",
                 steps: int | None = None, threads: int | None = None, export_only: bool = False) -> dict[str, Any]:
    """Train the recipe ``name`` (``steps`` overrides the recipe's) and export it into ``out``
    (default :func:`checkpoint_dir`). A model run lives in ``work/<name>`` and resumes from there;
    ``export_only`` exports the newest checkpoint there without training further (a run stopped
    by a time limit). The manifest's command always reproduces the exported step exactly: training
    has no schedule, so the first ``N`` steps of a longer run are the run of ``N`` steps."""
    check_choice("recipe", name, list(RECIPES))
    recipe = RECIPES[name]
    out = Path(out) if out is not None else checkpoint_dir()
    steps = recipe.steps if steps is None else steps
    entry = {"seed": recipe.seed, "commit": git_commit(), "batch_size": recipe.batch_size, "machine": machine(),
             "recipe": name, "dataset": recipe.dataset}
    if recipe.kind == "identity_encoder":
        from .models.fevgan import FEVGANConfig, pretrain_identity_encoder

        if export_only:
            raise ValueError(f"{name} trains in one go, there is nothing to export")
        return pretrain_identity_encoder(out / FOLDERS["identity_encoder"], FEVGANConfig.lesson(**recipe.overrides),
                                         steps=steps, batch_size=recipe.batch_size, seed=recipe.seed,
                                         entry={**entry, "command": _command_line(name, threads, steps, recipe.steps)})
    if recipe.kind == "autoencoder":
        from .models.vicegan import AutoencoderConfig, pretrain_autoencoder

        if export_only:
            raise ValueError(f"{name} trains in one go, there is nothing to export")
        kind, architecture = recipe.model.split("_")
        return pretrain_autoencoder(out / FOLDERS["autoencoder"],
                                    AutoencoderConfig.lesson(kind=kind, architecture=architecture, **recipe.overrides),
                                    steps=steps, batch_size=recipe.batch_size, seed=recipe.seed,
                                    entry={**entry, "command": _command_line(name, threads, steps, recipe.steps)})
    if recipe.kind == "evaluator":
        from .evaluators import train_evaluator

        if export_only:
            raise ValueError(f"{name} is an evaluator: it trains in one go, there is nothing to export")
        return train_evaluator(recipe.dataset, recipe.model, out / FOLDERS["evaluator"], steps=steps,
                               batch_size=recipe.batch_size, seed=recipe.seed,
                               entry={**entry, "command": _command_line(name, threads, steps, recipe.steps)},
                               **recipe.overrides)

    from .__main__ import build_model, training_frames
    from .data import make_dataset
    from .training import TrainConfig, latest_checkpoint, read_checkpoint, train

    model = build_model(recipe.model, "lesson", seed=recipe.seed, **recipe.overrides)
    c = model.config
    data = make_dataset(recipe.dataset, split="train", size=c.size, frames=training_frames(c), seed=recipe.seed)
    run_dir = Path(work) / name
    if not export_only:
        config = TrainConfig(steps=steps, batch_size=recipe.batch_size, seed=recipe.seed, device="cpu",
                             out_dir=str(run_dir), progress=False, log_every=50, sample_every=250,
                             checkpoint_every=250, keep_last=2)
        train(model, data, config, resume=latest_checkpoint(run_dir) is not None, callbacks=[])
    last = latest_checkpoint(run_dir)
    if last is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir / 'checkpoints'} to export")
    reached = int(read_checkpoint(last)["step"])
    return export_model(last, out / recipe.file, half=recipe.half, **entry, model=recipe.model, scale="lesson",
                        data=data.describe(),
                        command=_command_line(name, threads, reached, recipe.steps))


def pretrain(names: list[str] | None = None, jobs: int = 1, threads: int | None = None,
             out: str | os.PathLike | None = None, work: str | os.PathLike = "runs/pretrain",
             steps: int | None = None, export_only: bool = False) -> None:
    """Run recipes (all by default), ``jobs`` at a time in subprocesses with ``threads`` torch threads each."""
    names = list(RECIPES) if not names else names
    for name in names:
        check_choice("recipe", name, list(RECIPES))
    names = in_dependency_order(names)
    if jobs <= 1:
        if threads:
            torch.set_num_threads(threads)
        for name in names:
            t0 = time.perf_counter()
            entry = pretrain_one(name, out, work, steps=steps, threads=threads, export_only=export_only)
            scores = entry.get("held_out") or entry.get("final_losses_mean_last_100")
            print(f"{name}: {entry['file']} ({entry['bytes'] / 1e6:.2f} MB) in {time.perf_counter() - t0:.0f} s; "
                  f"{scores}", flush=True)
        return
    pending, running, failed = list(names), [], []
    while pending or running:
        for name in [n for n in pending if set(RECIPES[n].needs) & set(failed)]:
            pending.remove(name)                    # what it trains against failed: do not start it
            failed.append(name)
        busy = {n for n, _ in running} | set(pending)
        while len(running) < jobs:
            ready = [n for n in pending if not set(RECIPES[n].needs) & (busy - {n})]
            if not ready:
                break
            name = ready[0]
            pending.remove(name)
            cmd = [sys.executable, "-m", "vgan_lesson", "pretrain", name, "--work", str(work)]
            cmd += ["--threads", str(threads)] if threads else []
            cmd += ["--out", str(out)] if out is not None else []
            cmd += ["--steps", str(steps)] if steps is not None else []
            cmd += ["--export-only"] if export_only else []
            running.append((name, subprocess.Popen(cmd)))
        time.sleep(1)
        for item in list(running):
            if item[1].poll() is not None:
                running.remove(item)
                if item[1].returncode != 0:
                    failed.append(item[0])
    if failed:
        raise RuntimeError(f"pretrain failed for {failed} (their output is above)")


def in_dependency_order(names: list[str]) -> list[str]:
    """``names`` reordered so that every recipe comes after the recipes it ``needs`` (that are among them)."""
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ValueError(f"recipes need each other in a cycle: {' -> '.join(path + (name,))}")
        if name in ordered:
            return
        for need in RECIPES[name].needs:
            if need in names:
                visit(need, path + (name,))
        ordered.append(name)

    for name in names:
        visit(name, ())
    return ordered


def _command_line(name: str, threads: int | None, steps: int, recipe_steps: int) -> str:
    parts = ["python", "-m", "vgan_lesson", "pretrain", name]
    parts += ["--threads", str(threads)] if threads else []
    parts += ["--steps", str(steps)] if steps != recipe_steps else []
    return shlex.join(parts)
