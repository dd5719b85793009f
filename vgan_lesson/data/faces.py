"""``faces``: synthetic front-view face videos — the stand-in for MUG / Oulu-CASIA / UvA-NEMO (DESIGN §3).

Every video shows one of a **fixed roster of 120 identities** on a dark plain background (as in
FEV-GAN's preprocessed crops) making one of the six basic expressions. The clip starts from the
identity's neutral face, the expression rises smoothly (onset -> apex) and then holds, while the
head moves a little (sway, nod, tilt).

Content (fixed per identity, see :meth:`FacesDataset.roster`): face width and height, jaw shape,
skin tone, hair style (bald, short, long, fringe, curly) and colour, eye colour, size, spacing and
height, brow thickness, nose length and width, mouth width, lip thickness, glasses (and their
colour), beard (none, stubble, full). The roster does not depend on the dataset seed: identity 17
is the same person in every split and every seed.

Motion (drawn per video): the expression ``label``, its ``intensity`` (fraction of the full apex),
``onset`` (fraction of the clip before the face starts to move) and ``speed`` (1 / duration of the
rise, in clips), plus the head-motion amplitudes ``head_dx``, ``head_dy``, ``head_tilt``, its
frequency ``head_freq`` (cycles per clip) and ``head_phase``. Frame ``j`` of ``T`` sits at clip time
``u = j / (T - 1)``, so a video can have any number of frames and always covers the same motion.

Expressions are drawn with FACS-like cues (a table of "action unit" strengths per class,
:data:`EXPRESSION_TABLE`, scaled by the per-frame expression curve):

* anger: brows lowered and pulled together into a V, narrowed eyes, lips pressed thin;
* disgust: upper lip raised (more on one side) baring the upper teeth, nose wrinkled, squint;
* fear: brows raised *and* pulled together, eyes wide, mouth stretched open sideways;
* happiness: mouth corners up in an open smile with teeth, cheeks raised, eyes narrowed;
* sadness: inner brow ends raised (slanted brows), drooping lids, mouth corners down;
* surprise: brows raised high and arched, eyes wide, mouth dropped open into a round O.

How it renders (and why it is fast): the face is drawn upright in *head coordinates*. Everything
that never changes — background, hair, face, ears, nose, beard — is drawn once per video; the parts
that move with the expression (brows, eyes, cheeks, mouth) are drawn for every frame, but only in
two fixed windows around the eyes and the mouth, mostly as regions between two curves ``y = f(x)``
so that each costs a handful of tensor operations; the small head motion is then one affine warp
(``grid_sample``) of every frame. Render extras: ``expression_curve`` ``(N, T)`` (the expression
strength of every frame, 0 = neutral) and ``head_pose`` ``(N, T, 3)`` (dx, dy, tilt in radians).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..checks import check_choice, check_int
from .base import ProceduralVideoDataset, derive_seed
from .raster import coverage, pixel_grid, sdf_box, sdf_ellipse, sdf_segment

Tensor = torch.Tensor

EXPRESSIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")

NUM_IDENTITIES = 120
NUM_TRAIN_IDENTITIES = 96          # subject-independent 80/20 split: 96 train, 24 test identities
SEEN_EXPRESSIONS_PER_TEST_ID = 2   # VICE-GAN "seen": test identities appear in training with 2 of 6 expressions
ROSTER_SEED = derive_seed("faces-roster", NUM_IDENTITIES)

SKIN_TONES = {
    "porcelain": (0.97, 0.84, 0.76), "light": (0.93, 0.76, 0.64), "beige": (0.87, 0.69, 0.54),
    "olive": (0.78, 0.62, 0.44), "tan": (0.70, 0.50, 0.34), "brown": (0.56, 0.38, 0.25),
    "dark": (0.43, 0.28, 0.18), "deep": (0.32, 0.21, 0.14),
}
HAIR_STYLES = ("bald", "short", "long", "fringe", "curly")
HAIR_COLORS = {
    "black": (0.05, 0.04, 0.04), "dark_brown": (0.22, 0.13, 0.08), "brown": (0.42, 0.27, 0.14),
    "auburn": (0.55, 0.22, 0.10), "ginger": (0.86, 0.46, 0.18), "blond": (0.92, 0.80, 0.46),
    "grey": (0.60, 0.60, 0.62), "white": (0.93, 0.93, 0.91),
}
EYE_COLORS = {
    "dark_brown": (0.20, 0.11, 0.06), "brown": (0.42, 0.25, 0.10), "hazel": (0.55, 0.45, 0.20),
    "green": (0.25, 0.58, 0.30), "blue": (0.25, 0.48, 0.90), "grey": (0.58, 0.63, 0.70),
}
GLASSES_COLORS = {
    "black": (0.04, 0.04, 0.05), "tortoise": (0.45, 0.24, 0.10), "gold": (0.88, 0.72, 0.30),
    "red": (0.80, 0.12, 0.12),
}
BEARDS = ("none", "stubble", "full")

BACKGROUND = (0.15, 0.16, 0.20)   # dark slate: black hair still shows against it
EYE_WHITE = (0.96, 0.96, 0.94)
PUPIL = (0.02, 0.02, 0.02)
LASH = (0.08, 0.05, 0.05)
MOUTH_INSIDE = (0.24, 0.05, 0.07)
TEETH = (0.97, 0.95, 0.90)
BLUSH = (0.95, 0.45, 0.45)

# Expression controls ("action units"), in head coordinates (the face is about 1.0 wide):
CONTROLS = (
    "brow_inner",    # vertical shift of the inner brow ends (negative = up)
    "brow_outer",    # vertical shift of the outer brow ends (negative = up)
    "brow_pull",     # brows pulled towards the midline
    "brow_arch",     # extra arch of the brows
    "eye_open",      # relative change of the upper-lid aperture (+ wide, - narrowed)
    "lid_droop",     # outer half of the upper lids lowered
    "lower_lid",     # lower lids raised (squint, cheek push)
    "cheek",         # cheeks raised: blush and a crease under the eyes (0..1)
    "nose_wrinkle",  # wrinkles across the nose bridge (0..1)
    "mouth_corner",  # mouth corners lifted (+ smile, - frown)
    "mouth_width",   # relative change of the mouth width
    "open_upper",    # upper lip lifted off the lip line
    "open_lower",    # lower lip / jaw dropped from the lip line
    "mouth_round",   # shape of the opening: 0 stretched (box-like), 1 oval
    "lip_press",     # lips pressed thin (0..1)
    "teeth_upper",   # how much of the upper teeth shows (0..1)
    "teeth_lower",   # how much of the lower teeth shows (0..1)
    "asymmetry",     # one-sided upper lip raise (right side of the image stronger)
    "fold",          # nasolabial folds from the nose wings to the mouth corners (0..1)
)
_C = {name: i for i, name in enumerate(CONTROLS)}

# strength of every control at the apex of each expression (intensity 1); rows follow EXPRESSIONS
_APEX = {
    "anger": dict(brow_inner=0.085, brow_outer=-0.015, brow_pull=0.035, brow_arch=-0.02, eye_open=-0.3,
                  lower_lid=0.015, nose_wrinkle=0.3, mouth_corner=-0.02, mouth_width=-0.22, lip_press=1.0,
                  fold=0.2),
    "disgust": dict(brow_inner=0.05, brow_outer=0.025, brow_pull=0.02, brow_arch=-0.01, eye_open=-0.35,
                    lower_lid=0.03, cheek=0.25, nose_wrinkle=1.0, mouth_corner=-0.035, mouth_width=-0.08,
                    open_upper=0.05, open_lower=0.006, mouth_round=0.3, teeth_upper=0.9, asymmetry=0.7,
                    fold=0.9),
    "fear": dict(brow_inner=-0.085, brow_outer=-0.035, brow_pull=0.035, brow_arch=-0.02, eye_open=0.75,
                 lower_lid=-0.005, mouth_corner=-0.025, mouth_width=0.3, open_upper=0.025, open_lower=0.05,
                 mouth_round=0.0, teeth_upper=0.9, teeth_lower=0.8, fold=0.25),
    "happiness": dict(brow_inner=-0.01, brow_outer=-0.005, brow_arch=0.005, eye_open=-0.25, lower_lid=0.05,
                      cheek=1.0, mouth_corner=0.075, mouth_width=0.3, open_upper=0.008, open_lower=0.075,
                      mouth_round=0.6, teeth_upper=1.0, fold=1.0),
    "sadness": dict(brow_inner=-0.075, brow_outer=0.025, brow_pull=0.02, brow_arch=-0.015, eye_open=-0.3,
                    lid_droop=0.02, mouth_corner=-0.065, mouth_width=-0.1, lip_press=0.2),
    "surprise": dict(brow_inner=-0.11, brow_outer=-0.10, brow_arch=0.03, eye_open=0.9, lower_lid=-0.01,
                     mouth_width=-0.3, open_upper=0.06, open_lower=0.10, mouth_round=1.0, teeth_upper=0.25),
}
EXPRESSION_TABLE = torch.tensor([[_APEX[e].get(c, 0.0) for c in CONTROLS] for e in EXPRESSIONS])

# Fixed windows (x0, x1, y0, y1) in head coordinates where the moving parts are drawn; they hold
# every part of every roster identity at any intensity (a test checks this against full frames).
EYE_WINDOW = (-0.62, 0.62, -0.46, 0.38)
MOUTH_WINDOW = (-0.50, 0.50, 0.10, 0.80)
HEAD_PIVOT = (0.0, 0.55)   # the head tilts about the neck (image coordinates)
ZOOM = 1.12                # image coordinates = ZOOM * head coordinates: the face fills the frame


def _palette(table: dict) -> Tensor:
    """The colours of a named-colour table as a ``(K, 3)`` tensor, in the table's order."""
    return torch.tensor(list(table.values()), dtype=torch.float32)


# ---------------------------------------------------------------------------- the roster
@lru_cache(maxsize=1)
def _roster() -> dict[str, Tensor]:
    """The fixed table of identity factors, drawn from :data:`ROSTER_SEED` (never the dataset seed)."""
    n = NUM_IDENTITIES
    g = torch.Generator().manual_seed(ROSTER_SEED)

    def uniform(lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=g)

    def balanced(k: int) -> Tensor:
        """Categories 0..k-1 in (near) equal numbers, in random order: every category is present."""
        return torch.randperm(n, generator=g) % k

    def proportion(fractions: tuple[float, ...]) -> Tensor:
        """Categories with the given fractions of the roster, in random order."""
        counts = [round(f * n) for f in fractions]
        counts[0] += n - sum(counts)
        values = torch.cat([torch.full((c,), i) for i, c in enumerate(counts)])
        return values[torch.randperm(n, generator=g)]

    # no two identities share hair style, hair colour and skin tone: the most visible factors
    n_style, n_color, n_skin = len(HAIR_STYLES), len(HAIR_COLORS), len(SKIN_TONES)
    combo = torch.randperm(n_style * n_color * n_skin, generator=g)[:n]
    hair_style, hair_color, skin_tone = combo % n_style, combo // n_style % n_color, combo // (n_style * n_color)
    roster = {
        "face_width": uniform(0.45, 0.57),
        "face_height": uniform(0.66, 0.76),
        "jaw": uniform(0.0, 1.0),                       # 0 pointed chin .. 1 square jaw
        "skin_tone": skin_tone,
        "skin_color": (_palette(SKIN_TONES)[skin_tone] * (1 + 0.04 * (torch.rand(n, 3, generator=g) - 0.5)))
        .clamp(0, 1),
        "hair_style": hair_style,
        "hair_color": hair_color,
        "eye_color": balanced(len(EYE_COLORS)),
        "eye_size": uniform(0.85, 1.2),
        "eye_spacing": uniform(0.19, 0.25),             # half the distance between the eye centres
        "eye_height": uniform(-0.06, 0.02),             # eye line relative to the face centre
        "brow_thickness": uniform(0.018, 0.036),
        "nose_length": uniform(0.17, 0.27),
        "nose_width": uniform(0.05, 0.09),
        "mouth_width": uniform(0.13, 0.19),             # half width at rest
        "lip_thickness": uniform(0.018, 0.032),
        "glasses": proportion((0.7, 0.3)),
        "glasses_color": balanced(len(GLASSES_COLORS)),
        "beard": proportion((0.6, 0.2, 0.2)),
    }
    return roster


@lru_cache(maxsize=1)
def _partition() -> tuple[Tensor, Tensor, Tensor]:
    """(train identities (96,), test identities (24,), seen expressions (120, ≤6) mask) — all fixed."""
    g = torch.Generator().manual_seed(derive_seed("faces-roster", NUM_IDENTITIES, "split"))
    order = torch.randperm(NUM_IDENTITIES, generator=g)
    train_ids = order[:NUM_TRAIN_IDENTITIES].sort().values
    test_ids = order[NUM_TRAIN_IDENTITIES:].sort().values
    seen = torch.ones(NUM_IDENTITIES, len(EXPRESSIONS), dtype=torch.bool)
    for i in test_ids.tolist():
        keep = torch.randperm(len(EXPRESSIONS), generator=g)[:SEEN_EXPRESSIONS_PER_TEST_ID]
        seen[i] = False
        seen[i, keep] = True
    return train_ids, test_ids, seen


def expression_curve(intensity: Tensor, onset: Tensor, speed: Tensor, frames: int) -> Tensor:
    """Expression strength ``(N, T)`` of every frame: 0 until ``onset``, a smoothstep rise lasting
    ``1 / speed`` of the clip, then ``intensity`` held to the end. Frame 0 is always neutral."""
    u = torch.arange(frames, dtype=torch.float32) / (frames - 1)
    p = ((u.view(1, -1) - onset.view(-1, 1)) * speed.view(-1, 1)).clamp(0.0, 1.0)
    return intensity.view(-1, 1) * p * p * (3.0 - 2.0 * p)


def head_pose(factors: dict[str, Tensor], frames: int) -> Tensor:
    """Head motion ``(N, T, 3)``: horizontal sway ``dx``, nod ``dy`` and tilt (radians), smooth sines."""
    u = torch.arange(frames, dtype=torch.float32) / (frames - 1)
    cycles = factors["head_freq"].view(-1, 1, 1) * u.view(1, -1, 1)                   # (N, T, 1)
    angle = 2 * math.pi * cycles + factors["head_phase"].unsqueeze(1)                  # (N, T, 3)
    amp = torch.stack([factors["head_dx"], factors["head_dy"], factors["head_tilt"]], dim=-1).unsqueeze(1)
    # sin in float64, rounded to float32: the same value whichever batch an item is rendered in
    return amp * torch.sin(angle.double()).float()


# ---------------------------------------------------------------------------- drawing helpers
def _lerp_paint(canvas: Tensor, color: Tensor, alpha: Tensor) -> Tensor:
    """Composite ``color`` ``(N, 3)`` over ``canvas`` ``(N, [T,] 3, H, W)`` in place with opacity ``alpha``
    ``(N, [T,] 1, H, W)`` — one fused pass (``lerp_``)."""
    col = color.view(color.shape[0], *([1] * (canvas.ndim - 4)), 3, 1, 1)
    return canvas.lerp_(col, alpha)


def _band(y: Tensor, top: Tensor, bottom: Tensor, size: int, inside: Tensor | None = None) -> Tensor:
    """Coverage of the region ``top(x) <= y <= bottom(x)`` between two curves.

    ``top`` and ``bottom`` are rows ``(..., 1, W)`` (one value per pixel column), ``y`` is a column
    ``(H, 1)``; the distance is measured vertically, which is accurate for the gently sloped curves of
    lips, lids and brows. ``inside`` (a boolean row) limits the region horizontally. A band thinner
    than a pixel covers at most its thickness, so lines fade in smoothly as they open up.
    """
    half = (bottom - top) * 0.5
    if inside is not None:
        half = torch.where(inside, half, torch.full_like(half, -1.0))
    k = size / 2.0                       # pixels per head-coordinate unit
    alpha = (y - (top + bottom) * 0.5).abs_().mul_(-k).add_(half * k + 0.5).clamp_(0.0, 1.0)
    return torch.minimum(alpha, (2 * k * half).clamp(0.0, 1.0))


def _head_grid(size: int) -> tuple[Tensor, Tensor, float]:
    """Pixel centres in head coordinates, ``(H, 1)`` and ``(1, W)``, and the pixels per two head units
    (the ``size`` argument of :func:`coverage` in head coordinates)."""
    gy, gx = pixel_grid(size)
    return gy / ZOOM, gx / ZOOM, size * ZOOM


def _window(size: int, window: tuple[float, float, float, float]) -> tuple[slice, slice]:
    """Pixel row and column slices covering a head-coordinate window ``(x0, x1, y0, y1)``."""
    x0, x1, y0, y1 = (ZOOM * a for a in window)

    def to_px(a: float, b: float) -> slice:
        return slice(max(0, math.floor((a + 1) * size / 2)), min(size, math.ceil((b + 1) * size / 2)))
    return to_px(y0, y1), to_px(x0, x1)


def face_layout(f: dict[str, Tensor]) -> dict[str, Tensor]:
    """Positions and sizes of the face parts (head coordinates, each ``(N,)``) from identity factors."""
    cy = torch.full_like(f["face_width"], 0.02)
    ry_up = f["face_height"]
    ry_low = f["face_height"] * (0.97 + 0.06 * f["jaw"])
    chin = cy + ry_low
    eye_y = cy + f["eye_height"]
    size = f["eye_size"]
    nose_y = eye_y + f["nose_length"]
    return {
        "cy": cy, "rx": f["face_width"], "ry_up": ry_up, "ry_low": ry_low, "chin": chin, "jaw": f["jaw"],
        "eye_y": eye_y, "eye_x": f["eye_spacing"], "eye_w": 0.085 * size, "eye_hu": 0.042 * size,
        "eye_hl": 0.034 * size, "iris_r": 0.045 * size,
        "brow_y": eye_y - 0.115 - 0.025 * size, "brow_t": f["brow_thickness"],
        "nose_y": nose_y, "nose_w": f["nose_width"],
        "mouth_y": nose_y + 0.07 + 0.30 * (chin - nose_y - 0.2),
        "mouth_w": f["mouth_width"], "lip_t": f["lip_thickness"],
    }


# ---------------------------------------------------------------------------- the dataset
class FacesDataset(ProceduralVideoDataset):
    """Synthetic facial-expression videos of a fixed roster of identities (see the module docstring).

    Splits: ``train`` / ``test`` are subject-independent (96 / 24 identities, every expression);
    ``seen_train`` / ``seen_test`` are VICE-GAN's *seen* condition: ``seen_train`` holds the train
    identities with all six expressions plus every test identity with only two expressions
    (:meth:`seen_expressions`), and ``seen_test`` the test identities with their other four.
    Within a split every allowed (identity, expression) pair occurs equally often (±1).
    """

    name: ClassVar[str] = "faces"
    splits: ClassVar[tuple[str, ...]] = ("train", "test", "seen_train", "seen_test")
    class_names: ClassVar[tuple[str, ...]] = EXPRESSIONS
    default_clips: ClassVar[dict[str, int]] = {"train": 9_600, "test": 2_400, "seen_train": 9_984,
                                               "seen_test": 1_536}
    num_identities: ClassVar[int] = NUM_IDENTITIES
    hair_style_names: ClassVar[tuple[str, ...]] = HAIR_STYLES
    hair_color_names: ClassVar[tuple[str, ...]] = tuple(HAIR_COLORS)
    skin_tone_names: ClassVar[tuple[str, ...]] = tuple(SKIN_TONES)
    eye_color_names: ClassVar[tuple[str, ...]] = tuple(EYE_COLORS)
    glasses_color_names: ClassVar[tuple[str, ...]] = tuple(GLASSES_COLORS)
    beard_names: ClassVar[tuple[str, ...]] = BEARDS

    @property
    def render_chunk(self) -> int:
        """Videos per vectorised render call: about two million pixel-frames, the fastest on a CPU."""
        return max(1, min(64, (1 << 21) // (self.frames * self.size * self.size)))

    # ------------------------------------------------------------ identities and splits
    @classmethod
    def roster(cls) -> dict[str, Tensor]:
        """The identity table: a dict of tensors with first dimension 120 (a fresh copy)."""
        return {k: v.clone() for k, v in _roster().items()}

    @classmethod
    def neutral_faces_through_classes(cls, n: int, size: int, channels: int = 3,
                                      num_classes: int = len(EXPRESSIONS)) -> tuple[Tensor, Tensor]:
        """``n`` neutral faces of held-out (test) identities ``(n, channels, size, size)`` and labels ``(n,)``,
        each identity through the classes in order: identity ``j // num_classes``, label ``j % num_classes``
        (the fixed inputs of a conditional model's sample grid; 1 channel is the grey mean)."""
        ids = cls.identities("test")
        ids = ids[(torch.arange(n) // num_classes) % len(ids)]
        data = cls("test", size=size, frames=2, num_clips=1)
        video, _ = data.render_factors(data.factors_for(ids, torch.zeros_like(ids)))
        faces = video[:, :, 0]                                   # the neutral first frame
        if channels == 1:
            faces = faces.mean(1, keepdim=True)
        return faces, torch.arange(n) % num_classes

    @classmethod
    def identities(cls, split: str) -> Tensor:
        """Sorted identity ids that appear in ``split``."""
        check_choice("split for dataset 'faces'", split, cls.splits)
        train_ids, test_ids, _ = _partition()
        if split == "train":
            return train_ids.clone()
        if split == "seen_train":
            return torch.arange(NUM_IDENTITIES)
        return test_ids.clone()

    @classmethod
    def seen_expressions(cls, identity: int) -> tuple[int, ...]:
        """Expression indices identity ``identity`` shows in ``seen_train`` (all six for train identities)."""
        check_int("identity", identity, 0, NUM_IDENTITIES - 1)
        return tuple(_partition()[2][identity].nonzero().flatten().tolist())

    @classmethod
    def pairs(cls, split: str) -> Tensor:
        """All allowed ``(identity, expression)`` pairs of ``split``, shape ``(P, 2)``."""
        ids = cls.identities(split)
        allowed = torch.ones(NUM_IDENTITIES, len(EXPRESSIONS), dtype=torch.bool)
        if split == "seen_train":
            allowed = _partition()[2]
        elif split == "seen_test":
            allowed = ~_partition()[2]
        mask = torch.zeros_like(allowed)
        mask[ids] = allowed[ids]
        return mask.nonzero()

    # ------------------------------------------------------------ chosen faces
    def factors_for(self, identities, expressions, intensity: float = 1.0, still: bool = True) -> dict[str, Tensor]:
        """Factors of chosen ``(identity, expression)`` pairs (two equal-length sequences of ids).

        The expression starts neutral at frame 0 and reaches ``intensity`` exactly at the last frame
        (onset 0, speed 1); ``still=True`` also switches the head motion off. The other factors come
        from item 0 of this dataset. Render them with :meth:`render_factors`.
        """
        ids = torch.as_tensor(identities, dtype=torch.long).reshape(-1)
        labels = torch.as_tensor(expressions, dtype=torch.long).reshape(-1)
        if ids.shape != labels.shape:
            raise ValueError(f"identities and expressions must have the same length, got {ids.numel()} "
                             f"and {labels.numel()}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= NUM_IDENTITIES):
            raise ValueError(f"identities must lie in [0, {NUM_IDENTITIES}), got {ids.tolist()}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(EXPRESSIONS)):
            raise ValueError(f"expressions must lie in [0, {len(EXPRESSIONS)}) ({', '.join(EXPRESSIONS)}), "
                             f"got {labels.tolist()}")
        n = ids.numel()
        f = {k: v[[0] * n].clone() for k, v in self.factors.items()}
        f.update({k: v[ids] for k, v in _roster().items()})
        f.update(identity=ids, label=labels, intensity=torch.full((n,), float(intensity)),
                 onset=torch.zeros(n), speed=torch.ones(n))
        if still:
            for k in ("head_dx", "head_dy", "head_tilt"):
                f[k] = torch.zeros(n)
        return f

    def expression_grid(self, identities, intensity: float = 1.0, still: bool = True) -> Tensor:
        """Videos ``(len(identities) * 6, C, T, H, W)``: each identity through the six expressions in
        class order, neutral at frame 0 and at the apex in the last frame."""
        ids = torch.as_tensor(identities, dtype=torch.long).reshape(-1)
        k = len(EXPRESSIONS)
        f = self.factors_for(ids.repeat_interleave(k), torch.arange(k).repeat(ids.numel()), intensity, still)
        return self.render_factors(f)[0]

    # ------------------------------------------------------------ factors
    def sample_factors(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        pairs = self.pairs(self.split)
        reps = -(-n // len(pairs))
        order = torch.cat([torch.randperm(len(pairs), generator=generator) for _ in range(reps)])[:n]
        identity, label = pairs[order].unbind(1)

        def uniform(lo: float, hi: float, *shape: int) -> Tensor:
            return lo + (hi - lo) * torch.rand(n, *shape, generator=generator)

        rise = uniform(0.35, 0.75)                         # fraction of the clip from onset to apex
        factors = {
            "label": label, "identity": identity,
            "intensity": uniform(0.6, 1.0),
            "onset": uniform(0.0, 0.2),
            "speed": 1.0 / rise,
            "head_dx": uniform(0.0, 0.04),
            "head_dy": uniform(0.0, 0.025),
            "head_tilt": uniform(0.0, 0.07),
            "head_freq": uniform(0.25, 0.9),
            "head_phase": uniform(0.0, 2 * math.pi, 3),
        }
        factors.update({k: v[identity] for k, v in _roster().items()})
        return factors

    # ------------------------------------------------------------ rendering
    def render_factors(self, factors: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        n, t, s = factors["label"].shape[0], self.frames, self.size
        layout = face_layout(factors)
        curve = expression_curve(factors["intensity"], factors["onset"], factors["speed"], t)
        controls = curve.unsqueeze(-1) * EXPRESSION_TABLE[factors["label"]].unsqueeze(1)   # (N, T, K)
        colors = self._colors(factors)

        static = self._draw_static(factors, layout, colors, s)                          # (N, 3, H, W)
        video = static.unsqueeze(1).expand(n, t, 3, s, s).contiguous()                   # (N, T, 3, H, W)
        self._draw_eyes(video, factors, layout, colors, controls, s)
        self._draw_mouth(video, layout, colors, controls, s)

        pose = head_pose(factors, t)
        video = self._move_head(video, pose)
        video = video.transpose(1, 2).contiguous()                                       # (N, 3, T, H, W)
        return video.mul_(2.0).sub_(1.0).clamp_(-1.0, 1.0), {"expression_curve": curve, "head_pose": pose}

    @staticmethod
    def _colors(f: dict[str, Tensor]) -> dict[str, Tensor]:
        skin = f["skin_color"]
        hair = _palette(HAIR_COLORS)[f["hair_color"]]
        return {
            "skin": skin, "hair": hair,
            "skin_shade": skin * 0.84, "skin_dark": skin * 0.62,
            "brow": torch.minimum(hair * 0.8, skin * 0.5),          # brows always darker than skin
            "lips": skin * torch.tensor([0.80, 0.52, 0.52]) + torch.tensor([0.14, 0.02, 0.03]),
            "iris": _palette(EYE_COLORS)[f["eye_color"]],
            "glasses": _palette(GLASSES_COLORS)[f["glasses_color"]],
            "blush": skin * 0.6 + torch.tensor(BLUSH) * 0.4,
        }

    @staticmethod
    def _draw_static(f: dict[str, Tensor], L: dict[str, Tensor], colors: dict[str, Tensor], s: int) -> Tensor:
        """Background, hair, neck, ears, face, nose and beard: one image per video ``(N, 3, H, W)``."""
        n = f["label"].shape[0]
        gy, gx, S = _head_grid(s)
        y, x = gy.view(1, s, 1), gx.view(1, 1, s)
        v = {k: t.view(n, 1, 1) for k, t in L.items()}
        style, beard = f["hair_style"].view(n, 1, 1), f["beard"].view(n, 1, 1)
        canvas = torch.tensor(BACKGROUND).view(1, 3, 1, 1).repeat(n, 1, s, s)
        paint = lambda color, alpha: _lerp_paint(canvas, color, alpha.unsqueeze(1))   # noqa: E731
        cov = lambda sdf, blur=1.0: coverage(sdf, S, blur)                              # noqa: E731

        # face: an ellipse above the eye line; below it a blend of an ellipse (pointed chin) and a
        # rounded box (square jaw) as the jaw factor says
        lower = y > v["cy"]
        upper_face = sdf_ellipse(x, y, 0.0, v["cy"], v["rx"], v["ry_up"])
        chin_round = sdf_ellipse(x, y, 0.0, v["cy"], v["rx"], v["ry_low"])
        chin_square = sdf_box(x, y, 0.0, v["cy"], v["rx"], v["ry_low"], rounding=0.45 * v["rx"])
        face = torch.where(lower, chin_round + v["jaw"] * (chin_square - chin_round), upper_face)  # (N, H, W)
        head = sdf_ellipse(x, y, 0.0, v["cy"] - 0.02, v["rx"] + 0.04, v["ry_up"] + 0.05)

        # back hair: long hair falls to the shoulders, a fringe is a bob, curls make a big round mop
        long_back = torch.minimum(head - 0.05, sdf_box(x, y, 0.0, v["cy"] + 0.45, v["rx"] + 0.10, 0.55,
                                                       rounding=0.12))
        bob_back = torch.minimum(head - 0.04, sdf_box(x, y, 0.0, v["cy"] + 0.2, v["rx"] + 0.08,
                                                      v["mouth_y"] - v["cy"] - 0.12, rounding=0.1))
        curls = 0.025 * (torch.cos(22 * x) + torch.cos(22 * y))                       # bumpy outline
        curly_back = sdf_ellipse(x, y, 0.0, v["cy"] - 0.12, v["rx"] + 0.2, v["ry_up"] + 0.1) - curls
        back = torch.where(style == 2, long_back, torch.where(style == 3, bob_back, torch.where(
            style == 4, curly_back, torch.full_like(face, 9.0))))
        paint(colors["hair"] * torch.where(style.view(n, 1) == 4, 0.95, 0.85), cov(back))

        # neck and ears
        paint(colors["skin"] * 0.72, cov(sdf_box(x, y, 0.0, v["chin"] + 0.25, 0.5 * v["rx"], 0.45, rounding=0.05)))
        ears = sdf_ellipse(x.abs(), y, v["rx"] - 0.005, v["eye_y"] + 0.08, 0.065, 0.12)
        paint(colors["skin_shade"], cov(ears))

        # face with a darker rim: a soft lighter inner region over a shaded base
        paint(colors["skin_shade"], cov(face))
        paint(colors["skin"], cov(face + 0.07, blur=0.10 * S))

        # nose: a soft shadow under the tip, the nostrils and a line down one side of the bridge
        nw = v["nose_w"]
        paint(colors["skin_shade"], 0.7 * cov(sdf_ellipse(x, y, 0.0, v["nose_y"] - 0.015, 1.1 * nw, 0.045),
                                              blur=0.03 * S))
        paint(colors["skin_dark"] * 0.7, cov(sdf_ellipse(x.abs(), y, 0.45 * nw, v["nose_y"], 0.3 * nw, 0.014)))
        bridge = sdf_segment(x, y, -0.035, v["eye_y"] + 0.03, -0.55 * nw, v["nose_y"] - 0.05, 0.008)
        paint(colors["skin_dark"], 0.45 * cov(bridge))

        # beard: stubble is a dark tint, a full beard covers jaw and upper lip in hair colour
        ax = (x / v["rx"]).abs()                                                         # 0 centre, 1 face edge
        top = v["nose_y"] + 0.04 - (v["nose_y"] - v["eye_y"] - 0.08) * ax * ax * ax
        full = torch.maximum(torch.where(lower, face - 0.035, face), top - y)
        lips_area = sdf_ellipse(x, y, 0.0, v["mouth_y"] + 0.01, v["mouth_w"] + 0.035, 2.2 * v["lip_t"] + 0.02)
        full = torch.maximum(full, -lips_area)                   # the lips show through the beard
        paint(colors["hair"] * 0.85, cov(full, blur=1.5) * (beard == 2))
        stubble = torch.maximum(face, top + 0.02 - y)
        paint(colors["hair"] * 0.25 + colors["skin"] * 0.45, 0.5 * cov(stubble, blur=0.02 * S) * (beard == 1))

        # front hair: a cap above a hairline that depends on the style
        ax3 = ax * ax * ax
        short_line = v["cy"] - 0.62 * v["ry_up"] + 0.55 * v["ry_up"] * ax3
        fringe_line = v["brow_y"] - 0.13 + 0.012 * torch.sin(40 * x) + 0.3 * ax3 * ax3
        curly_line = short_line + 0.02 * torch.sin(30 * x)
        line = torch.where(style == 3, fringe_line, torch.where(style == 4, curly_line, short_line))
        cap = torch.maximum(head, y - line)
        # long hair and the bob also hang down over the sides of the face
        curtain_in = v["rx"] * (0.82 + 0.08 * (y - v["eye_y"]).clamp(0, 1))
        curtain = torch.maximum(curtain_in - x.abs(), back)
        cap = torch.where((style == 2) | (style == 3), torch.minimum(cap, curtain), cap)
        cap = torch.where(style == 0, torch.full_like(cap, 9.0), cap)
        paint(colors["hair"], cov(cap))
        # bald heads get a soft shine
        shine = sdf_ellipse(x, y, 0.08, v["cy"] - 0.62 * v["ry_up"], 0.12, 0.06)
        paint(torch.ones(n, 3), 0.25 * cov(shine, blur=0.08 * S) * (style == 0))
        return canvas

    @staticmethod
    def _draw_eyes(video: Tensor, f: dict[str, Tensor], L: dict[str, Tensor], colors: dict[str, Tensor],
                   controls: Tensor, s: int) -> None:
        """Brows, eyes, cheeks, nose wrinkles and glasses into the eye window of every frame, in place."""
        n, t = controls.shape[:2]
        rows, cols = _window(s, EYE_WINDOW)
        canvas = video[:, :, :, rows, cols]                                  # (N, T, 3, h, w) view
        gy, gx, S = _head_grid(s)
        y, x = gy[rows].view(1, 1, 1, -1, 1), gx[:, cols].view(1, 1, 1, 1, -1)
        ax = x.abs()                                                         # both eyes at once: mirror x
        v = {k: t_.view(n, 1, 1, 1, 1) for k, t_ in L.items()}
        c = {name: controls[..., i].view(n, t, 1, 1, 1) for name, i in _C.items()}
        paint = lambda color, alpha: _lerp_paint(canvas, color, alpha)      # noqa: E731

        # cheeks: a soft blush and a crease under each eye when the cheeks rise
        cheek = coverage(sdf_ellipse(ax, y, v["eye_x"] + 0.03, v["eye_y"] + 0.2, 0.09, 0.055), S, 0.06 * S)
        paint(colors["blush"], cheek * (0.55 * c["cheek"]))

        # eye opening between the upper and the lower lid curves
        u = (ax - v["eye_x"]) / v["eye_w"]                                   # -1 inner corner, +1 outer
        inside = u.abs() < 1
        base = 1 - u.clamp(-1, 1) ** 2
        prof_up = base.sqrt()                                                # the upper lid arches more
        prof_low = prof_up * prof_up.sqrt()
        up = v["eye_y"] - v["eye_hu"] * (1 + c["eye_open"]) * prof_up \
            + c["lid_droop"] * prof_up * (0.5 + 0.5 * u.clamp(-1, 1))
        low = v["eye_y"] + (v["eye_hl"] * (1 + 0.3 * c["eye_open"].clamp_min(0)) - c["lower_lid"]) * prof_low
        low = torch.maximum(low, up)
        white = _band(y, up, low, S, inside)
        paint(torch.tensor(EYE_WHITE).expand(n, 3), white)
        iris = coverage(torch.sqrt((ax - v["eye_x"]) ** 2 + (y - v["eye_y"]) ** 2) - v["iris_r"], S)
        paint(colors["iris"], torch.minimum(iris, white))
        pupil = coverage(torch.sqrt((ax - v["eye_x"]) ** 2 + (y - v["eye_y"]) ** 2) - 0.45 * v["iris_r"], S)
        paint(torch.tensor(PUPIL).expand(n, 3), torch.minimum(pupil, white))
        # lash line along the upper lid, a faint line along the lower lid, a crease under a raised cheek
        lash = 0.014 + 0.004 * v["eye_w"] / 0.085
        paint(torch.tensor(LASH).expand(n, 3), _band(y, up - lash, up + 0.3 * lash, S, u.abs() < 1.1))
        paint(colors["skin_dark"], 0.5 * _band(y, low, low + 0.01, S, inside))
        crease_y = v["eye_y"] + v["eye_hl"] + 0.03 - 0.02 * prof_low
        paint(colors["skin_dark"], (0.6 * c["cheek"]) * _band(y, crease_y, crease_y + 0.012, S, inside))

        # brows: a thick curve from the inner (-1) to the outer (+1) end, tapering outwards
        bw = 1.2 * v["eye_w"]
        ub = (ax - (v["eye_x"] + 0.015 - c["brow_pull"])) / bw
        ubc = ub.clamp(-1, 1)
        centre = v["brow_y"] + c["brow_inner"] * (1 - ubc) / 2 + c["brow_outer"] * (1 + ubc) / 2 \
            - (0.03 + c["brow_arch"]) * (1 - ubc ** 2)
        ubc4 = (ubc * ubc) ** 2
        thick = v["brow_t"] * (1 - 0.35 * (ubc + 1) / 2) * (1 - ubc4 * ubc4).sqrt()   # rounded ends
        paint(colors["brow"], _band(y, centre - thick, centre + thick, S, ub.abs() < 1))

        # nose wrinkles: two short arcs across the bridge
        wr_inside = x.abs() < 0.055
        wr = torch.maximum(
            _band(y, v["eye_y"] + 0.0 - 3 * x ** 2, v["eye_y"] + 0.02 - 3 * x ** 2, S, wr_inside),
            _band(y, v["eye_y"] + 0.04 - 4 * x ** 2, v["eye_y"] + 0.06 - 4 * x ** 2, S, wr_inside))
        paint(colors["skin_dark"], wr * (0.8 * c["nose_wrinkle"]))

        # glasses: two rounded frames, a bridge and the arms to the ears, over lightly tinted lenses
        glasses = f["glasses"].view(n, 1, 1, 1, 1).float()
        if glasses.any():
            gw = v["eye_w"] + 0.05                                          # lens half width
            lens = sdf_box(ax, y, v["eye_x"], v["eye_y"] + 0.005, gw, 0.085, rounding=0.045)
            paint(torch.ones(n, 3), 0.12 * glasses * coverage(lens, S))
            frame = torch.minimum(lens.abs() - 0.013, sdf_box(ax, y, 0.0, v["eye_y"] - 0.02,
                                                              v["eye_x"] - gw + 0.01, 0.011))
            arm = sdf_segment(ax, y, v["eye_x"] + gw, v["eye_y"] - 0.03, v["rx"] + 0.01, v["eye_y"] - 0.04, 0.011)
            paint(colors["glasses"], glasses * coverage(torch.minimum(frame, arm), S))

    @staticmethod
    def _draw_mouth(video: Tensor, L: dict[str, Tensor], colors: dict[str, Tensor], controls: Tensor,
                    s: int) -> None:
        """Nasolabial folds, lips, mouth opening and teeth into the mouth window of every frame, in place."""
        n, t = controls.shape[:2]
        rows, cols = _window(s, MOUTH_WINDOW)
        canvas = video[:, :, :, rows, cols]
        gy, gx, S = _head_grid(s)
        y, x = gy[rows].view(1, 1, 1, -1, 1), gx[:, cols].view(1, 1, 1, 1, -1)
        v = {k: t_.view(n, 1, 1, 1, 1) for k, t_ in L.items()}
        c = {name: controls[..., i].view(n, t, 1, 1, 1) for name, i in _C.items()}
        paint = lambda color, alpha: _lerp_paint(canvas, color, alpha)      # noqa: E731

        width = v["mouth_w"] * (1 + c["mouth_width"])
        u = x / width
        inside = u.abs() < 1
        uc = u.clamp(-1, 1)
        base = 1 - uc ** 2
        side = 1 + c["asymmetry"] * torch.sign(x)                           # one-sided lip raise

        # nasolabial folds: lines x = f(y) from the nose wings down to beside the mouth corners
        y0, y1 = v["nose_y"] - 0.01, v["mouth_y"] + 0.03
        fy = ((y - y0) / (y1 - y0)).clamp(0, 1)
        fold_x = 1.5 * v["nose_w"] + (width + 0.035 - 1.5 * v["nose_w"]) * fy * fy.sqrt().sqrt()
        fold = (0.5 - ((x.abs() - fold_x).abs() - 0.007) * (S / 2)).clamp(0, 1) * ((y > y0) & (y < y1))
        paint(colors["skin_dark"], fold * (0.7 * c["fold"]))

        # the lip line, bent up at the corners for a smile and down for a frown
        line = v["mouth_y"] - c["mouth_corner"] * uc ** 2 - 0.01 * c["asymmetry"] * torch.sign(x) * base
        u4 = (uc * uc) ** 2
        oval, boxy = base.sqrt(), (1 - u4 * u4).sqrt().sqrt()                # profiles of the opening
        prof = boxy + c["mouth_round"] * (oval - boxy)
        inner_up = line - c["open_upper"] * side.clamp_min(0) * prof
        inner_low = line + c["open_lower"] * prof
        lip = v["lip_t"] * (1 - 0.65 * c["lip_press"])
        bow = 1 - 0.3 / (1 + (u / 0.16) ** 2) ** 2                             # cupid's bow: a dip in the middle
        outer_up = inner_up - lip * base.sqrt() * bow
        outer_low = inner_low + 1.25 * lip * base.sqrt()
        paint(colors["lips"], _band(y, outer_up, outer_low, S, inside))
        gap = 0.006
        mouth = _band(y, inner_up - gap, inner_low + gap, S, inside)
        paint(torch.tensor(MOUTH_INSIDE).expand(n, 3), mouth)
        # teeth show only in the open part of the mouth, so they grow in as the lips part
        opening = _band(y, inner_up, inner_low, S, inside)
        teeth_up = _band(y, inner_up, inner_up + 0.045 * c["teeth_upper"], S, inside)
        paint(torch.tensor(TEETH).expand(n, 3), torch.minimum(teeth_up, opening))
        teeth_low = _band(y, inner_low - 0.035 * c["teeth_lower"], inner_low, S, inside)
        paint(torch.tensor(TEETH).expand(n, 3) * 0.92, torch.minimum(teeth_low, opening))

    @staticmethod
    def _move_head(video: Tensor, pose: Tensor) -> Tensor:
        """Warp every frame ``(N, T, 3, H, W)`` by its head pose (shift and tilt about the neck)."""
        n, t, ch, h, w = video.shape
        dx, dy, tilt = pose.reshape(-1, 3).unbind(1)
        cos, sin = torch.cos(tilt.double()).float(), torch.sin(tilt.double()).float()
        # output pixel p shows the canvas at q = R(-tilt) (p - pivot - d) + pivot
        a = lambda v: v.view(-1, 1, 1)                                      # noqa: E731  (N*T, 1, 1)
        px, py = HEAD_PIVOT
        gy, gx = pixel_grid(h)                                               # align_corners=False centres
        rx, ry = gx - px - a(dx), gy - py - a(dy)
        grid = torch.stack([a(cos) * rx + a(sin) * ry + px, a(cos) * ry - a(sin) * rx + py], dim=-1)
        frames = video.view(n * t, ch, h, w)
        out = F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return out.view(n, t, ch, h, w)
