"""The ``faces`` dataset: roster, splits, expression timing, rendering and its determinism."""
import pytest
import torch

import vgan_lesson.data.faces as faces
from vgan_lesson.checks import check_video
from vgan_lesson.data.faces import EXPRESSIONS, FacesDataset, expression_curve

ALL = torch.arange(6)


def grid_factors(ids, labels, size_ds: FacesDataset, intensity: float = 1.0, still: bool = True) -> dict:
    """Factors for every (identity, label) combination given, fully expressed, apex at the last frame."""
    return size_ds.factors_for(ids, labels, intensity, still)


@pytest.fixture(scope="module")
def all_pairs_32():
    """Every identity with every expression at 32 px: (neutral, apex) frames, identity and label ids."""
    ds = FacesDataset("seen_train", size=32, frames=2, num_clips=1)
    ids, labels = torch.arange(120).repeat_interleave(6), ALL.repeat(120)
    video, _ = ds.render_factors(grid_factors(ids, labels, ds))
    return video[:, :, 0], video[:, :, 1], ids, labels


# ---------------------------------------------------------------- items, shapes, determinism
def test_items_shapes_range_and_factors():
    ds = FacesDataset("train", size=32, frames=6, num_clips=10, seed=4)
    b = ds.batch(range(10))
    assert b["video"].shape == (10, 3, 6, 32, 32) and b["video"].dtype == torch.float32
    check_video(b["video"], batched=True)
    assert b["video"].min() >= -1 and b["video"].max() <= 1 and b["video"].std() > 0.1
    assert b["expression_curve"].shape == (10, 6) and b["head_pose"].shape == (10, 6, 3)
    assert b["label"].dtype == torch.int64 and set(b["label"].tolist()) <= set(range(6))
    assert FacesDataset.class_names == ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
    roster = FacesDataset.roster()
    for key, table in roster.items():            # every identity factor travels with the item
        assert torch.equal(b[key], table[b["identity"]]), key
    item = ds[3]
    assert item["video"].shape == (3, 6, 32, 32) and int(item["identity"]) == int(b["identity"][3])


@pytest.mark.parametrize("size, frames", [(16, 2), (64, 3), (256, 2)])
def test_any_size_and_frame_count(size, frames):
    v = FacesDataset("test", size=size, frames=frames, num_clips=2).render([0, 1])
    assert v.shape == (2, 3, frames, size, size) and v.min() >= -1 and v.max() <= 1


def test_deterministic_and_batch_independent():
    a = FacesDataset(size=32, frames=8, num_clips=40, seed=1)
    b = FacesDataset(size=32, frames=8, num_clips=40, seed=1)
    c = FacesDataset(size=32, frames=8, num_clips=40, seed=2)
    va = a.render(range(40))
    assert torch.equal(va, b.render(range(40)))
    assert torch.equal(a.render([7, 3, 30])[1], va[3])      # item 3 is the same in any batch
    assert torch.equal(a[30]["video"], va[30])
    assert not torch.equal(va, c.render(range(40)))
    assert not torch.equal(a.factors["identity"], c.factors["identity"])


# ---------------------------------------------------------------- the roster
def test_roster_is_fixed_varied_and_independent_of_seed():
    roster = FacesDataset.roster()
    assert all(v.shape[0] == 120 for v in roster.values()) and FacesDataset.num_identities >= 100
    roster["face_width"][0] = 99.0                                # a copy: the table itself is untouched
    assert FacesDataset.roster()["face_width"][0] < 1
    # every category of every categorical identity factor occurs
    assert set(roster["hair_style"].tolist()) == set(range(len(FacesDataset.hair_style_names)))
    assert set(roster["beard"].tolist()) == {0, 1, 2} and set(roster["glasses"].tolist()) == {0, 1}
    assert set(roster["skin_tone"].tolist()) == set(range(len(FacesDataset.skin_tone_names)))
    # identity k has the same factors whatever the dataset seed or split
    for seed, split in [(0, "seen_train"), (9, "seen_train"), (3, "test")]:
        ds = FacesDataset(split, size=16, frames=2, num_clips=300, seed=seed)
        for key in ("face_width", "hair_style", "skin_color", "glasses", "beard"):
            assert torch.equal(ds.factors[key], FacesDataset.roster()[key][ds.factors["identity"]])


def test_identities_look_different(all_pairs_32):
    neutral, _, ids, labels = all_pairs_32
    faces_ = neutral[labels == 0].flatten(1)                      # one neutral face per identity
    dist = torch.cdist(faces_, faces_) / faces_.shape[1] ** 0.5   # RMS pixel difference
    dist.fill_diagonal_(float("inf"))
    assert dist.min() > 0.05                                      # no two identities look alike


# ---------------------------------------------------------------- splits
def test_subject_independent_split():
    train, test = FacesDataset.identities("train"), FacesDataset.identities("test")
    assert len(train) == 96 and len(test) == 24
    assert set(train.tolist()).isdisjoint(test.tolist())
    assert set(train.tolist()) | set(test.tolist()) == set(range(120))
    ds = FacesDataset("test", size=16, frames=2, num_clips=500)
    assert set(ds.factors["identity"].tolist()) == set(test.tolist())
    assert set(ds.factors["label"].tolist()) == set(range(6))


def test_seen_condition_partition():
    train, test = FacesDataset.identities("train"), FacesDataset.identities("test")
    assert torch.equal(FacesDataset.identities("seen_test"), test)
    assert torch.equal(FacesDataset.identities("seen_train"), torch.arange(120))
    for i in train.tolist():
        assert FacesDataset.seen_expressions(i) == tuple(range(6))
    for i in test.tolist():
        assert len(FacesDataset.seen_expressions(i)) == 2
    assert len({FacesDataset.seen_expressions(i) for i in test.tolist()}) > 3   # chosen per identity
    seen_train = {tuple(p) for p in FacesDataset.pairs("seen_train").tolist()}
    seen_test = {tuple(p) for p in FacesDataset.pairs("seen_test").tolist()}
    assert len(seen_train) == 96 * 6 + 24 * 2 and len(seen_test) == 24 * 4
    assert seen_train.isdisjoint(seen_test)
    assert seen_train | seen_test == {(i, e) for i in range(120) for e in range(6)}
    for i, e in seen_test:
        assert i in test.tolist() and e not in FacesDataset.seen_expressions(i)
    # the datasets draw exactly these pairs, each about equally often
    for split, allowed in [("seen_train", seen_train), ("seen_test", seen_test)]:
        ds = FacesDataset(split, size=16, frames=2, num_clips=len(allowed) * 2 + 1)
        drawn = list(zip(ds.factors["identity"].tolist(), ds.factors["label"].tolist()))
        assert set(drawn) == allowed
        counts = torch.tensor([drawn.count(p) for p in allowed])
        assert counts.min() >= 2 and counts.max() <= 3


def test_bad_arguments():
    with pytest.raises(ValueError, match="'train', 'test', 'seen_train', 'seen_test'"):
        FacesDataset("val")
    with pytest.raises(ValueError, match="unknown split"):
        FacesDataset.identities("unseen")
    with pytest.raises(ValueError, match="identity must be <= 119"):
        FacesDataset.seen_expressions(120)
    with pytest.raises(ValueError, match="multiple of 8"):
        FacesDataset(size=60)
    with pytest.raises(ValueError, match="frames must be >= 2"):
        FacesDataset(frames=1)


# ---------------------------------------------------------------- expression timing and motion
def test_expression_curve_neutral_start_smooth_rise_and_hold():
    curve = expression_curve(torch.tensor([0.8, 1.0]), torch.tensor([0.1, 0.0]), torch.tensor([2.0, 1.0]), 21)
    assert torch.all(curve[:, 0] == 0)
    assert torch.all(curve[:, 1:] >= curve[:, :-1])                           # never falls back
    assert torch.allclose(curve[0, 12:], torch.tensor(0.8))                   # apex at u = 0.6, then held
    assert curve[0, 2] == 0 and 0 < curve[0, 4] < 0.8                         # nothing before the onset
    assert torch.allclose(curve[1, -1], torch.tensor(1.0)) and curve[1, -2] < 1.0
    ds = FacesDataset(size=16, frames=9, num_clips=30)
    b = ds.batch(range(30))
    assert torch.allclose(b["expression_curve"], expression_curve(b["intensity"], b["onset"], b["speed"], 9))
    apex_time = b["onset"] + 1 / b["speed"]
    assert torch.all(apex_time <= 0.95) and torch.all(b["intensity"] >= 0.6)


def test_first_frame_neutral_apex_differs():
    ds = FacesDataset("train", size=32, frames=5, num_clips=1, seed=3)
    f = {k: v.repeat(6, *([1] * (v.ndim - 1))) for k, v in ds.factors_of([0]).items()}
    f["label"] = ALL.clone()
    f["onset"] = torch.zeros(6)
    video, extra = ds.render_factors(f)                 # same person, same head motion, six expressions
    for k in range(1, 6):
        assert torch.equal(video[k, :, 0], video[0, :, 0])          # frame 0 is the same neutral face
    apex = video[:, :, -1].flatten(1)
    gaps = torch.cdist(apex, apex) / apex.shape[1] ** 0.5
    gaps.fill_diagonal_(float("inf"))
    assert gaps.min() > 0.02                                        # every pair of expressions differs
    # at zero intensity the label makes no difference anywhere in the clip
    f["intensity"] = torch.zeros(6)
    still, _ = ds.render_factors(f)
    assert all(torch.equal(still[k], still[0]) for k in range(6))


def test_head_motion_moves_the_face():
    ds = FacesDataset("train", size=32, frames=6, num_clips=1)
    f = {k: v.clone() for k, v in ds.factors.items()}
    f["intensity"] = torch.zeros(1)
    f.update(head_dx=torch.zeros(1), head_dy=torch.zeros(1), head_tilt=torch.zeros(1))
    frozen, extra = ds.render_factors(f)
    assert torch.all(extra["head_pose"] == 0)
    assert all(torch.equal(frozen[0, :, j], frozen[0, :, 0]) for j in range(6))
    f.update(head_dx=torch.tensor([0.04]), head_tilt=torch.tensor([0.07]))
    moving, extra = ds.render_factors(f)
    assert extra["head_pose"][0, :, 0].abs().max() > 0.02
    assert (moving[0, :, 1:] - moving[0, :, :-1]).abs().amax() > 0.2


# ---------------------------------------------------------------- what the pictures show
def test_expressions_are_consistent_across_identities(all_pairs_32):
    """A linear read-out of the change neutral -> apex, fitted on the train identities, names the
    expression of the 24 test identities it never saw."""
    neutral, apex, ids, labels = all_pairs_32
    change = torch.cat([(apex - neutral).flatten(1), torch.ones(len(ids), 1)], dim=1)
    train = torch.isin(ids, FacesDataset.identities("train"))
    x, y = change[train], torch.nn.functional.one_hot(labels[train], 6).float()
    w = torch.linalg.solve(x.T @ x + torch.eye(x.shape[1]), x.T @ y)        # ridge regression
    predicted = (change[~train] @ w).argmax(1)
    assert (predicted == labels[~train]).float().mean() > 0.95


def test_identity_survives_the_expression(all_pairs_32):
    """A face at the apex of one expression is closest to the same person's face in another."""
    _, apex, ids, labels = all_pairs_32
    for a, b in [(3, 5), (0, 4), (2, 1)]:
        query, gallery = apex[labels == a].flatten(1), apex[labels == b].flatten(1)
        match = torch.cdist(query, gallery).argmin(1)
        assert (match == torch.arange(120)).float().mean() > 0.9, (EXPRESSIONS[a], EXPRESSIONS[b])


@pytest.mark.parametrize("size", [16, 48])
def test_moving_parts_stay_inside_their_windows(monkeypatch, size):
    """Drawing brows, eyes and mouth only inside the fixed windows loses nothing, for every identity."""
    ds = FacesDataset("seen_train", size=size, frames=2, num_clips=1)
    f = grid_factors(torch.arange(120).repeat_interleave(6), ALL.repeat(120), ds)
    windowed, _ = ds.render_factors(f)
    whole = (-1 / faces.ZOOM, 1 / faces.ZOOM, -1 / faces.ZOOM, 1 / faces.ZOOM)
    monkeypatch.setattr(faces, "EYE_WINDOW", whole)
    monkeypatch.setattr(faces, "MOUTH_WINDOW", whole)
    full, _ = ds.render_factors(f)
    assert torch.allclose(windowed, full, atol=1e-5)


def test_expression_grid_and_factors_for_errors():
    ds = FacesDataset("train", size=32, frames=4, num_clips=1)
    grid = ds.expression_grid([3, 7])
    assert grid.shape == (12, 3, 4, 32, 32)
    # frame 0 is neutral for every expression of one identity; the apex frames all differ
    assert (grid[:6, :, 0] - grid[0:1, :, 0]).abs().max() < 1e-5
    apex = grid[:6, :, -1].flatten(1)
    assert torch.cdist(apex, apex).add(torch.eye(6) * 1e3).min() > 0.5
    with pytest.raises(ValueError, match="same length"):
        ds.factors_for([1, 2], [0])
    with pytest.raises(ValueError, match=r"identities must lie in \[0, 120\)"):
        ds.factors_for([120], [0])
    with pytest.raises(ValueError, match="expressions must lie in"):
        ds.factors_for([0], [6])
