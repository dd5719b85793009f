"""The shipped REncGAN3 chain on dancer: its codes do not run away, its colours hold, its joins beat glued clips.

Measured on the shipped file itself (a few seconds on 2 CPU cores). The first shipped model, trained
with independent prior clips and the default KL weight, fails the first two checks: its content codes
grew x1.87 over 16 links and its frames brightened from +0.09 to +0.37 (measured in session 6).
"""
from __future__ import annotations

import pytest
import torch

from vgan_lesson.evaluation import generate
from vgan_lesson.longvideo import chain_drift, concatenate_independent, long_video_seams
from vgan_lesson.pretrained import load_pretrained


@pytest.fixture(scope="module")
def model():
    return load_pretrained("rencgan3", "dancer")


@pytest.mark.parametrize("sample", [False, True])
def test_shipped_chain_keeps_its_codes_and_colours(model, sample):
    drift = chain_drift(model, links=16, n=32, seed=0, sample=sample)
    assert 0.5 < drift["growth"] < 1.3, drift["code_norm"]
    assert max(drift["code_norm"]) < 1.5 * drift["prior_norm"], drift["code_norm"]
    assert abs(drift["brightness"][-1] - drift["brightness"][0]) < 0.15, drift["brightness"]
    assert min(drift["spread"]) > 0.05, drift["spread"]                  # the videos still differ
    assert min(drift["motion"]) > 0.01, drift["motion"]                  # and still move


def test_shipped_chain_joins_are_smaller_than_glued_clips(model):
    stride, n, links = model.config.stride, 16, 8
    with torch.no_grad():
        chained = model.long_video(n, stride * links, torch.Generator().manual_seed(0))
        clips = generate(model, n * links, seed=1).view(n, links, *chained.shape[1:2], model.config.frames,
                                                         *chained.shape[3:])
    glued = concatenate_independent(clips, stride)[:, :, :stride * links]
    chain_ratio, glued_ratio = long_video_seams(chained, stride)["ratio"], long_video_seams(glued, stride)["ratio"]
    assert chain_ratio < 0.75 * glued_ratio, (chain_ratio, glued_ratio)
