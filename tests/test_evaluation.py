"""Scoring generators (vgan_lesson.evaluation) and the latent playground (vgan_lesson.playground)."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from vgan_lesson.data import make_dataset
from vgan_lesson.evaluation import content_steadiness, disentanglement, generate, markdown_table, video_scores
from vgan_lesson.evaluators import Evaluator, EvaluatorConfig
from vgan_lesson.models.encgan3 import EncGAN3, EncGAN3Config, Posterior
from vgan_lesson.playground import LatentPlayground
from vgan_lesson.pretrained import checkpoint_dir

TINY = dict(size=16, frames=16, g_base=1, d_width=4, enc_width=4, motion_hidden=8, content_dim=8, attention=False)


class CodeModel(torch.nn.Module):
    """A stand-in generator whose clips carry their codes in the pixels: value = (100·c + m) / 1e4.

    ``entangled=True`` takes the content from the motion code too (what a model does whose motion
    code has swallowed the content)."""

    def __init__(self, entangled: bool):
        super().__init__()
        self.entangled = entangled
        self.p = torch.nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(use_encoder=True, name="CodeModel")

    def encode(self, videos):
        code = (videos[:, 0, 0, 0, 0] * 1e4).round()
        c, m = code // 100, code % 100
        return Posterior(c[:, None], c[:, None], m[:, None, None], m[:, None, None])

    def generate(self, z_x, z_v):
        m = z_v[:, 0, 0]
        c = m if self.entangled else z_x[:, 0]
        return ((100 * c + m) / 1e4).view(-1, 1, 1, 1, 1).expand(-1, 3, 4, 2, 2).clone()


class Reader:
    """A stand-in evaluator that reads the codes back: content factor = c % 3, motion class = m % 4."""

    def __init__(self, kind):
        self.kind = kind
        self.config = SimpleNamespace(targets={"shape": 3} if kind == "frame" else {"label": 4})

    def logits(self, clips):
        code = (clips[:, 0, :, 0, 0] * 1e4).round()                         # (N, T)
        if self.kind == "frame":
            return {"shape": F.one_hot((code // 100 % 3).long(), 3).float()}   # (N, T, K)
        return {"label": F.one_hot((code[:, 0] % 100 % 4).long(), 4).float()}


def coded_clips(n=12):
    i = torch.arange(n, dtype=torch.float32)
    videos = ((100 * i + i) / 1e4).view(-1, 1, 1, 1, 1).expand(-1, 3, 4, 2, 2).clone()
    return videos, {"shape": i % 3, "label": i % 4}


def test_disentanglement_tells_a_separating_model_from_an_entangled_one():
    videos, factors = coded_clips()
    good = disentanglement(CodeModel(False), videos, factors, Reader("frame"), Reader("video"), ("shape",))
    bad = disentanglement(CodeModel(True), videos, factors, Reader("frame"), Reader("video"), ("shape",))
    assert good["content_kept"] == 1.0 and good["motion_transferred"] == 1.0
    assert bad["motion_transferred"] == 1.0 and bad["content_kept"] < 0.6          # content followed the motion
    assert good["content_reconstructed"] == bad["content_reconstructed"] == 1.0
    assert good["chance_content"] == pytest.approx(1 / 3) and good["chance_motion"] == 0.25


def test_generate_and_scores():
    torch.manual_seed(0)
    model = EncGAN3(EncGAN3Config(**TINY))
    a, b = generate(model, 3, seed=1), generate(model, 3, seed=1)
    assert a.shape == (3, 3, 16, 16, 16) and torch.equal(a, b)
    real = torch.rand(5, 3, 16, 16, 16) * 2 - 1
    assert generate(model, 4, "encoded", real=real).shape == (4, 3, 16, 16, 16)
    with pytest.raises(ValueError, match="at least n=4 real clips"):
        generate(model, 4, "encoded", real=real[:2])
    with pytest.raises(ValueError, match="has none"):
        generate(EncGAN3(EncGAN3Config(**TINY, use_encoder=False)), 2, "encoded", real=real)

    frame_eval = Evaluator(EvaluatorConfig("shapes", "frame", size=16, width=4, feature_dim=4)).eval()
    video_eval = Evaluator(EvaluatorConfig("shapes", "video", size=16, width=4, feature_dim=4)).eval()
    g = torch.Generator().manual_seed(0)
    real = torch.rand(48, 3, 16, 16, 16, generator=g).mul(0.2).add(torch.linspace(-0.8, 0.8, 48).view(-1, 1, 1, 1, 1))
    same = video_scores(real[::2], real[1::2], frame_eval, video_eval)
    noise = video_scores(torch.rand(24, 3, 16, 16, 16, generator=g) * 2 - 1, real[1::2], frame_eval, video_eval)
    assert noise["fvd"] > 5 * same["fvd"] and noise["fid"] > 5 * same["fid"]
    assert set(same) == {"fid", "fvd", "is", "h_y", "h_y_given_x"} and same["is"] >= 1.0


def test_playground_recombines_codes():
    torch.manual_seed(0)
    model = EncGAN3(EncGAN3Config(**TINY))
    videos = torch.rand(3, 3, 16, 16, 16) * 2 - 1
    play = LatentPlayground(model, videos, names=["a", "b", "c"], noise=1)
    assert play.names == ["a", "b", "c", "noise 0"]
    z_x, z_v = play.codes("a", "b", content_b="c", a=0.25)
    torch.testing.assert_close(z_x[0], 0.75 * play.z_x[0] + 0.25 * play.z_x[2])
    torch.testing.assert_close(z_v[0], play.z_v[1])
    z_x, _ = play.codes("a", "a", content_b="b", a=1.0, mode="add")
    torch.testing.assert_close(z_x[0], play.z_x[0] + play.z_x[1])
    grid = play.swap_grid(["a", "b"])
    assert grid.shape == (4, 3, 16, 16, 16)
    torch.testing.assert_close(grid[1], play.render("a", "b")[0])      # row content a, column motion b
    ends = play.interpolation("a", "c", steps=3, which="motion")
    torch.testing.assert_close(ends[-1], play.render("a", "c")[0])
    with pytest.raises(ValueError, match="unknown source .z.; expected one of"):
        play.render("z", "a")
    with pytest.raises(ValueError, match="needs a model with an encoder"):
        LatentPlayground(EncGAN3(EncGAN3Config(**TINY, use_encoder=False)), videos)


def test_markdown_table():
    text = markdown_table({"a": {"x": 1.234, "y": "ok"}, "b": {"x": None}}, ["x", "y"], digits=1)
    assert text.splitlines() == ["| model | x | y |", "|---|---|---|", "| a | 1.2 | ok |", "| b | – | – |"]


def test_claims_get_computed_verdicts_and_skip_unmeasured_rows():
    from vgan_lesson.evaluation import check_claims

    rows = {"EncGAN3 (Enc+G)": {"fvd": 1.0}, "EncGAN3 (G)": {"fvd": 3.0, "is": 2.0, "h_y_given_x": 0.5},
            "G3AN": {"fvd": 2.0, "is": 3.0, "h_y_given_x": 0.9}}
    verdicts = {c["claim"].split(" (UvA")[0]: c["verdict"] for c in check_claims(rows)}
    assert verdicts == {"EncGAN3 has a lower video FID than G3AN": "reproduced",
                        "EncGAN3 has a higher IS than G3AN": "not reproduced",
                        "EncGAN3 has a lower H(y|x) than G3AN": "reproduced",
                        "EncGAN3 (Enc+G) beats EncGAN3 (G)": "reproduced"}


def test_content_steadiness_real_clips_keep_their_content_spliced_ones_do_not():
    """Real clips are read as one shape, colour and background in nearly every frame; clips spliced from
    four different videos are not; a frozen clip is perfectly steady (it is not a realism score)."""
    from vgan_lesson.pretrained import load_pretrained_evaluator

    frame_eval = load_pretrained_evaluator("shapes", "frame")
    real = make_dataset("shapes", "test", size=32, frames=16, seed=1, num_clips=32).batch(range(32))["video"]
    steady = content_steadiness(real, frame_eval)
    assert set(steady["per_head"]) == {"shape", "color", "background"}
    assert steady["content_steady"] > 0.9
    assert steady["content_steady"] == pytest.approx(sum(steady["per_head"].values()) / 3)
    spliced = torch.cat([real.roll(k, 0)[:, :, 4 * k:4 * k + 4] for k in range(4)], dim=2)   # 4 videos per clip
    assert content_steadiness(spliced, frame_eval)["content_steady"] < steady["content_steady"] - 0.2
    frozen = real[:, :, :1].expand_as(real).contiguous()
    assert content_steadiness(frozen, frame_eval)["content_steady"] == 1.0
    with pytest.raises(ValueError, match="needs a frame evaluator"):
        content_steadiness(real, load_pretrained_evaluator("shapes", "video"))
    with pytest.raises(ValueError, match="no classification head"):
        content_steadiness(real, load_pretrained_evaluator("dancer", "frame"))


@pytest.mark.skipif(not __import__("vgan_lesson.pretrained", fromlist=["x"]).available("model"),
                    reason="no shipped checkpoints")
def test_report_on_shipped_models_runs_and_real_beats_models():
    from vgan_lesson.evaluation import encgan3_report

    report = encgan3_report("shapes", num_eval=64)
    rows = report["rows"]
    assert {"real clips (reference)", "G3AN", "EncGAN3 (G)", "EncGAN3 (Enc+G)"} <= set(rows)
    assert all(rows["real clips (reference)"]["fvd"] < r["fvd"] for k, r in rows.items() if k != "real clips (reference)")
    assert rows["real clips (reference)"]["content_steady"] > 0.9                  # real clips keep their content
    assert len(report["claims"]) == 4


def test_rencgan3_report_measures_chains_against_glued_clips_with_verdicts():
    """Untrained lesson-scale models (the report's plumbing, not their quality): every claim gets a
    computed verdict, the real reference beats them, and glued independent clips show their seams."""
    from vgan_lesson.evaluation import RENCGAN3_CLAIMS, rencgan3_report
    from vgan_lesson.models import REncGAN3, REncGAN3Config

    torch.manual_seed(0)
    models = {"REncGAN3": REncGAN3(REncGAN3Config.lesson()),
              "REncGAN3 (Enc_G)": REncGAN3(REncGAN3Config.lesson(joint=False))}
    report = rencgan3_report(num_eval=8, length=48, models=models)
    rows = report["rows"]
    assert {"real clips (reference)", "REncGAN3 (G)", "REncGAN3 (long)", "EncGAN3 = REncGAN3 (Enc_G) (G)",
            "REncGAN3 (Enc_G) (long)", "independent clips, glued"} <= set(rows)
    assert all(rows["real clips (reference)"]["fvd"] < r["fvd"] for k, r in rows.items()
               if "fvd" in r and k != "real clips (reference)")
    assert 0.7 < rows["real clips (reference)"]["seam_ratio"] < 1.4       # real long videos: no seams
    assert all(rows[f"{m} (long)"]["code_growth"] > 0 for m in models)       # the chains' drift is reported
    assert rows["real clips (reference)"]["look_change"] < 0.2               # real dancers keep their look
    assert all(r["look_change"] >= 0 for k, r in rows.items() if "long" in k or "glued" in k)
    assert len(report["claims"]) == len(RENCGAN3_CLAIMS) + 1                # + the Fig. 3 tolerance check
    assert {c["verdict"] for c in report["claims"]} <= {"reproduced", "not reproduced"}
    assert report["quality"]["REncGAN3"]["positions"] == [0, 16, 32]
    with pytest.raises(ValueError, match="length"):
        rencgan3_report(num_eval=8, length=20, models=models)


def test_playground_widget_redraws_on_change():
    torch.manual_seed(0)
    model = EncGAN3(EncGAN3Config(**TINY))
    play = LatentPlayground(model, torch.rand(2, 3, 16, 16, 16) * 2 - 1, noise=1)
    box = play.widget()
    image = box.children[-1]
    first = bytes(image.value)
    assert first[:3] == b"GIF"
    box.children[0].children[0].value = "noise 0"          # pick another content source
    assert bytes(image.value) != first


# ----------------------------------------------------------------------------- FEV-GAN (Tables 1 and 3)
FEV_TINY = dict(enc_width=2, g_width=2, d_width=2, id_width=2, id_dim=8)   # 32×32×16: the evaluators' clip


def _fev_rows(changes=None):
    """Rows in which every FEV-GAN claim holds; ``changes`` ({(row, column): value}) overwrite single values."""
    rows = {"FEV-GAN": {"psnr": 27.0, "ssim": 0.91, "acd": 0.09, "acd_i": 0.23, "identity_kept": 0.9},
            "FEV-GAN w/o E_s": {"psnr": 25.0, "ssim": 0.90, "acd": 0.11, "acd_i": 0.34, "identity_kept": 0.8},
            "FEV-GAN w/o E_Id": {"psnr": 19.0, "ssim": 0.69, "acd": 0.13, "acd_i": 1.22, "identity_kept": 0.1}}
    for (row, column), value in (changes or {}).items():
        rows[row][column] = value
    return rows


def test_fevgan_claims_get_computed_verdicts_and_say_not_run():
    from vgan_lesson.evaluation import FEVGAN_CLAIMS, check_claims

    held = check_claims(_fev_rows(), FEVGAN_CLAIMS, missing="not run")
    assert len(held) == len(FEVGAN_CLAIMS) and {c["verdict"] for c in held} == {"reproduced"}
    assert all(c["table"] in ("Table 3", "Fig. 5") for c in held)
    # a false claim: w/o E_Id keeps the identity better (lower ACD-I) than the full model
    broken = check_claims(_fev_rows({("FEV-GAN w/o E_Id", "acd_i"): 0.1}), FEVGAN_CLAIMS, missing="not run")
    verdicts = {c["claim"]: c["verdict"] for c in broken}
    assert verdicts["the full model has a lower ACD-I than w/o E_Id (MUG 0.23 vs 1.22)"] == "not reproduced"
    assert sum(v == "not reproduced" for v in verdicts.values()) == 2      # and w/o E_Id's ACD-I is no longer the worst
    wrong = next(c for c in broken if c["verdict"] == "not reproduced" and c["column"] == "acd_i")
    assert wrong["FEV-GAN"] == 0.23 and wrong["FEV-GAN w/o E_Id"] == 0.1
    # a tie is not a win
    tie = check_claims(_fev_rows({("FEV-GAN w/o E_s", "psnr"): 27.0}), FEVGAN_CLAIMS[:1])
    assert tie[0]["verdict"] == "not reproduced"
    # rows that were not measured: "not run" with no values (and left out without `missing`, as before)
    only_full = {"FEV-GAN": _fev_rows()["FEV-GAN"]}
    assert {c["verdict"] for c in check_claims(only_full, FEVGAN_CLAIMS, missing="not run")} == {"not run"}
    assert check_claims(only_full, FEVGAN_CLAIMS) == []
    partial = check_claims({k: v for k, v in _fev_rows().items() if k != "FEV-GAN w/o E_Id"}, FEVGAN_CLAIMS,
                           missing="not run")
    assert [c["verdict"] for c in partial].count("reproduced") == 4         # the four full vs w/o E_s claims


def test_identity_threshold_picks_the_best_separation():
    from vgan_lesson.evaluation import _best_threshold

    threshold, accuracy = _best_threshold(torch.tensor([0.9, 0.8, 0.95]), torch.tensor([0.1, 0.5, 0.7]))
    assert threshold == pytest.approx(0.8) and accuracy == 1.0
    threshold, accuracy = _best_threshold(torch.tensor([0.9, 0.4]), torch.tensor([0.5, 0.1]))
    assert accuracy == 0.75


def test_fevgan_scores_on_known_clips():
    from vgan_lesson.evaluation import fevgan_scores
    from vgan_lesson.pretrained import load_pretrained_evaluator

    identity_eval = load_pretrained_evaluator("faces", "identity")
    video_eval = load_pretrained_evaluator("faces", "video")
    real = make_dataset("faces", "test", size=32, frames=16, num_clips=6, seed=0).batch(range(6))
    clips, labels = real["video"], real["label"]
    images = clips[:, :, 0]
    itself = fevgan_scores(clips, images, labels, identity_eval, video_eval, threshold=0.5, real=clips)
    assert itself["psnr"] == pytest.approx(100.0) and itself["ssim"] == pytest.approx(1.0, abs=1e-4)
    frozen = fevgan_scores(images.unsqueeze(2).expand_as(clips).contiguous(), images, labels, identity_eval,
                           video_eval, threshold=0.5)
    assert frozen["acd"] == pytest.approx(0.0, abs=1e-6) and frozen["acd_i"] == pytest.approx(0.0, abs=1e-6)
    assert frozen["identity_kept"] == 1.0 and frozen["psnr"] is None
    # another person's face as the input: the identity is not kept
    stranger = fevgan_scores(clips, images.roll(1, 0), labels, identity_eval, video_eval, threshold=0.9)
    assert stranger["acd_i"] > itself["acd_i"] and stranger["identity_kept"] < itself["identity_kept"]
    with pytest.raises(ValueError, match="6 clips need 6 input faces"):
        fevgan_scores(clips, images[:3], labels, identity_eval, video_eval, threshold=0.5)


def test_fevgan_report_scores_trains_ablations_and_says_not_run():
    """Tiny untrained models on 8 held-out clips: the report's plumbing, not the models' quality."""
    from vgan_lesson.evaluation import FEVGAN_CLAIMS, FEVGAN_COLUMNS, fevgan_report
    from vgan_lesson.models.fevgan import FEVGAN, FEVGANConfig

    torch.manual_seed(0)
    full = FEVGAN(FEVGANConfig.lesson(**FEV_TINY))
    alone = fevgan_report(num_eval=8, models={"FEV-GAN": full}, calibration_clips=16)
    assert list(alone["rows"]) == ["real clips (reference)", "input face, frozen (baseline)", "FEV-GAN"]
    assert all(alone["rows"]["FEV-GAN"][c] is not None for c in FEVGAN_COLUMNS)
    assert alone["rows"]["real clips (reference)"]["psnr"] is None           # a clip against itself: left out
    assert 0 < alone["rows"]["real clips (reference)"]["acd"] < alone["rows"]["FEV-GAN"]["acd_i"]
    assert alone["rows"]["input face, frozen (baseline)"]["acd"] == 0.0
    assert [c["verdict"] for c in alone["claims"]] == ["not run"] * len(FEVGAN_CLAIMS)
    assert 0 < alone["identity_threshold"]["threshold"] < 1 and "CONSECUTIVE" in alone["metrics"]["acd"]

    trained = fevgan_report(num_eval=8, models={"FEV-GAN": full}, ablation_steps=1, batch_size=2,
                            calibration_clips=16)
    assert list(trained["rows"])[2:] == ["FEV-GAN", "FEV-GAN w/o E_s", "FEV-GAN w/o E_Id"]
    assert trained["rows"]["FEV-GAN"] == alone["rows"]["FEV-GAN"]           # the given model is kept, not retrained
    assert len(trained["claims"]) == len(FEVGAN_CLAIMS)
    assert {c["verdict"] for c in trained["claims"]} <= {"reproduced", "not reproduced"}
    with pytest.raises(ValueError, match="the faces evaluators score 3-channel clips of 16 frames of 32×32"):
        fevgan_report(num_eval=8, models={"FEV-GAN": FEVGAN(FEVGANConfig.lesson(**FEV_TINY, frames=8))})


@pytest.mark.skipif(not (checkpoint_dir() / "fevgan_faces.pt").exists(), reason="fevgan_faces.pt is not shipped")
def test_fevgan_report_trains_the_ablations_with_the_shipped_architecture(monkeypatch):
    """Without ``models``, Table 3's variants are built like the shipped model (its widths), so
    ``--ablation-steps`` at the shipped budget compares like with like. (Training is stubbed out.)"""
    import dataclasses

    from vgan_lesson import evaluation
    from vgan_lesson.models.fevgan import FEVGAN
    from vgan_lesson.pretrained import load_pretrained

    built = {}

    def untrained(config, identity_state, steps, batch_size, seed, device):
        built[config.name] = config
        return FEVGAN(config).eval()

    monkeypatch.setattr(evaluation, "_train_fevgan_variant", untrained)
    report = evaluation.fevgan_report(num_eval=4, ablation_steps=1, calibration_clips=8)
    assert sorted(built) == ["FEV-GAN", "FEV-GAN w/o E_Id", "FEV-GAN w/o E_s"]
    assert "FEV-GAN (shipped)" in report["rows"]
    shipped = dataclasses.asdict(load_pretrained("fevgan", "faces").config)
    for name, config in built.items():
        mine = dataclasses.asdict(config)
        assert {k: v for k, v in mine.items() if not k.startswith("use_")} == \
               {k: v for k, v in shipped.items() if not k.startswith("use_")}, name


# ----------------------------------------------------------------------------- VICE-GAN (Tables 2 and 4)
VICE_TINY = dict(ae_width=1, g_width=2, d_width=2)       # 32×32×16: the evaluators' clip


def _vice_rows(changes=None):
    """Rows (GAN variants and autoencoders) in which every VICE-GAN claim holds; ``changes`` overwrite values."""
    def model(ssim, mse, acd, cas, kept):
        return {"ssim": ssim, "mse": mse, "acd": acd, "cas": cas, "identity_kept": kept}

    rows = {"Model 1 (unseen)": model(0.50, 0.030, 0.20, 0.40, 0.3),
            "Model 2 (unseen)": model(0.55, 0.025, 0.20, 0.30, 0.3),
            "Model 3 (unseen)": model(0.52, 0.026, 0.10, 0.30, 0.3),
            "Model 4 (unseen)": model(0.54, 0.026, 0.10, 0.40, 0.3),
            "Model 1 (seen)": model(0.60, 0.030, 0.20, 0.40, 0.6),
            "Model 2 (seen)": model(0.70, 0.020, 0.20, 0.60, 0.7),
            "Model 3 (seen)": model(0.62, 0.020, 0.10, 0.40, 0.6),
            "Model 4 (seen)": model(0.66, 0.020, 0.10, 0.50, 0.8)}
    for (kind, size), (mse, ssim) in __import__("vgan_lesson.models.vicegan", fromlist=["x"]).PAPER_TABLE_4.items():
        rows[f"{kind} {size}"] = {"mse": mse, "ssim": ssim}
    for (row, column), value in (changes or {}).items():
        rows[row][column] = value
    return rows


def test_vicegan_claims_get_computed_verdicts_and_say_not_run():
    from vgan_lesson.evaluation import VICEGAN_CLAIMS, check_claims

    held = check_claims(_vice_rows(), VICEGAN_CLAIMS, missing="not run")      # the paper's Table 4 numbers hold
    assert len(held) == len(VICEGAN_CLAIMS) and {c["verdict"] for c in held} == {"reproduced"}
    # a false claim: the variational large autoencoder reconstructs best
    broken = check_claims(_vice_rows({("variational large", "mse"): 0.0001}), VICEGAN_CLAIMS, missing="not run")
    wrong = {c["claim"].split(" (")[0] for c in broken if c["verdict"] == "not reproduced"}
    assert wrong == {"the standard large autoencoder has the lowest MSE of the six"}      # the means still hold
    best = next(c for c in broken if c["claim"].startswith("the standard large autoencoder has the lowest MSE"))
    assert best["best of standard small, standard medium, variational small, variational medium, "
                "variational large"] == 0.0001
    # "each": Models 1 and 4 must both beat Models 2 and 3; a mean is not enough
    unseen = check_claims(_vice_rows({("Model 1 (unseen)", "cas"): 0.31, ("Model 4 (unseen)", "cas"): 0.9}),
                          VICEGAN_CLAIMS, missing="not run")
    verdict = {c["claim"]: c["verdict"] for c in unseen}
    assert verdict["Models 1 and 4 have the highest CAS of the four, unseen"] == "reproduced"
    unseen = check_claims(_vice_rows({("Model 1 (unseen)", "cas"): 0.29, ("Model 4 (unseen)", "cas"): 0.9}),
                          VICEGAN_CLAIMS, missing="not run")
    assert {c["claim"]: c["verdict"] for c in unseen}["Models 1 and 4 have the highest CAS of the four, unseen"] \
        == "not reproduced"
    # seen vs unseen compares means over the four variants
    mean = next(c for c in held if c["column"] == "identity_kept")
    assert mean["mean of Model 1 (seen), Model 2 (seen), Model 3 (seen), Model 4 (seen)"] == pytest.approx(0.675)
    # nothing measured but the seen condition: the Table 4 and the unseen claims are "not run"
    seen_only = {k: v for k, v in _vice_rows().items() if k.endswith("(seen)")}
    verdicts = [c["verdict"] for c in check_claims(seen_only, VICEGAN_CLAIMS, missing="not run")]
    assert verdicts.count("not run") == 6 + 3 + 1 and "not reproduced" not in verdicts


def test_vicegan_report_trains_variants_scores_conditions_and_autoencoders():
    """Tiny untrained models on 8 held-out clips and 1-step variants: the report's plumbing, not the models' quality."""
    from vgan_lesson.evaluation import (VICEGAN_CLAIMS, VICEGAN_COLUMNS, VICEGAN_SHIPPED_ROW, vicegan_real_row,
                                        vicegan_report)
    from vgan_lesson.models.vicegan import VICEGAN, VICEGANConfig, variant_config

    torch.manual_seed(0)
    given = VICEGAN(variant_config("Model 4", "lesson", **VICE_TINY))
    report = vicegan_report(num_eval=8, models={"Model 4 (unseen)": given}, steps=1, batch_size=2,
                            calibration_clips=16, variants=("Model 2", "Model 4"), shipped=False)
    rows = report["rows"]
    assert list(rows) == [vicegan_real_row("unseen"), "Model 2 (unseen)", "Model 4 (unseen)",
                          vicegan_real_row("seen"), "Model 2 (seen)", "Model 4 (seen)"]
    assert VICEGAN_SHIPPED_ROW not in rows
    assert rows[vicegan_real_row("seen")]["ssim"] is None and rows[vicegan_real_row("seen")]["cas"] > 0.5
    assert all(rows["Model 2 (seen)"][c] is not None for c in VICEGAN_COLUMNS)
    assert len(report["claims"]) == len(VICEGAN_CLAIMS)
    verdicts = {c["claim"]: c["verdict"] for c in report["claims"]}
    assert verdicts["Model 4 keeps the identity better than Model 2: lower ACD, seen (Sec. 7, RQ3(d))"] != "not run"
    assert verdicts["the seen condition gives higher SSIM than the unseen one (Models 1-4, mean; shown as bars)"] \
        == "not run"                                                 # Models 1 and 3 were not trained
    assert report["autoencoders"] == {} or list(report["autoencoders"]) == ["standard large (shipped)"]
    assert all(c["verdict"] == "not run" for c in report["claims"] if c["table"] == "Table 4")
    # the given model was scored, not retrained: the same numbers without training anything
    alone = vicegan_report(num_eval=8, models={"Model 4 (unseen)": given}, calibration_clips=16, shipped=False,
                           conditions=("unseen",))
    assert list(alone["rows"]) == [vicegan_real_row("unseen"), "Model 4 (unseen)"]
    assert alone["rows"]["Model 4 (unseen)"] == rows["Model 4 (unseen)"]
    # bad input
    with pytest.raises(ValueError, match="name its row 'Model 2'"):
        vicegan_report(num_eval=8, models={"Model 4 (seen)": VICEGAN(variant_config("Model 2", "lesson", **VICE_TINY))})
    with pytest.raises(ValueError, match="rows are named"):
        vicegan_report(num_eval=8, models={"Model 5 (seen)": given})
    with pytest.raises(ValueError, match="the faces evaluators score 3-channel clips of 16 frames of 32×32"):
        vicegan_report(num_eval=8, models={"Model 4 (seen)": VICEGAN(VICEGANConfig.lesson(**VICE_TINY, frames=8))})
    with pytest.raises(ValueError, match="condition"):
        vicegan_report(num_eval=8, conditions=("half-seen",))
    with pytest.raises(TypeError, match="must be a VICEGAN"):
        vicegan_report(num_eval=8, models={"Model 4 (seen)": torch.nn.Linear(1, 1)})


def test_vicegan_report_table_4_at_one_step():
    from vgan_lesson.evaluation import vicegan_report

    report = vicegan_report(num_eval=4, models={}, conditions=("seen",), variants=("Model 4",), calibration_clips=8,
                            autoencoder_steps=1, autoencoder_clips=2, shipped=False)
    assert list(report["autoencoders"])[:6] == ["standard small", "standard medium", "standard large",
                                                "variational small", "variational medium", "variational large"]
    assert report["autoencoders"]["standard large"]["paper_ssim"] == pytest.approx(0.961358)
    assert {c["verdict"] for c in report["claims"] if c["table"] == "Table 4"} <= {"reproduced", "not reproduced"}
    assert list(report["rows"]) == ["real clips, seen test (reference)"]


def test_shapes_frame_gan_benchmark_runs_and_its_references_separate(tmp_path):
    """benchmarks/shapes_frame_gan.py (issue 3's control) end to end at a toy size: a grid per checkpoint,
    one JSON line, and the shape-blind reference (every object a circle) far above the real-frame floor."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "shapes_frame_gan.py"

    def run_to(steps: int) -> dict:
        run = subprocess.run([sys.executable, str(script), "--width", "4", "--batch", "4", "--steps", str(steps),
                              "--eval-every", "2", "--threads", "1", "--out", str(tmp_path)],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout.strip().splitlines()[-1])

    report = run_to(4)
    assert [row["step"] for row in report["checkpoints"]] == [2, 4]
    assert [row["step"] for row in run_to(6)["checkpoints"]] == [6]      # continues the run, not a new one
    assert all(0 <= row["p_real"] <= 1 and row["fid"] > 0 for row in report["checkpoints"])
    assert sorted(p.name for p in tmp_path.glob("step_*.png")) == ["step_2.png", "step_4.png", "step_6.png"]
    refs = report["references"]
    assert refs["every object a circle"] > 5 * refs["other held-out frames"]
