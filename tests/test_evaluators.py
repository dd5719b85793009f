"""Evaluator networks: shapes of every output, a real learning check, save/load with a manifest."""
import json

import pytest
import torch

from vgan_lesson.data import make_dataset
from vgan_lesson.evaluators import (TARGETS, Evaluator, EvaluatorConfig, accuracy, load_evaluator, train_evaluator,
                                    verification_accuracy)


@pytest.mark.parametrize("dataset, kind", sorted(TARGETS))
def test_every_evaluator_builds_and_shapes(dataset, kind):
    model = Evaluator(EvaluatorConfig(dataset=dataset, kind=kind, size=16, frames=8, width=4, feature_dim=8)).eval()
    videos = make_dataset(dataset, "test", size=32, frames=8, num_clips=3).render(range(3))   # resized to 16
    feats, logits = model.features(videos), model.logits(videos)
    if kind == "video":
        assert feats.shape == (3, 8) and logits["label"].shape[0] == 3
    else:
        assert feats.shape == (3, 8, 8)
        assert all(v.shape[:2] == (3, 8) for v in logits.values())
    if kind == "identity":
        assert torch.allclose(feats.norm(dim=-1), torch.ones(3, 8), atol=1e-5)


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown evaluator kind"):
        EvaluatorConfig(kind="audio")
    with pytest.raises(ValueError, match=r"\(dataset, kind\)"):
        EvaluatorConfig(dataset="shapes", kind="identity")
    model = Evaluator(EvaluatorConfig(size=16, frames=8, width=4))
    with pytest.raises(ValueError, match="clips of 8 frames"):
        model.features(torch.zeros(1, 3, 4, 16, 16))
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\)"):
        model.features(torch.zeros(3, 8, 16, 16))


def test_frame_evaluator_learns_content_and_round_trips(tmp_path):
    """A short run learns the easy content factors (colour, background: chance 1/8 and 1/4); the
    harder ones (shape, the video evaluators' actions) need the longer runs of the shipping script."""
    entry = train_evaluator("shapes", "frame", tmp_path, steps=120, batch_size=32, num_clips=512, entry={"command": "pytest"},
                            size=16, frames=4, width=8, feature_dim=16, lr=3e-3)
    # chance: colour 1/8, background 1/4; a broken network or a mislabelled head stays there
    assert entry["held_out"]["color_accuracy"] > 0.4 and entry["held_out"]["background_accuracy"] > 0.5
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["shapes_frame"]["sha256"] == entry["sha256"] and manifest["shapes_frame"]["command"] == "pytest"
    model = load_evaluator(tmp_path / "shapes_frame.pt")
    held_out = make_dataset("shapes", "test", size=16, frames=4, num_clips=512, seed=1)
    assert accuracy(model, held_out) == pytest.approx(entry["held_out"], abs=1e-4)
    (tmp_path / "shapes_frame.pt").write_bytes((tmp_path / "shapes_frame.pt").read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ValueError, match="does not match its manifest"):
        load_evaluator(tmp_path / "shapes_frame.pt")


def test_identity_verification_is_measured_on_held_out_identities():
    model = Evaluator(EvaluatorConfig(dataset="faces", kind="identity", size=16, width=4, feature_dim=8))
    result = verification_accuracy(model, size=16, frames=2, pairs=40)
    assert result["held_out_pairs"] == 40 and 0.0 <= result["verification_accuracy"] <= 1.0
