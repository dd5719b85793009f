"""Scoring video generators with the package's evaluators (EncGAN3 Tables 1–4 on our data).

One call gives every number the EncGAN3 paper reports for a generator, measured with the shipped
evaluators (:mod:`vgan_lesson.evaluators`) instead of Inception / C3D:

* ``fid`` — Fréchet distance between frame-evaluator features of real and generated **frames**;
* ``fvd`` — Fréchet distance between video-evaluator features of real and generated **clips**
  (the papers' "FID" on video features, EncGAN3 Tables 1, 3, 4);
* ``is``, ``h_y``, ``h_y_given_x`` — Inception Score of the video evaluator's class probabilities and
  its two components (EncGAN3 Table 2: high H(y) = diverse, low H(y|x) = each clip clearly one class).

:func:`disentanglement` measures (beyond the papers) whether content and motion codes really
separate: generate from the content code of clip A and the motion code of clip B and ask the
evaluators whether A's content and B's motion survive.
"""
from __future__ import annotations

from typing import Any

import torch

from .checks import check_choice, check_int, check_video
from .metrics import extract, frechet_distance, inception_score

Tensor = torch.Tensor

MODES = ("prior", "encoded")


@torch.no_grad()
def generate(model, n: int, mode: str = "prior", real: Tensor | None = None, seed: int = 0,
             batch_size: int = 64) -> Tensor:
    """``n`` clips from an EncGAN3/G3AN ``model``: from prior noise (``"prior"``, EncGAN3 (G)) or from
    the codes of the ``real`` clips (``"encoded"``, EncGAN3 (Enc+G): the posterior means, no noise)."""
    check_choice("mode", mode, MODES)
    check_int("n", n, minimum=1)
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    out = []
    if mode == "prior":
        for start in range(0, n, batch_size):
            z_x, z_v = model.prior(min(batch_size, n - start), g)
            out.append(model.generate(z_x.to(device), z_v.to(device)).float().cpu())
        return torch.cat(out)
    if not getattr(model.config, "use_encoder", False):
        raise ValueError(f"mode 'encoded' needs a model with an encoder; this {model.config.name} has none")
    if real is None or len(real) < n:
        raise ValueError(f"mode 'encoded' needs at least n={n} real clips, got {0 if real is None else len(real)}")
    check_video(real, "real", batched=True)
    for start in range(0, n, batch_size):
        post = model.encode(real[start:min(start + batch_size, n)].to(device))
        out.append(model.generate(post.mu_x, post.mu_v).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def video_scores(fake: Tensor, real: Tensor, frame_evaluator, video_evaluator, target: str = "label") -> dict[str, float]:
    """FID (frames), FVD (clips) and the Inception Score with H(y), H(y|x) of ``fake`` against ``real``."""
    check_video(fake, "fake", batched=True)
    check_video(real, "real", batched=True)
    scores: dict[str, float] = {}
    if frame_evaluator is not None:
        ff = extract(frame_evaluator.features, fake).view(-1, frame_evaluator.config.feature_dim)
        fr = extract(frame_evaluator.features, real).view(-1, frame_evaluator.config.feature_dim)
        scores["fid"] = frechet_distance(ff, fr)
    if video_evaluator is not None:
        scores["fvd"] = frechet_distance(extract(video_evaluator.features, fake),
                                         extract(video_evaluator.features, real))
        probs = extract(lambda v: video_evaluator.probabilities(v, target), fake)
        s = inception_score(probs)
        scores.update({"is": s["is"], "h_y": s["h_y"], "h_y_given_x": s["h_y_given_x"]})
    return scores


@torch.no_grad()
def content_steadiness(videos: Tensor, frame_evaluator, batch_size: int = 64) -> dict[str, Any]:
    """Does each clip keep its content from frame to frame? (Beyond the papers: the "recognisable moving
    shapes and faces" of a trained model, measured.)

    The frame evaluator reads every frame's content factors with its classification heads (``shapes``:
    shape, colour and background; ``faces``: hair style and colour, skin tone, glasses, beard; heads that
    regress, as ``dancer``'s, are skipped). For each clip and head, the share of frames read as the clip's
    most frequent class; ``content_steady`` averages it over clips and heads, ``per_head`` gives each
    head's. A real clip keeps its shape, colours and face: near 1 (the evaluator misreads a few frames,
    e.g. a shape half off the edge); clips whose frames come from different videos score far lower. It is
    not a realism score: a frozen clip scores 1, and the evaluator reads uniform noise as one steady
    colour and background (0.87 on ``shapes``, against 0.98 for real clips). Read it next to FID and FVD.
    The evaluator's confidence is not used: it is about as high on noise as on real frames.
    """
    videos = check_video(videos, "videos", batched=True)
    if frame_evaluator.config.kind != "frame":
        raise ValueError(f"content_steadiness needs a frame evaluator, got kind {frame_evaluator.config.kind!r}")
    heads = [name for name, spec in frame_evaluator.config.targets.items() if isinstance(spec, int)]
    if not heads:
        raise ValueError(f"the frame evaluator has no classification head (targets "
                         f"{sorted(frame_evaluator.config.targets)} are all regressed)")
    classes: dict[str, list[Tensor]] = {name: [] for name in heads}
    for i in range(0, len(videos), batch_size):
        logits = frame_evaluator.logits(videos[i:i + batch_size])
        for name in heads:
            classes[name].append(logits[name].argmax(-1))                   # (n, T)
    per_head = {}
    for name in heads:
        c = torch.cat(classes[name])
        majority = c.mode(dim=1).values                                     # (N,)
        per_head[name] = float((c == majority[:, None]).float().mean())
    return {"content_steady": sum(per_head.values()) / len(heads), "per_head": per_head}


@torch.no_grad()
def disentanglement(model, videos: Tensor, factors: dict[str, Tensor], frame_evaluator, video_evaluator,
                    content_targets: tuple[str, ...], motion_target: str = "label", seed: int = 0) -> dict[str, Any]:
    """Swap codes between clips and check what survives (beyond the papers).

    Clip ``i`` gets the content code of ``videos[i]`` and the motion code of ``videos[p(i)]`` for a
    seeded derangement ``p``. ``content_kept`` is how often the frame evaluator still reads clip i's
    content factors (averaged over ``content_targets``), ``motion_transferred`` how often the video
    evaluator reads clip p(i)'s motion class. ``content_reconstructed`` / ``motion_reconstructed``
    are the same rates without the swap (the ceiling the swap can reach), and ``chance`` the rates of
    guessing. A model whose motion code also carries content (or the other way round) keeps the
    wrong one.
    """
    check_video(videos, "videos", batched=True)
    n = len(videos)
    if n < 2:
        raise ValueError(f"disentanglement needs at least 2 clips, got {n}")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    perm = torch.where(perm == torch.arange(n), (perm + 1) % n, perm)   # nobody keeps their own motion
    model.eval()
    device = next(model.parameters()).device
    post = model.encode(videos.to(device))
    swapped = model.generate(post.mu_x, post.mu_v[perm.to(device)]).float().cpu()
    recon = model.generate(post.mu_x, post.mu_v).float().cpu()

    def content_rate(clips: Tensor) -> float:
        logits = frame_evaluator.logits(clips)
        rates = [(logits[t].mean(1).argmax(-1) == factors[t].long()).float().mean() for t in content_targets]
        return float(torch.stack(rates).mean())

    def motion_rate(clips: Tensor, wanted: Tensor) -> float:
        return float((video_evaluator.logits(clips)[motion_target].argmax(-1) == wanted.long()).float().mean())

    labels = factors[motion_target]
    k = video_evaluator.config.targets[motion_target]
    chance_c = sum(1 / frame_evaluator.config.targets[t] for t in content_targets) / len(content_targets)
    return {"content_kept": content_rate(swapped), "motion_transferred": motion_rate(swapped, labels[perm]),
            "content_reconstructed": content_rate(recon), "motion_reconstructed": motion_rate(recon, labels),
            "chance_content": chance_c, "chance_motion": 1 / k, "clips": n}


def markdown_table(rows: dict[str, dict[str, Any]], columns: list[str], digits: int = 2,
                   label: str = "model") -> str:
    """A Markdown table of ``rows`` (name -> {column: value}); missing values show as an en dash."""
    def fmt(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:.{digits}f}"
        return str(v)

    lines = ["| " + " | ".join([label, *columns]) + " |", "|" + "---|" * (len(columns) + 1)]
    for name, row in rows.items():
        lines.append("| " + " | ".join([name, *(fmt(row.get(c)) for c in columns)]) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# EncGAN3 Tables 1–4 on our data (lesson 03 and benchmarks/reproduce.py)
# --------------------------------------------------------------------------------------------------

SCORE_COLUMNS = ["fid", "fvd", "is", "h_y", "h_y_given_x"]

#: The columns of :func:`encgan3_report`'s table: the scores, then whether each clip keeps its content
#: from frame to frame (:func:`content_steadiness`).
ENCGAN3_COLUMNS = SCORE_COLUMNS + ["content_steady"]

#: The EncGAN3 claims we check: (table, claim, rows compared, column, "lower"/"higher" is better).
#: The verdict is computed from our measured rows; the paper's own figures (UvA-NEMO) are quoted.
ENCGAN3_CLAIMS = [
    ("Table 1", "EncGAN3 has a lower video FID than G3AN (UvA 87.63 vs 91.77)",
     ("EncGAN3 (Enc+G)", "G3AN"), "fvd", "lower"),
    ("Table 2", "EncGAN3 has a higher IS than G3AN (UvA 571.29 vs 85.44)", ("EncGAN3 (G)", "G3AN"), "is", "higher"),
    ("Table 2", "EncGAN3 has a lower H(y|x) than G3AN (UvA 0.151 vs 1.593)",
     ("EncGAN3 (G)", "G3AN"), "h_y_given_x", "lower"),
    ("Table 3", "EncGAN3 (Enc+G) beats EncGAN3 (G) (UvA 87.16 vs 93.65)",
     ("EncGAN3 (Enc+G)", "EncGAN3 (G)"), "fvd", "lower"),
    ("Table 3", "F-SA helps G3AN (UvA 91.77 vs 95.47)", ("G3AN", "G3AN w/o F-SA"), "fvd", "lower"),
    ("Table 3", "F-SA helps EncGAN3 (Enc+G) (UvA 87.16 vs 87.52)",
     ("EncGAN3 (Enc+G)", "EncGAN3 w/o F-SA (Enc+G)"), "fvd", "lower"),
    ("Table 4", "G_S helps (UvA 87.16 vs 88.06)", ("EncGAN3 (Enc+G)", "no G_S (Enc+G)"), "fvd", "lower"),
    ("Table 4", "G_T helps (UvA 87.16 vs 90.71)", ("EncGAN3 (Enc+G)", "no G_T (Enc+G)"), "fvd", "lower"),
    ("Table 4", "G_S and G_T together help (UvA 87.16 vs 95.50)",
     ("EncGAN3 (Enc+G)", "no G_S, G_T (Enc+G)"), "fvd", "lower"),
]


def _claim_side(rows: dict[str, dict[str, float]], names: str | tuple[str, ...], column: str,
                lower_wins: bool, extreme: str | None) -> tuple[str, float] | None:
    """One side of a claim: a row name, or a tuple of row names aggregated by their mean (``extreme=None``)
    or by their ``"worst"`` / ``"best"`` value (``lower_wins`` says which direction is better).
    ``None`` when a row or its value is missing."""
    if isinstance(names, str):
        value = rows.get(names, {}).get(column)
        return None if value is None else (names, value)
    values = [rows.get(name, {}).get(column) for name in names]
    if any(v is None for v in values):
        return None
    if extreme is None:
        return "mean of " + ", ".join(names), sum(values) / len(values)
    pick = min if (extreme == "best") == lower_wins else max
    return f"{extreme} of " + ", ".join(names), pick(values)


def check_claims(rows: dict[str, dict[str, float]], claims=ENCGAN3_CLAIMS,
                 missing: str | None = None) -> list[dict[str, Any]]:
    """Each claim whose rows were measured, with both values and a computed verdict.

    A claim is ``(table, text, (ours, theirs), column, better)`` with ``better`` ``"lower"`` or ``"higher"``:
    the claim holds when ``ours`` is strictly better than ``theirs`` in ``column`` (a tie is not a win).
    A side may be a tuple of row names: their mean is compared; with a sixth element ``"each"`` every row
    of ``ours`` must beat every row of ``theirs`` (the worst of ours is compared with the best of theirs).
    A claim that names a row (or a column) not in ``rows`` is left out, or — with ``missing`` set
    (e.g. ``"not run"``) — listed with that verdict and no values, so a report says what it did not test."""
    out = []
    for table, text, (ours, theirs), column, better, *mode in claims:
        each = bool(mode) and mode[0] == "each"
        a = _claim_side(rows, ours, column, better == "lower", "worst" if each else None)
        b = _claim_side(rows, theirs, column, better == "lower", "best" if each else None)
        if a is None or b is None:
            if missing is not None:
                out.append({"table": table, "claim": text, "column": column, "verdict": missing})
            continue
        held = a[1] < b[1] if better == "lower" else a[1] > b[1]
        out.append({"table": table, "claim": text, "column": column, a[0]: a[1], b[0]: b[1],
                    "verdict": "reproduced" if held else "not reproduced"})
    return out


def encgan3_report(dataset: str = "shapes", num_eval: int = 256, seed: int = 0, ablation_steps: int = 0,
                   batch_size: int = 16, device: str | None = None, extra: dict | None = None) -> dict[str, Any]:
    """EncGAN3 Tables 1–4 on ``dataset`` at lesson scale.

    The shipped G3AN and EncGAN3 are scored from prior noise ("(G)") and EncGAN3 also from the codes
    of held-out clips ("(Enc+G)"), against ``num_eval`` held-out clips, with the shipped evaluators;
    a second held-out set gives the "real clips" reference. With ``ablation_steps > 0`` every variant
    of Tables 3 and 4 (:func:`vgan_lesson.models.encgan3.ablation_configs`) is trained from scratch for
    that many steps (same data, seed and budget for each) and scored the same way; those rows
    replace the shipped ones, so each claim compares models of one budget. ``extra`` adds models
    (name -> model) scored from prior noise. Every row also says whether its clips keep their content
    from frame to frame (``content_steady``, :func:`content_steadiness`).
    Returns ``rows``, ``claims`` (see :func:`check_claims`) and the settings.
    """
    from .data import make_dataset
    from .models.encgan3 import EncGAN3, ablation_configs, reconstruction_settings
    from .pretrained import load_pretrained, load_pretrained_evaluator
    from .training import TrainConfig, seeded_rng, train

    frame_eval = load_pretrained_evaluator(dataset, "frame")
    video_eval = load_pretrained_evaluator(dataset, "video")
    size, frames = video_eval.config.size, video_eval.config.frames
    real = make_dataset(dataset, "test", size=size, frames=frames, seed=seed).batch(range(num_eval))["video"]
    other = make_dataset(dataset, "test", size=size, frames=frames, seed=seed + 1).batch(range(num_eval))["video"]

    def score(videos: Tensor) -> dict[str, float]:
        return {**video_scores(videos, real, frame_eval, video_eval),
                "content_steady": content_steadiness(videos, frame_eval)["content_steady"]}

    def add(rows: dict, name: str, model) -> None:
        if not model.config.use_encoder:                 # G3AN variants: noise is the only way in
            rows[name] = score(generate(model, num_eval, seed=seed))
            return
        rows[f"{name} (G)"] = score(generate(model, num_eval, seed=seed))
        rows[f"{name} (Enc+G)"] = score(generate(model, num_eval, "encoded", real=other))

    rows: dict[str, dict[str, float]] = {"real clips (reference)": score(other)}
    if ablation_steps:
        train_set = make_dataset(dataset, "train", size=size, frames=frames, seed=seed)
        for name, cfg in ablation_configs("lesson", **reconstruction_settings(dataset)).items():
            with seeded_rng(seed):                               # the same start for every run of a variant
                model = EncGAN3(cfg)
            train(model, train_set, TrainConfig(steps=ablation_steps, batch_size=batch_size, seed=seed,
                                                device=device, out_dir=None, progress=False, sample_every=0),
                  callbacks=[])
            add(rows, name, model.cpu())
    else:
        add(rows, "G3AN", load_pretrained("g3an", dataset))
        add(rows, "EncGAN3", load_pretrained("encgan3", dataset))
    for name, model in (extra or {}).items():
        rows[name] = score(generate(model, num_eval, seed=seed))
    return {"dataset": dataset, "num_eval": num_eval, "seed": seed, "ablation_steps": ablation_steps,
            "rows": rows, "claims": check_claims(rows)}


# --------------------------------------------------------------------------------------------------
# REncGAN3 Tables 1–2, Fig. 2–3 and the recall claims on our data (lesson 05 and benchmarks/reproduce.py)
# --------------------------------------------------------------------------------------------------

#: The REncGAN3 claims we check, in the format of :data:`ENCGAN3_CLAIMS`. "EncGAN3" is the Enc_G
#: variant: the same networks and data trained with EncGAN3's separate Enc and G updates — EncGAN3
#: on ``dancer``. The paper's figures are quoted (UvA-NEMO for the tables).
RENCGAN3_CLAIMS = [
    ("Table 1", "REncGAN3 has a lower video FID than EncGAN3 (UvA 73.14 vs 87.63)",
     ("REncGAN3 (G)", "EncGAN3 = REncGAN3 (Enc_G) (G)"), "fvd", "lower"),
    ("Table 2", "REncGAN3 is less diverse: lower H(y) than EncGAN3 (UvA 4.656 vs 6.499)",
     ("REncGAN3 (G)", "EncGAN3 = REncGAN3 (Enc_G) (G)"), "h_y", "lower"),
    ("Table 2", "REncGAN3 has a higher H(y|x) than EncGAN3 (UvA 0.190 vs 0.151)",
     ("REncGAN3 (G)", "EncGAN3 = REncGAN3 (Enc_G) (G)"), "h_y_given_x", "higher"),
    ("Fig. 2", "REncGAN3's long videos are better than REncGAN3 (Enc_G)'s (shown, not measured, in the paper)",
     ("REncGAN3 (long)", "REncGAN3 (Enc_G) (long)"), "fvd", "lower"),
    ("Sec. 3", "the recall chain's joins are smaller than those of independent clips glued together",
     ("REncGAN3 (long)", "independent clips, glued"), "seam_ratio", "lower"),
    ("Sec. 5", "a long video stays consistent: along the chain its look (mean colour) changes less than along "
               "independent clips glued together", ("REncGAN3 (long)", "independent clips, glued"), "look_change",
     "lower"),
]

#: The columns of :func:`rencgan3_report`'s table: the scores, then the long-video measurements.
RENCGAN3_COLUMNS = SCORE_COLUMNS + ["seam_ratio", "look_change", "repeat_ratio", "code_growth"]

#: Fig. 3 is checked against a stated tolerance: the video FID of the last 16-frame clip of the long
#: videos may be at most this factor above that of the first clip ("quality consistency").
QUALITY_TOLERANCE = 1.25


@torch.no_grad()
def rencgan3_report(num_eval: int = 256, length: int = 128, seed: int = 0, models: dict | None = None) -> dict[str, Any]:
    """REncGAN3 Tables 1–2, Fig. 2–3 and the recall claims on ``dancer`` at lesson scale.

    ``models`` (default: the shipped ``rencgan3_dancer`` and ``rencgan3_encg_dancer``) maps
    ``"REncGAN3"`` and ``"REncGAN3 (Enc_G)"`` to models. For each: ``num_eval`` clips from prior noise
    ("(G)", the paper's 16-frame evaluation of Tables 1–2) and ``num_eval`` long videos of ``length``
    frames from the recall chain (Eq. 1), scored on their last whole 16-frame clip ("(long)") and
    along their length (Fig. 3, :func:`vgan_lesson.longvideo.quality_over_length`); the joins of the
    chain against independently generated clips glued together and against real long videos
    (:func:`vgan_lesson.longvideo.long_video_seams`); and how close the motion comes to repeating
    (:func:`vgan_lesson.longvideo.repetition` on frame-evaluator features, against real dancers);
    whether each long video keeps its look (``look_change``: how far the mean colour of the last link
    has moved from the first's, over the distance between two videos, :func:`vgan_lesson.longvideo.look_change`;
    near 0 for real dancers, about 1 for glued independent clips); and whether the chain's content codes
    drift (``code_growth``: the last link's code norm over the first's, :func:`vgan_lesson.longvideo.chain_drift`).
    Returns ``rows`` (scores per model, with ``seam_ratio``, ``repeat_ratio``, ``look_change`` and ``code_growth``), ``quality``
    (per-position FVD), ``claims`` (with computed verdicts) and the settings.
    """
    from .data import make_dataset
    from .longvideo import (chain_drift, concatenate_independent, long_video_seams, look_change, quality_over_length,
                            repetition)
    from .pretrained import load_pretrained, load_pretrained_evaluator

    check_int("num_eval", num_eval, minimum=2)
    frame_eval = load_pretrained_evaluator("dancer", "frame")
    video_eval = load_pretrained_evaluator("dancer", "video")
    size, clip = video_eval.config.size, video_eval.config.frames
    check_int("length", length, minimum=2 * clip)
    if models is None:
        models = {"REncGAN3": load_pretrained("rencgan3", "dancer"),
                  "REncGAN3 (Enc_G)": load_pretrained("rencgan3_encg", "dancer")}
    real = make_dataset("dancer", "test", size=size, frames=clip, seed=seed).batch(range(num_eval))["video"]
    other = make_dataset("dancer", "test", size=size, frames=clip, seed=seed + 1).batch(range(num_eval))["video"]
    real_long = make_dataset("dancer", "test", size=size, frames=length, seed=seed + 2,
                             num_clips=min(num_eval, 64)).batch(range(min(num_eval, 64)))["video"]
    last = (length // clip - 1) * clip                   # the last whole non-overlapping clip

    def score(videos: Tensor) -> dict[str, float]:
        return video_scores(videos, real, frame_eval, video_eval)

    def repeat_ratio(videos: Tensor) -> float:
        feats = extract(frame_eval.features, videos[:8]).view(min(8, len(videos)), videos.shape[2], -1)
        window = min(32, videos.shape[2] // 4)           # two non-overlapping windows with room to slide
        return sum(repetition(f, window=window)["ratio"] for f in feats) / len(feats)

    strides = {model.config.stride for model in models.values()}
    if len(strides) != 1:
        raise ValueError(f"the models must join their clips at the same stride to share the real videos' seam "
                         f"reference, got strides {sorted(strides)}")
    rows: dict[str, dict[str, float]] = {"real clips (reference)": score(other)}
    # real videos have no joins: their "seams" are the frames where the models' chains join (every stride)
    stride = strides.pop()
    rows["real clips (reference)"].update(seam_ratio=long_video_seams(real_long, stride)["ratio"],
                                          repeat_ratio=repeat_ratio(real_long),
                                          look_change=look_change(real_long, stride)["ratio"])
    quality: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        model.eval()
        label = "EncGAN3 = REncGAN3 (Enc_G)" if name == "REncGAN3 (Enc_G)" else name
        rows[f"{label} (G)"] = score(generate(model, num_eval, seed=seed))
        long = torch.cat([model.long_video(min(64, num_eval - s), length, torch.Generator().manual_seed(seed + s))
                          for s in range(0, num_eval, 64)])
        rows[f"{name} (long)"] = {**score(long[:, :, last:last + clip]),
                                  "seam_ratio": long_video_seams(long, stride)["ratio"],
                                  "repeat_ratio": repeat_ratio(long),
                                  "look_change": look_change(long, stride)["ratio"],
                                  "code_growth": chain_drift(model, links=-(-length // stride),
                                                             n=min(num_eval, 32), seed=seed)["growth"]}
        quality[name] = quality_over_length(long, real, video_eval, clip_len=clip)
        if name == "REncGAN3":                                    # the naive alternative, same joins
            links, count = -(-length // stride), min(num_eval, 64)
            clips = generate(model, count * links, seed=seed + 1).view(count, links, *real.shape[1:])
            glued = concatenate_independent(clips, stride)[:, :, :length]
            rows["independent clips, glued"] = {"seam_ratio": long_video_seams(glued, stride)["ratio"],
                                                "look_change": look_change(glued, stride)["ratio"]}
    claims = check_claims(rows, RENCGAN3_CLAIMS)
    if "REncGAN3" in quality:
        fvd = quality["REncGAN3"]["fvd"]
        growth = fvd[-1] / fvd[0] if fvd[0] > 0 else float("inf")
        claims.append({"table": "Fig. 3", "column": "fvd",
                       "claim": f"quality holds over {length} frames: the last clip's video FID is within "
                                f"{QUALITY_TOLERANCE}x of the first's (the paper's curves stay level)",
                       "first clip": fvd[0], "last clip": fvd[-1], "growth": growth,
                       "verdict": "reproduced" if growth <= QUALITY_TOLERANCE else "not reproduced"})
    return {"dataset": "dancer", "num_eval": num_eval, "length": length, "seed": seed, "rows": rows,
            "quality": quality, "claims": claims}


# --------------------------------------------------------------------------------------------------
# FEV-GAN Tables 1 and 3 on our data (lesson 06 and benchmarks/reproduce.py)
# --------------------------------------------------------------------------------------------------

#: The columns of :func:`fevgan_report`: Table 1's four metrics, then two beyond the paper.
FEVGAN_COLUMNS = ["psnr", "ssim", "acd", "acd_i", "cas", "identity_kept"]

#: What each column of :func:`fevgan_report` measures, and with which network (printed by the lesson and
#: the benchmark beside the numbers: the metric traps of REFERENCE_FACTS.md).
FEVGAN_METRICS = {
    "psnr": "dB on [0, 1] pixels of the generated clip against the real clip of the same face and label, per frame "
            "then averaged (Table 1; higher is better)",
    "ssim": "Wang et al.'s SSIM (Gaussian window sigma 1.5, data range 1) of the same frame pairs, per frame then "
            "averaged (Table 1; higher is better)",
    "acd": "mean L2 distance between the identity features of CONSECUTIVE frames of a generated clip (the paper's "
           "definition; lower: a steadier face; a frozen picture scores 0)",
    "acd_i": "mean L2 distance between the identity features of every generated frame and those of the input face "
             "(lower: the input identity is kept)",
    "cas": "share of generated clips that the shipped faces video evaluator classifies as the requested expression "
           "(beyond Table 1; the real-clip row is the evaluator's own accuracy)",
    "identity_kept": "share of generated frames verified as the input person: cosine similarity of identity features "
                     "at or above a threshold calibrated on training identities (beyond the paper; held-out "
                     "identities only)",
    "embedder": "identity features: the package's MEASURING identity evaluator (checkpoints/evaluators/"
                "faces_identity.pt: seed 0, width 24, 64-d, L2-normalised; the paper uses OpenFace), never FEV-GAN's "
                "own frozen E_Id (identity_encoders/faces_identity.pt: seed 1, width 16), so the model is not graded "
                "with the features it was trained to match. Unit-norm features put distances in [0, 2]: compare "
                "rows, not our values with the paper's.",
}

#: The FEV-GAN claims we check, in the format of :data:`ENCGAN3_CLAIMS`; the paper's figures are its
#: MUG results (Table 3: full 27.10 / 0.91 / 0.09 / 0.23, w/o E_s 25.44 / 0.90 / 0.11 / 0.34,
#: w/o E_Id 19.71 / 0.69 / 0.13 / 1.22 for PSNR / SSIM / ACD / ACD-I).
FEVGAN_CLAIMS = [
    ("Table 3", "the full model has a higher PSNR than w/o E_s (MUG 27.10 vs 25.44)",
     ("FEV-GAN", "FEV-GAN w/o E_s"), "psnr", "higher"),
    ("Table 3", "the full model has a higher SSIM than w/o E_s (MUG 0.91 vs 0.90)",
     ("FEV-GAN", "FEV-GAN w/o E_s"), "ssim", "higher"),
    ("Table 3", "the full model has a lower ACD than w/o E_s (MUG 0.09 vs 0.11)",
     ("FEV-GAN", "FEV-GAN w/o E_s"), "acd", "lower"),
    ("Table 3", "the full model has a lower ACD-I than w/o E_s (MUG 0.23 vs 0.34)",
     ("FEV-GAN", "FEV-GAN w/o E_s"), "acd_i", "lower"),
    ("Table 3", "the full model has a higher PSNR than w/o E_Id (MUG 27.10 vs 19.71)",
     ("FEV-GAN", "FEV-GAN w/o E_Id"), "psnr", "higher"),
    ("Table 3", "the full model has a higher SSIM than w/o E_Id (MUG 0.91 vs 0.69)",
     ("FEV-GAN", "FEV-GAN w/o E_Id"), "ssim", "higher"),
    ("Table 3", "the full model has a lower ACD than w/o E_Id (MUG 0.09 vs 0.13)",
     ("FEV-GAN", "FEV-GAN w/o E_Id"), "acd", "lower"),
    ("Table 3", "the full model has a lower ACD-I than w/o E_Id (MUG 0.23 vs 1.22)",
     ("FEV-GAN", "FEV-GAN w/o E_Id"), "acd_i", "lower"),
    ("Table 3", "dropping E_Id costs more identity than dropping E_s: w/o E_Id has the higher ACD-I (MUG 1.22 vs 0.34)",
     ("FEV-GAN w/o E_Id", "FEV-GAN w/o E_s"), "acd_i", "higher"),
    ("Fig. 5", "the full model keeps the input identity more often than w/o E_Id (Fig. 5c: w/o E_Id 'totally "
               "lack[s] the identity preservation'; shown, not measured, in the paper)",
     ("FEV-GAN", "FEV-GAN w/o E_Id"), "identity_kept", "higher"),
]

#: The row names of :func:`fevgan_report` that are not models.
FEVGAN_REAL_ROW = "real clips (reference)"
FEVGAN_FROZEN_ROW = "input face, frozen (baseline)"


def _best_threshold(same: Tensor, other: Tensor) -> tuple[float, float]:
    """The similarity threshold that best separates ``same``-person scores from ``other``-person scores
    (balanced accuracy: same >= threshold, other < threshold), and that accuracy."""
    candidates = torch.cat([same, other]).unique()
    same, other = same.sort().values, other.sort().values
    kept = 1 - torch.searchsorted(same, candidates).double() / len(same)      # share of same >= c
    refused = torch.searchsorted(other, candidates).double() / len(other)       # share of other < c
    accuracy = (kept + refused) / 2
    best = int(accuracy.argmax())
    return float(candidates[best]), float(accuracy[best])


@torch.no_grad()
def _frame_vs_input_scores(identity_eval, split: str, size: int, frames: int, num: int,
                           seed: int) -> tuple[Tensor, Tensor]:
    """Cosine similarities of every later frame of ``num`` real clips of ``split`` with the clip's own
    first frame (same person) and with the first frame of a clip of another identity (other person)."""
    from .data import make_dataset

    data = make_dataset("faces", split, size=size, frames=frames, num_clips=num, seed=seed)
    batch = data.batch(range(num))
    features = extract(identity_eval.features, batch["video"]).view(num, frames, -1)
    first, later = features[:, 0], features[:, 1:]
    ident = batch["identity"]
    partner = torch.roll(torch.arange(num), 1)
    for i in range(num):                                  # the nearest earlier clip of another identity, cyclically
        step = 1
        while ident[partner[i]] == ident[i] and step < num:
            partner[i], step = (i - step - 1) % num, step + 1
    same = (later * first[:, None]).sum(-1).flatten()
    other = (later * first[partner][:, None]).sum(-1).flatten()
    return same, other


def identity_threshold(identity_eval, size: int = 32, frames: int = 16, num: int = 128,
                       seed: int = 0) -> dict[str, float]:
    """Calibrate the identity verification of :func:`fevgan_scores` on **training** identities.

    For ``num`` real training clips, every later frame is compared (cosine similarity of
    ``identity_eval``'s L2-normalised features) with the clip's own neutral first frame (same
    person, whatever the expression) and with the first frame of a clip of another identity; the
    threshold is the one that best separates the two (balanced accuracy). The same test on
    ``num`` held-out clips gives ``held_out_accuracy``: how far the verification itself can be trusted
    on faces it never saw. Returns ``threshold``, ``train_accuracy``, ``held_out_accuracy``.
    """
    check_int("num", num, minimum=2)
    threshold, train_acc = _best_threshold(*_frame_vs_input_scores(identity_eval, "train", size, frames, num, seed))
    same, other = _frame_vs_input_scores(identity_eval, "test", size, frames, num, seed + 1)
    held_out = float(((same >= threshold).double().mean() + (other < threshold).double().mean()) / 2)
    return {"threshold": threshold, "train_accuracy": train_acc, "held_out_accuracy": held_out}


@torch.no_grad()
def generate_from_faces(model, images: Tensor, labels: Tensor, batch_size: int = 64, seed: int = 0) -> Tensor:
    """Clips from a conditional model for neutral faces ``(N, C, H, W)`` and expression labels ``(N,)``, in
    eval mode, on the model's device, returned on the CPU. FEV-GAN: ``model.generate(image, label)``; a model
    with an ``animate(face, label, generator)`` method (VICE-GAN, whose motion comes from noise) draws that
    noise from one generator seeded with ``seed``, batch after batch, so the clips are reproducible."""
    model.eval()
    device = next(model.parameters()).device
    if hasattr(model, "animate"):
        g = torch.Generator().manual_seed(seed)
        make = lambda x, y: model.animate(x, y, g)                                     # noqa: E731
    else:
        make = model.generate
    return torch.cat([make(images[i:i + batch_size].to(device), labels[i:i + batch_size]).float().cpu()
                      for i in range(0, len(images), batch_size)])


@torch.no_grad()
def fevgan_scores(clips: Tensor, images: Tensor, labels: Tensor, identity_eval, video_eval, threshold: float,
                  real: Tensor | None = None) -> dict[str, float]:
    """Every column of :data:`FEVGAN_COLUMNS` for ``clips`` ``(N, C, T, H, W)`` made from the neutral faces
    ``images`` ``(N, C, H, W)`` and the requested ``labels`` ``(N,)`` (:data:`FEVGAN_METRICS` says what each
    measures), and ``mse`` (VICE-GAN's MSE on [0, 1] pixels). PSNR, SSIM and MSE need the ``real`` clips of
    the same faces and labels; without them they are ``None``. ``threshold``: the verification threshold of
    :func:`identity_threshold`."""
    from .metrics import acd, acd_i, cas, mse, psnr, ssim

    check_video(clips, "clips", batched=True)
    n, t = clips.shape[0], clips.shape[2]
    if images.ndim != 4 or images.shape[0] != n or labels.shape[0] != n:
        raise ValueError(f"{n} clips need {n} input faces (N, C, H, W) and {n} labels, got faces "
                         f"{tuple(images.shape)} and labels {tuple(labels.shape)}")
    frames = extract(identity_eval.features, clips).view(n, t, -1)               # (N, T, D), unit norm
    face = extract(identity_eval.features, images.unsqueeze(2)).view(n, -1)      # (N, D)
    similarity = (frames * face[:, None]).sum(-1)                                # cosine, (N, T)
    scores = {"psnr": None, "ssim": None, "acd": acd(frames), "acd_i": acd_i(frames, face),
              "cas": cas(extract(lambda v: video_eval.logits(v)["label"], clips), labels),
              "identity_kept": float((similarity >= threshold).double().mean())}
    if real is not None:
        scores.update(psnr=psnr(clips, real), ssim=ssim(clips, real), mse=mse(clips, real))
    else:
        scores["mse"] = None
    return scores


def _train_on_faces(model, split: str, steps: int, batch_size: int, seed: int, device: str | None):
    """Train ``model`` for ``steps`` steps on the ``faces`` split ``split`` with the shared loop (nothing written)."""
    from .data import make_dataset
    from .training import TrainConfig, train

    c = model.config
    data = make_dataset("faces", split, size=c.size, frames=c.frames, seed=seed)
    train(model, data, TrainConfig(steps=steps, batch_size=batch_size, seed=seed, device=device, out_dir=None,
                                   progress=False, sample_every=0, checkpoint_every=0, log_every=0), callbacks=[])
    return model.cpu().eval()


def _train_fevgan_variant(config, identity_state: dict | None, steps: int, batch_size: int, seed: int,
                          device: str | None):
    """One Table 3 variant trained from scratch with the shared loop; E_Id gets ``identity_state``."""
    from .models.fevgan import FEVGAN
    from .training import seeded_rng

    with seeded_rng(seed):                                # the same initial weights for every run of a variant
        model = FEVGAN(config)
    if identity_state is not None:
        model.load_identity_encoder(identity_state)
    return _train_on_faces(model, "train", steps, batch_size, seed, device)


def _check_face_model(name: str, model, cls: type, video_eval):
    """``models[name]`` must be a ``cls`` making clips the faces evaluators can score; returns its config."""
    if not isinstance(model, cls):
        raise TypeError(f"models[{name!r}] must be a {cls.__name__}, got {type(model).__name__}")
    c, size, frames = model.config, video_eval.config.size, video_eval.config.frames
    if (c.size, c.frames, c.channels) != (size, frames, 3):
        raise ValueError(f"models[{name!r}] makes {c.frames} frames of {c.size}×{c.size} with {c.channels} "
                         f"channels; the faces evaluators score 3-channel clips of {frames} frames of {size}×{size}")
    return c


def fevgan_report(num_eval: int = 256, seed: int = 0, models: dict | None = None, ablation_steps: int = 0,
                  batch_size: int = 16, device: str | None = None, calibration_clips: int = 128) -> dict[str, Any]:
    """FEV-GAN Tables 1 and 3 on ``faces`` at lesson scale, with computed verdicts (:data:`FEVGAN_CLAIMS`).

    **Protocol** (the paper's Sec. 4.3–4.4 on our data): ``num_eval`` clips of the held-out identities
    (``faces`` test split: subject-independent, never trained on); each model gets the clip's neutral
    first frame and its expression label, and its clip is compared with the real one
    (:func:`fevgan_scores`; :data:`FEVGAN_METRICS` says what each column measures and with which
    network: ACD on consecutive frames, identity features of the *measuring* evaluator, not FEV-GAN's
    E_Id). Two reference rows: the real clips themselves (their ACD, ACD-I to their own first frame,
    the evaluator's CAS and verification; PSNR/SSIM would compare a clip with itself, so they are left
    out) and the input face repeated as a frozen clip — a "model" with perfect ACD and ACD-I that
    never makes an expression, which CAS exposes.

    **Models.** ``models`` maps row names to FEV-GAN models; Table 3's rows are named
    ``"FEV-GAN"``, ``"FEV-GAN w/o E_s"``, ``"FEV-GAN w/o E_Id"`` (``model.config.name``). Default: the
    shipped ``fevgan_faces`` as ``"FEV-GAN"``. With ``ablation_steps > 0`` the Table 3 variants that
    ``models`` does not hold are trained from scratch for that many steps (batch ``batch_size``, seed
    ``seed``, the shared :func:`vgan_lesson.training.train`), with the architecture of the given
    ``"FEV-GAN"`` (of the shipped model when ``models`` is None; lesson defaults otherwise) and its
    frozen E_Id (the shipped one otherwise). When ``models`` is None this trains the full model too,
    so every claim compares one budget; the shipped model is then scored as ``"FEV-GAN (shipped)"``.
    Without ``ablation_steps`` and without ablation models, their rows are absent and their claims say
    ``"not run"``.

    Returns ``rows`` (name -> scores), ``claims``, ``identity_threshold`` (:func:`identity_threshold`),
    ``metrics`` (:data:`FEVGAN_METRICS`) and the settings.
    """
    import dataclasses

    from .data import make_dataset
    from .models.fevgan import FEVGAN, ablation_configs, default_identity_encoder_path
    from .pretrained import load_pretrained, load_pretrained_evaluator

    check_int("num_eval", num_eval, minimum=2)
    check_int("ablation_steps", ablation_steps, minimum=0)
    identity_eval = load_pretrained_evaluator("faces", "identity")
    video_eval = load_pretrained_evaluator("faces", "video")
    size, frames = video_eval.config.size, video_eval.config.frames
    shipped = None
    if models is None:
        shipped = load_pretrained("fevgan", "faces")
        models = {} if ablation_steps else {"FEV-GAN": shipped}
    models = dict(models)
    for name, model in models.items():
        _check_face_model(name, model, FEVGAN, video_eval)

    if ablation_steps:
        base = models.get("FEV-GAN", shipped)     # the shipped model's architecture, when it is the one scored
        flags = ("use_spatial_encoder", "use_identity_encoder")
        overrides = {} if base is None else {k: v for k, v in dataclasses.asdict(base.config).items() if k not in flags}
        if base is not None:
            identity_state = base.identity_encoder.network.state_dict()
        elif default_identity_encoder_path().exists():
            identity_state = str(default_identity_encoder_path())
        else:
            identity_state = None
        for name, config in ablation_configs("lesson", **overrides).items():
            if name not in models:
                models[name] = _train_fevgan_variant(config, identity_state, ablation_steps, batch_size, seed, device)
        if shipped is not None:
            models["FEV-GAN (shipped)"] = shipped

    real_set = make_dataset("faces", "test", size=size, frames=frames, num_clips=num_eval, seed=seed)
    batch = real_set.batch(range(num_eval))
    real, labels = batch["video"], batch["label"]
    images = real[:, :, 0]                                   # each clip's neutral first frame: the input I
    calibration = identity_threshold(identity_eval, size, frames, num=calibration_clips, seed=seed)

    def score(clips: Tensor, with_real: bool = True) -> dict[str, float]:
        return fevgan_scores(clips, images, labels, identity_eval, video_eval, calibration["threshold"],
                             real if with_real else None)

    rows: dict[str, dict[str, float]] = {
        FEVGAN_REAL_ROW: score(real, with_real=False),
        FEVGAN_FROZEN_ROW: score(images.unsqueeze(2).expand_as(real).contiguous()),
    }
    order = ["FEV-GAN", "FEV-GAN w/o E_s", "FEV-GAN w/o E_Id"]
    for name in sorted(models, key=lambda k: (order.index(k) if k in order else len(order), k)):
        rows[name] = score(generate_from_faces(models[name], images, labels))
    return {"dataset": "faces", "split": "test", "num_eval": num_eval, "seed": seed,
            "ablation_steps": ablation_steps, "rows": rows, "claims": check_claims(rows, FEVGAN_CLAIMS, "not run"),
            "identity_threshold": calibration, "metrics": FEVGAN_METRICS}


# --------------------------------------------------------------------------------------------------
# VICE-GAN Tables 2 and 4, the seen / unseen question (lesson 07 and benchmarks/reproduce.py)
# --------------------------------------------------------------------------------------------------

#: The columns of :func:`vicegan_report`: the paper's SSIM, MSE, ACD and CAS (Sec. 5.4), then identity kept.
VICEGAN_COLUMNS = ["ssim", "mse", "acd", "cas", "identity_kept"]
#: The columns of its autoencoder table (Table 4): ours, then the paper's on MUG.
AUTOENCODER_COLUMNS = ["mse", "ssim", "paper_mse", "paper_ssim"]

#: What each column of :func:`vicegan_report` measures (printed beside the numbers by the lesson and the benchmark).
VICEGAN_METRICS = {
    "ssim": "SSIM of each generated frame against the real frame of the same clip (the clip's first frame and label "
            "went in), Gaussian window sigma 1.5 on [0, 1] pixels, averaged (Sec. 5.4.1; higher is better)",
    "mse": "mean squared error of the same frame pairs on [0, 1] pixels (Sec. 5.4.2; lower is better)",
    "acd": "mean L2 distance between the identity features of CONSECUTIVE frames (Sec. 5.4.3; the paper embeds "
           "with its own autoencoder, we use the package's measuring identity evaluator, so the model is not graded "
           "with the code it was trained to match; lower: a steadier face, a frozen picture scores 0)",
    "cas": "share of generated clips the shipped faces video evaluator classifies as the requested emotion (CAS-M, "
           "Sec. 5.4.4; the real-clip rows are the evaluator's own accuracy)",
    "identity_kept": "share of generated frames verified as the input person (cosine of identity features at or above "
                     "a threshold calibrated on training identities; beyond the paper, which judges identity by eye in "
                     "Fig. 11)",
    "conditions": "unseen: trained on faces 'train' (the 24 test identities never seen), scored on 'test'; seen: "
                  "trained on 'seen_train' (the test identities with 2 of their 6 emotions), scored on 'seen_test' "
                  "(their other 4) — VICE-GAN Sec. 5.3.1. Every model animates the clip's first frame (one face in, "
                  "as Model 4 is trained; Models 1 and 2 then get that frame's code for every frame), because "
                  "feeding the real clip's frames would hand the answer to the all-frames variants.",
}

_SEEN = tuple(f"Model {i} (seen)" for i in range(1, 5))
_UNSEEN = tuple(f"Model {i} (unseen)" for i in range(1, 5))
_AE_OTHERS = ("standard small", "standard medium", "variational small", "variational medium", "variational large")

#: The VICE-GAN claims we check, in the format of :func:`check_claims` (a tuple side is a mean; ``"each"``:
#: every row against every row). The paper gives Table 4's numbers; Figs. 7, 8, 10 and 12 only as bars, so those
#: claims quote its words. The paper's own ACD sentence contradicts itself ("In the Seen condition, the ACD values
#: are higher than in the Unseen condition, indicating good identity consistency", Sec. 6.2.2): the seen/unseen
#: identity claim is checked with identity kept (its Fig. 11 and RQ1(a) conclusion), not with ACD.
VICEGAN_CLAIMS = [
    ("Table 4", "the standard large autoencoder has the lowest MSE of the six (MUG 0.00086; next: standard medium "
                "0.000984)", ("standard large", _AE_OTHERS), "mse", "lower", "each"),
    ("Table 4", "the standard large autoencoder has the highest SSIM of the six (MUG 0.961; next: variational large "
                "0.939)", ("standard large", _AE_OTHERS), "ssim", "higher", "each"),
    ("Table 4", "standard autoencoders reconstruct better than variational ones: lower MSE (MUG mean 0.00100 vs "
                "0.00184)", (("standard small", "standard medium", "standard large"),
                             ("variational small", "variational medium", "variational large")), "mse", "lower"),
    ("Table 4", "standard autoencoders reconstruct better than variational ones: higher SSIM (MUG mean 0.936 vs "
                "0.906)", (("standard small", "standard medium", "standard large"),
                           ("variational small", "variational medium", "variational large")), "ssim", "higher"),
    ("Table 4", "large autoencoders beat small ones: lower MSE (MUG mean 0.00107 vs 0.00174)",
     (("standard large", "variational large"), ("standard small", "variational small")), "mse", "lower"),
    ("Table 4", "large autoencoders beat small ones: higher SSIM (MUG mean 0.950 vs 0.891)",
     (("standard large", "variational large"), ("standard small", "variational small")), "ssim", "higher"),
    ("Fig. 7", "the seen condition gives higher SSIM than the unseen one (Models 1-4, mean; shown as bars)",
     (_SEEN, _UNSEEN), "ssim", "higher"),
    ("Fig. 8", "the seen condition gives lower MSE than the unseen one (Models 1-4, mean; shown as bars)",
     (_SEEN, _UNSEEN), "mse", "lower"),
    ("Fig. 11", "the seen condition keeps the identity better than the unseen one (Sec. 6.2.2, RQ1(a); judged by "
                "eye in the paper)", (_SEEN, _UNSEEN), "identity_kept", "higher"),
    ("Fig. 10", "single-frame content (Models 3, 4) gives a lower ACD than all-frames content (Models 1, 2), seen",
     (_SEEN[2:], _SEEN[:2]), "acd", "lower"),
    ("Fig. 10", "Model 4 keeps the identity better than Model 2: lower ACD, seen (Sec. 7, RQ3(d))",
     ("Model 4 (seen)", "Model 2 (seen)"), "acd", "lower"),
    ("Fig. 7", "frozen autoencoders (Models 2, 4) give a higher SSIM than fine-tuned ones (Models 1, 3), seen",
     ((_SEEN[1], _SEEN[3]), (_SEEN[0], _SEEN[2])), "ssim", "higher"),
    ("Fig. 7", "Model 2 has the highest SSIM of the four, seen", (_SEEN[1], (_SEEN[0], _SEEN[2], _SEEN[3])),
     "ssim", "higher", "each"),
    ("Fig. 8", "Model 1 has the highest (worst) MSE of the four, seen", (_SEEN[0], _SEEN[1:]), "mse", "higher", "each"),
    ("Fig. 12", "Model 2 has the highest CAS of the four, seen", (_SEEN[1], (_SEEN[0], _SEEN[2], _SEEN[3])),
     "cas", "higher", "each"),
    ("Fig. 12", "Models 1 and 4 have the highest CAS of the four, unseen",
     ((_UNSEEN[0], _UNSEEN[3]), (_UNSEEN[1], _UNSEEN[2])), "cas", "higher", "each"),
    ("Fig. 13", "frozen autoencoders (Models 2, 4) generate the emotion better than fine-tuned ones (Models 1, 3): "
                "higher CAS, seen (RQ3(c); the paper's clearest gap is in human ratings)",
     ((_SEEN[1], _SEEN[3]), (_SEEN[0], _SEEN[2])), "cas", "higher"),
]

#: The shipped checkpoint's row in :func:`vicegan_report` (Model 4 trained on ``faces`` train: unseen).
VICEGAN_SHIPPED_ROW = "Model 4 (unseen, shipped)"


def vicegan_real_row(condition: str) -> str:
    """The name of the real-clip reference row of ``condition`` (``"unseen"`` or ``"seen"``)."""
    from .models.vicegan import CONDITIONS

    check_choice("condition", condition, CONDITIONS)
    return f"real clips, {condition} test (reference)"


def _train_vicegan_variant(config, autoencoder, split: str, steps: int, batch_size: int, seed: int,
                           device: str | None):
    """One Table 2 variant trained from scratch on the ``faces`` split ``split``; the autoencoder is loaded from
    ``autoencoder`` (a state dict, file or FaceAutoencoder; ``None``: left as initialised)."""
    from .models.vicegan import VICEGAN
    from .training import seeded_rng

    with seeded_rng(seed):                                # the same initial weights for every run of a variant
        model = VICEGAN(config)
    if autoencoder is not None:
        model.load_autoencoder(autoencoder)
    return _train_on_faces(model, split, steps, batch_size, seed, device)


def vicegan_report(num_eval: int = 256, seed: int = 0, models: dict | None = None, steps: int = 0,
                   batch_size: int = 16, device: str | None = None, calibration_clips: int = 128,
                   conditions: tuple[str, ...] = ("unseen", "seen"), variants: tuple[str, ...] | None = None,
                   autoencoder_steps: int = 0, autoencoder_clips: int = 64, shipped: bool = True) -> dict[str, Any]:
    """VICE-GAN Tables 2 and 4 and the seen / unseen question on ``faces`` at lesson scale, with computed
    verdicts (:data:`VICEGAN_CLAIMS`).

    **Protocol.** For each condition (:data:`vgan_lesson.models.vicegan.CONDITIONS`: which ``faces`` split trains
    and which tests), ``num_eval`` held-out clips of its test split; each model animates the clip's first frame
    with the clip's label (:func:`generate_from_faces`, motion noise seeded by ``seed``) and the result is scored
    against the real clip with :func:`fevgan_scores`: SSIM, MSE, ACD on consecutive frames (identity features of
    the *measuring* evaluator), CAS and identity kept (:data:`VICEGAN_METRICS`). One reference row per condition:
    the real clips themselves (SSIM/MSE would compare a clip with itself, so they are left out).

    **Models.** ``models`` maps row names ``"Model k (unseen)"`` / ``"Model k (seen)"`` (Table 2 × the two
    conditions) to VICE-GAN models. With ``steps > 0`` every variant of ``variants`` (default all four) under
    every condition of ``conditions`` that ``models`` does not hold is trained from scratch for ``steps`` steps
    (batch ``batch_size``, seed ``seed``, the shared :func:`vgan_lesson.training.train`) on the condition's
    training split — same budget for each, so the claims compare like with like. Their architecture and
    pretrained autoencoder are those of a given frozen model, else the lesson defaults with the shipped
    autoencoder. With ``shipped`` and the shipped ``vicegan_faces`` present, it is scored as
    :data:`VICEGAN_SHIPPED_ROW` (on the unseen test split) but takes no part in the claims (another budget).

    **Table 4.** With ``autoencoder_steps > 0`` the six autoencoders are trained that many steps each and scored
    on ``autoencoder_clips`` held-out clips (:func:`vgan_lesson.models.vicegan.compare_autoencoders`), beside the
    paper's numbers; the shipped autoencoder is scored too when present (as ``"standard large (shipped)"``,
    outside the claims). ``autoencoder_steps=0`` skips the comparison and its claims say ``"not run"``.

    Returns ``rows``, ``autoencoders`` (name -> mse, ssim, paper_mse, paper_ssim), ``claims``,
    ``identity_threshold`` (:func:`identity_threshold`), ``metrics`` and the settings.
    """
    import dataclasses

    from .data import make_dataset
    from .models.vicegan import (CONDITIONS, PAPER_TABLE_4, VARIANTS, VICEGAN, compare_autoencoders,
                                 default_autoencoder_path, evaluate_autoencoder, load_autoencoder_file,
                                 variant_config)
    from .pretrained import RECIPES, checkpoint_dir, load_pretrained, load_pretrained_evaluator

    check_int("num_eval", num_eval, minimum=2)
    check_int("steps", steps, minimum=0)
    check_int("autoencoder_steps", autoencoder_steps, minimum=0)
    check_int("autoencoder_clips", autoencoder_clips, minimum=1)
    conditions = tuple(conditions)
    variants = tuple(VARIANTS) if variants is None else tuple(variants)
    if not conditions or not variants:
        raise ValueError(f"conditions and variants must not be empty, got {conditions} and {variants}")
    for condition in conditions:
        check_choice("condition", condition, CONDITIONS)
    for variant in variants:
        check_choice("VICE-GAN variant (Table 2)", variant, VARIANTS)
    identity_eval = load_pretrained_evaluator("faces", "identity")
    video_eval = load_pretrained_evaluator("faces", "video")
    size, frames = video_eval.config.size, video_eval.config.frames
    models = dict(models or {})
    wanted = {f"{v} ({cond})" for v in VARIANTS for cond in CONDITIONS} | {VICEGAN_SHIPPED_ROW}
    for name, model in models.items():
        if name not in wanted:
            raise ValueError(f"models[{name!r}]: rows are named 'Model k (unseen)' or 'Model k (seen)' (k = 1..4), "
                             f"got {name!r}")
        c = _check_face_model(name, model, VICEGAN, video_eval)
        expected = f"Model {c.table_2_model}"
        if not name.startswith(expected + " "):
            raise ValueError(f"models[{name!r}] is {c.name}: name its row {expected!r} with its condition")
    if shipped and VICEGAN_SHIPPED_ROW not in models and (checkpoint_dir() / RECIPES["vicegan_faces"].file).exists():
        models[VICEGAN_SHIPPED_ROW] = load_pretrained("vicegan", "faces")

    if steps:
        base = next((m for m in models.values() if not m.config.fine_tune), None)
        fixed = ("content_encoding", "fine_tune")
        if base is not None:
            overrides = {k: v for k, v in dataclasses.asdict(base.config).items() if k not in fixed}
            overrides["betas"] = tuple(overrides["betas"])
            autoencoder = base.autoencoder.state_dict()
        else:
            overrides = {}
            autoencoder = str(default_autoencoder_path()) if default_autoencoder_path().exists() else None
        for condition in conditions:
            for variant in variants:
                name = f"{variant} ({condition})"
                if name not in models:
                    models[name] = _train_vicegan_variant(variant_config(variant, "lesson", **overrides), autoencoder,
                                                          CONDITIONS[condition][0], steps, batch_size, seed, device)

    calibration = identity_threshold(identity_eval, size, frames, num=calibration_clips, seed=seed)
    rows: dict[str, dict[str, float]] = {}
    for condition in CONDITIONS:
        names = [f"{v} ({condition})" for v in VARIANTS if f"{v} ({condition})" in models]
        if condition == "unseen" and VICEGAN_SHIPPED_ROW in models:
            names.append(VICEGAN_SHIPPED_ROW)
        if condition not in conditions and not names:
            continue
        test_split = CONDITIONS[condition][1]
        batch = make_dataset("faces", test_split, size=size, frames=frames, num_clips=num_eval,
                             seed=seed).batch(range(num_eval))
        real, labels = batch["video"], batch["label"]
        images = real[:, :, 0]                                   # each clip's first (neutral) frame: the input face

        def score(clips: Tensor, with_real: bool = True) -> dict[str, float]:
            out = fevgan_scores(clips, images, labels, identity_eval, video_eval, calibration["threshold"],
                                real if with_real else None)
            return {column: out[column] for column in VICEGAN_COLUMNS}

        rows[vicegan_real_row(condition)] = score(real, with_real=False)
        for name in names:
            rows[name] = score(generate_from_faces(models[name], images, labels, seed=seed))

    autoencoders: dict[str, dict[str, float]] = {}
    if autoencoder_steps:
        for name, scores in compare_autoencoders("lesson", steps=autoencoder_steps, seed=seed,
                                                 num_clips=autoencoder_clips).items():
            paper_mse, paper_ssim = PAPER_TABLE_4[tuple(name.split())]
            autoencoders[name] = {**scores, "paper_mse": paper_mse, "paper_ssim": paper_ssim}
    if default_autoencoder_path().exists():
        ae = load_autoencoder_file(default_autoencoder_path())
        paper_mse, paper_ssim = PAPER_TABLE_4[(ae.config.kind, ae.config.architecture)]
        autoencoders[f"{ae.config.name} (shipped)"] = {**evaluate_autoencoder(ae, num_clips=autoencoder_clips,
                                                                              seed=seed),
                                                      "paper_mse": paper_mse, "paper_ssim": paper_ssim}
    claims = check_claims({**rows, **autoencoders}, VICEGAN_CLAIMS, "not run")
    return {"dataset": "faces", "num_eval": num_eval, "seed": seed, "steps": steps,
            "autoencoder_steps": autoencoder_steps, "rows": rows, "autoencoders": autoencoders, "claims": claims,
            "identity_threshold": calibration, "metrics": VICEGAN_METRICS}
