"""``dancer``: an articulated figure moving without end — the stand-in for Tai-Chi-HD (DESIGN §3).

REncGAN3 learns *long* videos (hundreds of frames) by cutting them into clips of 16 frames that
overlap by 8. Its dataset, Tai-Chi-HD, shows one person, full body, front view, moving slowly and
never quite repeating. This module renders the same kind of video procedurally:

* **Content** (constant over a video, drawn in :meth:`DancerDataset.sample_factors`): body
  proportions (``height``, limb thickness ``build``, ``shoulders``, ``head_size``) and colours
  (``skin``, ``hair``, ``shirt``, ``trousers``, ``shoes``, the ``wall`` and ``floor`` behind).
* **Motion**: the ``label`` is a motion *style* (:data:`STYLES`): which joints move, how far, how
  fast and how left and right are coupled. ``tempo`` and ``energy`` scale speed and amplitude.
* **Pose**: every driven joint follows a smooth stochastic process — a damped spring (a
  second-order Ornstein–Uhlenbeck process) pushed by a random force that itself drifts smoothly::

      f[t+1] = a f[t] + sqrt(1 - a^2) eps[t]                       eps ~ N(0, 1), fresh every frame
      v[t+1] = v[t] - 2 zeta omega v[t] - omega^2 z[t] + gain f[t]
      z[t+1] = z[t] + v[t+1]

  Position and velocity change smoothly (no jumps, no jitter), and because the noise never
  repeats, neither does the motion: it is not a sum of sines, its autocorrelation dies out after
  a few spring periods (:func:`autocorrelation`, :func:`closest_repeat` measure this). ``z`` is
  stationary with unit variance; a sigmoid maps it into each joint's range, so limbs stay
  plausible without hard clamps. The vertical position of the body is not free: the pelvis is
  placed so that the lower foot stands on the floor (a smooth maximum of the two legs' reach),
  which turns bent knees into squats and a raised leg into a kick.

Item ``i``'s noise comes from its own generator, seeded with ``derive_seed(name, seed, split, i)``
(stored as the factor ``motion_seed``), and is drawn in fixed blocks of :data:`NOISE_BLOCK`
frames. So item ``i`` does not depend on batch composition, a shorter video is a prefix of a
longer one, and :meth:`DancerDataset.iter_frames` can render thousands of frames chunk by chunk
with the pose process carried across chunks — the same frames as rendering at once.

Render extras: ``pose`` ``(N, T, J)`` in the order of :attr:`DancerDataset.joint_names` (angles in
radians, ``root_x`` / ``root_y`` in image units) and ``keypoints`` ``(N, T, K, 2)`` (x right,
y down, both in [-1, 1]) in the order of :attr:`DancerDataset.keypoint_names`. The figure faces
the camera, so its *left* side (``l_*``) is on the image's right.
"""
from __future__ import annotations

import math
from typing import ClassVar, Iterator

import torch

from ..checks import check_int
from .base import ProceduralVideoDataset, derive_seed
from .clips import clip_starts, cut_clips
from .raster import coverage, pixel_grid

Tensor = torch.Tensor

STYLES = ("sway", "arms", "kicks", "squats")
JOINT_NAMES = ("root_x", "root_y", "lean", "neck", "l_shoulder", "l_elbow", "r_shoulder", "r_elbow",
               "l_hip", "l_knee", "r_hip", "r_knee")
KEYPOINT_NAMES = ("pelvis", "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
                  "r_wrist", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle")
J = len(JOINT_NAMES)
ROOT_Y = JOINT_NAMES.index("root_y")   # not driven by noise: set by the floor contact

# Joint ranges (radians; root_x in image units): lower limit, upper limit, rest pose.
#   lean  : torso tilt, positive towards the image's right.   neck: head tilt relative to the torso.
#   shoulder: arm raised sideways from hanging (0) to overhead (~pi).
#   elbow : forearm rotation relative to the upper arm, positive further outwards/up.
#   hip   : leg raised sideways.   knee: bend, shin turning back under the body (a horse stance).
_LIMITS = torch.tensor([
    # lo     hi    rest
    [-0.12, 0.12, 0.00],   # root_x
    [0.00, 1.00, 0.50],    # root_y (placeholder: computed from the legs)
    [-0.30, 0.30, 0.00],   # lean
    [-0.35, 0.35, 0.00],   # neck
    [-0.30, 2.90, 0.25],   # l_shoulder
    [-1.60, 2.00, 0.20],   # l_elbow
    [-0.30, 2.90, 0.25],   # r_shoulder
    [-1.60, 2.00, 0.20],   # r_elbow
    [-0.05, 1.35, 0.10],   # l_hip
    [0.00, 1.50, 0.10],    # l_knee
    [-0.05, 1.35, 0.10],   # r_hip
    [0.00, 1.50, 0.10],    # r_knee
])
_GAIN = 1.5   # slope of the sigmoid that maps the latent z into a joint's range

# Per style and joint: amplitude (std of the latent before the sigmoid) and the spring's period in
# frames (omega = 2 pi / period). root_y's entries are unused.
#                     root_x root_y lean neck  l_sh  l_el  r_sh  r_el  l_hip l_kn  r_hip r_kn
_AMPLITUDE = torch.tensor([
    [1.3, 0.0, 1.2, 0.8, 0.5, 0.6, 0.5, 0.6, 0.25, 0.5, 0.25, 0.5],    # sway
    [0.3, 0.0, 0.3, 0.5, 1.3, 1.0, 1.3, 1.0, 0.15, 0.3, 0.15, 0.3],    # arms
    [0.4, 0.0, 0.4, 0.5, 0.6, 0.7, 0.6, 0.7, 1.3, 1.0, 1.3, 1.0],      # kicks
    [0.3, 0.0, 0.3, 0.4, 0.6, 0.6, 0.6, 0.6, 1.1, 1.3, 1.1, 1.3],      # squats
])
_PERIOD = torch.tensor([
    [70.0, 1.0, 60.0, 50.0, 50.0, 50.0, 50.0, 50.0, 60.0, 60.0, 60.0, 60.0],   # sway
    [60.0, 1.0, 60.0, 40.0, 44.0, 40.0, 44.0, 40.0, 60.0, 60.0, 60.0, 60.0],   # arms
    [50.0, 1.0, 50.0, 40.0, 40.0, 40.0, 40.0, 40.0, 36.0, 32.0, 36.0, 32.0],   # kicks
    [50.0, 1.0, 50.0, 40.0, 40.0, 40.0, 40.0, 40.0, 36.0, 36.0, 36.0, 36.0],   # squats
])
# Left/right coupling: each limb joint mixes its own latent with one shared by both sides,
#   z_joint = sqrt(1 - |rho|) z_own + sign * sqrt(|rho|) z_shared,   sign = -1 on the right if rho < 0,
# so rho near 1 moves both sides together (squats), rho < 0 alternates them (kicks).
#                     shoulders elbows hips knees
_COUPLING = torch.tensor([
    [0.5, 0.5, 0.9, 0.9],     # sway
    [0.2, 0.2, 0.8, 0.8],     # arms
    [0.3, 0.3, -0.7, -0.7],   # kicks
    [0.7, 0.7, 0.9, 0.9],     # squats
])
_SHARED_OF = {"l_shoulder": 0, "r_shoulder": 0, "l_elbow": 1, "r_elbow": 1,
              "l_hip": 2, "r_hip": 2, "l_knee": 3, "r_knee": 3}
N_SHARED = 4
N_LATENT = J + N_SHARED   # one latent per joint column plus the shared ones
KNEE_SLACK = 0.35         # radians the shin may turn inwards past vertical
DAMPING = 0.45            # zeta: below 1, so the spring overshoots a little, like a swing of the arm
FORCE_TIME = 5.0          # frames over which the random driving force stays correlated
NOISE_BLOCK = 64          # frames of noise drawn per generator call (fixed, so chunking cannot change it)
FLOOR_Y = 0.90            # image y of the floor line the feet stand on
HORIZON_Y = 0.25          # where the wall meets the floor
PIXEL_CHUNK = 1 << 18     # pixels drawn per vectorised call (64 frames at 64 px: the working set stays in cache)

SKIN_TONES = torch.tensor([[0.98, 0.84, 0.72], [0.93, 0.75, 0.60], [0.80, 0.60, 0.45],
                           [0.65, 0.46, 0.32], [0.48, 0.33, 0.22], [0.35, 0.24, 0.17]])
HAIR_COLORS = torch.tensor([[0.08, 0.06, 0.05], [0.30, 0.18, 0.09], [0.55, 0.38, 0.20],
                            [0.85, 0.70, 0.40], [0.60, 0.60, 0.62], [0.55, 0.20, 0.10]])
TROUSER_COLORS = torch.tensor([[0.10, 0.12, 0.25], [0.12, 0.12, 0.13], [0.30, 0.22, 0.15],
                               [0.35, 0.37, 0.40], [0.15, 0.25, 0.45], [0.85, 0.85, 0.82]])


def _hsv_to_rgb(h: Tensor, s: Tensor, v: Tensor) -> Tensor:
    """HSV (each ``(N,)``, all in [0, 1]) to RGB ``(N, 3)``."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + h.unsqueeze(1) * 6.0) % 6.0
    return v.unsqueeze(1) - (v * s).unsqueeze(1) * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)


def _mixing(style: Tensor, energy: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """How each joint's latent is made from the simulated ones, per video (see ``_COUPLING``).

    Returns ``own`` ``(N, J)`` and ``shared`` ``(N, J)`` weights and the index ``(J,)`` of each
    joint's shared latent (any index for joints without one: their shared weight is 0).
    """
    amp = _AMPLITUDE[style] * energy.unsqueeze(1)                         # (N, J)
    rho = torch.zeros(style.shape[0], J)
    sign = torch.ones(style.shape[0], J)
    index = torch.zeros(J, dtype=torch.long)
    for name, k in _SHARED_OF.items():
        j = JOINT_NAMES.index(name)
        rho[:, j] = _COUPLING[style, k]
        index[j] = J + k
        if name.startswith("r_"):
            sign[:, j] = torch.sign(_COUPLING[style, k])
    own = amp * torch.sqrt(1.0 - rho.abs())
    shared = amp * torch.sqrt(rho.abs()) * sign
    return own, shared, index


class PoseProcess:
    """The pose of a batch of videos as a stochastic process that can be advanced chunk by chunk.

    Each video has ``N_LATENT`` independent latents (one per joint column plus the shared
    left/right ones). Each latent ``z`` is a damped spring driven by a smooth random force ``f``::

        f[t+1] = a f[t] + sqrt(1 - a^2) eps[t]                  (a = exp(-1 / FORCE_TIME))
        v[t+1] = v[t] - 2 zeta omega v[t] - omega^2 z[t] + gain f[t]
        z[t+1] = z[t] + v[t+1]

    The force is itself an Ornstein–Uhlenbeck process, correlated over ``FORCE_TIME`` frames, so
    not only the position but also the velocity changes smoothly (white noise on the velocity
    would give a visible jitter). ``gain`` is set from the continuous-time variance so that
    ``z`` is stationary with variance 1, and the process starts in (approximately) that stationary
    state, so frame 0 looks like any other frame.

    Each video's noise ``eps`` comes from its own generator in blocks of ``NOISE_BLOCK`` frames, so
    the result depends neither on the batch nor on how the frames are split into chunks.
    """

    def __init__(self, motion_seed: Tensor, style: Tensor, tempo: Tensor, energy: Tensor):
        self.generators = [torch.Generator().manual_seed(int(s)) for s in motion_seed]
        n = len(self.generators)
        period = torch.empty(n, N_LATENT)
        period[:, :J] = _PERIOD[style]
        for name, k in _SHARED_OF.items():                   # a shared latent moves like its joints
            period[:, J + k] = _PERIOD[style, JOINT_NAMES.index(name)]
        omega = 2.0 * math.pi / (period * tempo.unsqueeze(1))                  # (N, L) rad/frame
        lam = 1.0 / FORCE_TIME
        # the spring plus the force's filter is a third-order linear system driven by white noise,
        # s^3 + a1 s^2 + a2 s + a3; its stationary variances in closed form (continuous time):
        a1 = lam + 2.0 * DAMPING * omega
        a2 = omega * omega + 2.0 * DAMPING * omega * lam
        a3 = lam * omega * omega
        var_z = 2.0 * lam * a1 / (2.0 * a3 * (a1 * a2 - a3))                 # with gain 1
        self.gain = torch.rsqrt(var_z)                                        # makes Var(z) = 1
        self.decay = 1.0 - 2.0 * DAMPING * omega
        self.stiffness = omega * omega
        self.force_keep = math.exp(-lam)
        self.force_new = math.sqrt(1.0 - self.force_keep ** 2)
        # start near the stationary state: z ~ N(0, 1), v ~ N(0, a3 / a1), f ~ N(0, 1)
        start = torch.stack([torch.randn(3, N_LATENT, generator=g) for g in self.generators]) \
            if n else torch.zeros(0, 3, N_LATENT)
        self.z, self.v, self.f = start[:, 0], start[:, 1] * torch.sqrt(a3 / a1), start[:, 2]
        self.own, self.shared, self.shared_index = _mixing(style, energy)
        lo, hi, rest = _LIMITS.unbind(1)
        self.lo, self.span = lo, hi - lo
        self.bias = torch.logit((rest - lo) / (hi - lo))
        self._noise = torch.zeros(n, 0, N_LATENT)                           # drawn but not yet used

    def _take_noise(self, t: int) -> Tensor:
        """The next ``t`` frames of noise ``(N, t, L)``, drawing whole blocks as needed."""
        while self._noise.shape[1] < t:
            block = torch.stack([torch.randn(NOISE_BLOCK, N_LATENT, generator=g) for g in self.generators])
            self._noise = torch.cat([self._noise, block], dim=1)
        noise, self._noise = self._noise[:, :t], self._noise[:, t:]
        return noise

    def latents(self, t: int) -> Tensor:
        """Advance ``t`` frames; the latents ``z`` ``(N, t, L)`` of those frames (the first is the current state)."""
        fresh = self._take_noise(t) * self.force_new
        out = torch.empty(self.z.shape[0], t, N_LATENT)
        z, v, f = self.z, self.v, self.f
        for k in range(t):
            out[:, k] = z
            v = v * self.decay - self.stiffness * z + self.gain * f
            z = z + v
            f = f * self.force_keep + fresh[:, k]
        self.z, self.v, self.f = z, v, f
        return out

    def advance(self, t: int) -> Tensor:
        """The joint values ``(N, t, J)`` of the next ``t`` frames (``root_y`` left at 0)."""
        z = self.latents(t)
        mixed = z[..., :J] * self.own.unsqueeze(1) + z[..., self.shared_index] * self.shared.unsqueeze(1)
        pose = self.lo + self.span * torch.sigmoid(_GAIN * mixed + self.bias)
        pose[..., ROOT_Y] = 0.0
        # a knee may bend only so far that the shin stays no more than KNEE_SLACK past vertical
        # (otherwise a bent knee with the leg hanging straight would cross the shin under the body)
        for side in ("l", "r"):
            hip, knee = JOINT_NAMES.index(f"{side}_hip"), JOINT_NAMES.index(f"{side}_knee")
            pose[..., knee] = -_smooth_max(-pose[..., knee], -(pose[..., hip] + KNEE_SLACK), sharpness=12.0)
        return pose


def _smooth_max(a: Tensor, b: Tensor, sharpness: float) -> Tensor:
    """A smooth maximum (log-sum-exp), within ``log(2) / sharpness`` of ``max(a, b)``."""
    return torch.maximum(a, b) + torch.log1p(torch.exp(-sharpness * (a - b).abs())) / sharpness


def _direction(angle: Tensor) -> tuple[Tensor, Tensor]:
    """Unit vector pointing down (``angle = 0``), turned by ``angle`` towards the image's right."""
    return torch.sin(angle), torch.cos(angle)


def body_dimensions(factors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Segment lengths and radii in image units, each ``(N, 1)`` so they broadcast over frames."""
    b = factors["height"].unsqueeze(1)
    build = factors["build"].unsqueeze(1)
    return {
        "thigh": 0.245 * b, "shin": 0.225 * b, "foot": 0.035 * b, "torso": 0.30 * b, "neck": 0.035 * b,
        "upper_arm": 0.18 * b, "forearm": 0.15 * b,
        "shoulder_w": 0.105 * b * factors["shoulders"].unsqueeze(1), "hip_w": 0.068 * b,
        "head_r": 0.062 * b * factors["head_size"].unsqueeze(1),
        "r_thigh": 0.044 * b * build, "r_shin": 0.036 * b * build, "r_foot": 0.024 * b,
        "r_upper_arm": 0.033 * b * build, "r_forearm": 0.027 * b * build, "r_hand": 0.032 * b * build,
        "r_neck": 0.026 * b, "torso_w": 0.10 * b * factors["shoulders"].unsqueeze(1) * (0.6 + 0.4 * build),
    }


def forward_kinematics(pose: Tensor, dims: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Place the figure: keypoints ``(N, T, K, 2)`` from joint values ``(N, T, J)``.

    Also fills ``pose[..., root_y]`` (in place, and returns ``pose``): how far the pelvis sits below
    its height when standing straight, chosen so that the lower foot touches the floor.
    """
    p = dict(zip(JOINT_NAMES, pose.unbind(-1)))
    legs = {}
    for side, s in (("l", 1.0), ("r", -1.0)):
        hip, knee = p[f"{side}_hip"], p[f"{side}_knee"]
        tx, ty = _direction(s * hip)
        sx, sy = _direction(s * (hip - knee))
        legs[side] = (s, tx, ty, sx, sy)
    reach = [dims["thigh"] * ty + dims["shin"] * sy + dims["foot"] for (_, _, ty, _, sy) in legs.values()]
    standing = dims["thigh"] + dims["shin"] + dims["foot"]
    pelvis_y = FLOOR_Y - _smooth_max(reach[0], reach[1], sharpness=30.0)
    pose[..., ROOT_Y] = pelvis_y - (FLOOR_Y - standing)
    pelvis_x = p["root_x"]

    points = {"pelvis": (pelvis_x, pelvis_y)}
    for side, (s, tx, ty, sx, sy) in legs.items():
        hx, hy = pelvis_x + s * dims["hip_w"], pelvis_y
        kx, ky = hx + dims["thigh"] * tx, hy + dims["thigh"] * ty
        points[f"{side}_hip"] = (hx, hy)
        points[f"{side}_knee"] = (kx, ky)
        points[f"{side}_ankle"] = (kx + dims["shin"] * sx, ky + dims["shin"] * sy)

    lean = p["lean"]
    ux, uy = torch.sin(lean), -torch.cos(lean)                    # the torso's "up" direction
    nx, ny = pelvis_x + dims["torso"] * ux, pelvis_y + dims["torso"] * uy
    points["neck"] = (nx, ny)
    tilt = lean + p["neck"]
    head_dist = dims["neck"] + dims["head_r"]
    points["head"] = (nx + head_dist * torch.sin(tilt), ny - head_dist * torch.cos(tilt))
    for side, s in (("l", 1.0), ("r", -1.0)):
        # shoulders sit on the line across the top of the torso, a little below the neck
        sx0 = nx + s * dims["shoulder_w"] * (-uy) - 0.3 * dims["r_upper_arm"] * ux
        sy0 = ny + s * dims["shoulder_w"] * ux - 0.3 * dims["r_upper_arm"] * uy
        upper = -lean + s * p[f"{side}_shoulder"]                # absolute angle from "down"
        fore = upper + s * p[f"{side}_elbow"]
        ax, ay = _direction(upper)
        fx, fy = _direction(fore)
        ex, ey = sx0 + dims["upper_arm"] * ax, sy0 + dims["upper_arm"] * ay
        points[f"{side}_shoulder"] = (sx0, sy0)
        points[f"{side}_elbow"] = (ex, ey)
        points[f"{side}_wrist"] = (ex + dims["forearm"] * fx, ey + dims["forearm"] * fy)
    keypoints = torch.stack([torch.stack(points[name], dim=-1) for name in KEYPOINT_NAMES], dim=-2)
    return keypoints, pose


def _capsule(gx: Tensor, gy: Tensor, ax: Tensor, ay: Tensor, bx: Tensor, by: Tensor, r: Tensor) -> Tensor:
    """Exact signed distance to the capsule of radius ``r`` around the segment ``a``–``b``.

    The same distance as :func:`~vgan_lesson.data.raster.sdf_segment`, computed in fewer full-size
    operations: ``across`` is the distance from the segment's line and ``along`` how far past an
    end the point lies, both built from ``(N, T, 1, W)`` and ``(N, T, H, 1)`` pieces (endpoint
    tensors are ``(N, T, 1, 1)``); the distance is ``hypot(across, along) - r``.
    """
    dx, dy = bx - ax, by - ay
    inv_len = torch.rsqrt(dx * dx + dy * dy + 1e-12)
    ux, uy = dx * inv_len, dy * inv_len                     # unit direction
    half = 0.5 / inv_len                                    # half the segment's length
    px, py = gx - (ax + bx) * 0.5, gy - (ay + by) * 0.5     # from the midpoint: (N, T, 1, W), (N, T, H, 1)
    across = px * uy - py * ux                              # full size from here on
    along = (px * ux + py * uy).abs_().sub_(half).clamp_(min=0.0)
    return across.hypot_(along).sub_(r)


def _disc(gx: Tensor, gy: Tensor, cx: Tensor, cy: Tensor, r: Tensor) -> Tensor:
    """Exact signed distance to a disc (``hypot`` of the ``(N, T, 1, W)`` and ``(N, T, H, 1)`` offsets)."""
    return torch.hypot(gx - cx, gy - cy).sub_(r)


LAYERS = ("skin_arms", "sleeves", "hair", "skin_head", "shirt", "shoes", "trousers", "shadow", "wall", "floor")


def draw_figures(keypoints: Tensor, pose: Tensor, dims: dict[str, Tensor], colors: Tensor, size: int) -> Tensor:
    """Draw ``(n, t)`` frames of the figure: ``(n, 3, t, H, W)`` in [0, 1].

    ``dims`` holds ``(n, 1)`` tensors, ``colors`` is ``(n, G, 3)`` in the layer order of
    :data:`LAYERS`. Every layer's coverage is computed once (the minimum of its parts' distances),
    the layers are composited front to back into per-layer weights, and one batched matrix product
    mixes the colours.
    """
    n, t = keypoints.shape[:2]
    gy, gx = pixel_grid(size)
    k = {name: (keypoints[:, :, i, 0, None, None], keypoints[:, :, i, 1, None, None])
         for i, name in enumerate(KEYPOINT_NAMES)}
    d = {key: v.view(n, 1, 1, 1) for key, v in dims.items()}

    def cap(a: str, b: str, r: Tensor) -> Tensor:
        return _capsule(gx, gy, *k[a], *k[b], r)

    def cov(sdf: Tensor) -> Tensor:
        return coverage(sdf, size)

    lean = pose[:, :, JOINT_NAMES.index("lean"), None, None]
    tilt = lean + pose[:, :, JOINT_NAMES.index("neck"), None, None]
    ux, uy = torch.sin(lean), -torch.cos(lean)
    layers = []                                                   # front to back, as LAYERS
    # hands and forearms (skin)
    hands = []
    for side in ("l", "r"):
        ex, ey = k[f"{side}_elbow"]
        wx, wy = k[f"{side}_wrist"]
        hands.append(cap(f"{side}_elbow", f"{side}_wrist", d["r_forearm"]))
        fx, fy = wx - ex, wy - ey
        scale = d["r_hand"] * 0.8 * torch.rsqrt(fx * fx + fy * fy + 1e-12)
        hands.append(_disc(gx, gy, wx + fx * scale, wy + fy * scale, d["r_hand"]))
    layers.append(cov(torch.minimum(torch.minimum(hands[0], hands[1]), torch.minimum(hands[2], hands[3]))))
    # sleeves
    layers.append(cov(torch.minimum(cap("l_shoulder", "l_elbow", d["r_upper_arm"]),
                                    cap("r_shoulder", "r_elbow", d["r_upper_arm"]))))
    # hair: the upper part of a disc slightly larger than the head
    hx, hy = k["head"]
    above = (gx - hx) * torch.sin(tilt) - (gy - hy) * torch.cos(tilt)      # distance "up" the head
    hair = torch.maximum(_disc(gx, gy, hx, hy, d["head_r"] * 1.08), 0.25 * d["head_r"] - above)
    layers.append(cov(hair))
    # head and neck (skin)
    head = _disc(gx, gy, hx, hy, d["head_r"])
    layers.append(cov(torch.minimum(head, cap("neck", "head", d["r_neck"]))))
    # torso (shirt): a wide capsule along the spine plus a bar across the shoulders
    px, py = k["pelvis"]
    top_x, top_y = k["neck"]
    w = d["torso_w"]
    shirt = torch.minimum(
        _capsule(gx, gy, px + 0.25 * d["torso"] * ux, py + 0.25 * d["torso"] * uy,
                 top_x - 0.2 * d["torso"] * ux, top_y - 0.2 * d["torso"] * uy, w),
        _capsule(gx, gy, *k["l_shoulder"], *k["r_shoulder"], d["r_upper_arm"] * 1.15))
    layers.append(cov(shirt))
    # shoes
    shoes = []
    for side, s in (("l", 1.0), ("r", -1.0)):
        ax, ay = k[f"{side}_ankle"]
        sole_y = ay + d["foot"] - d["r_foot"]
        shoes.append(_capsule(gx, gy, ax, sole_y, ax + s * 2.2 * d["r_foot"], sole_y, d["r_foot"]))
    layers.append(cov(torch.minimum(shoes[0], shoes[1])))
    # trousers: pelvis, thighs and shins
    trousers = cap("l_hip", "r_hip", d["r_thigh"] * 1.1)
    for side in ("l", "r"):
        trousers = torch.minimum(trousers, cap(f"{side}_hip", f"{side}_knee", d["r_thigh"]))
        trousers = torch.minimum(trousers, cap(f"{side}_knee", f"{side}_ankle", d["r_shin"]))
    layers.append(cov(trousers))
    # a soft shadow on the floor under the pelvis
    sx = (gx - px) / (1.6 * d["hip_w"] + 1.2 * d["thigh"])
    sy = (gy - (FLOOR_Y + 0.01)) / (0.35 * d["thigh"])
    layers.append((1.0 - sx * sx - sy * sy).clamp_(0.0, 1.0).mul_(0.45))

    # front-to-back compositing: each layer takes its alpha of what the layers before it left
    remaining = torch.ones(n, t, size, size)
    weights = []
    for alpha in layers:
        w_layer = alpha.mul_(remaining)
        remaining.sub_(w_layer)
        weights.append(w_layer)
    floor = torch.sigmoid((gy - HORIZON_Y) * (size / 3.0)).expand(size, size)
    weights.append(remaining * (1.0 - floor))                    # wall
    weights.append(remaining.mul_(floor))                         # floor
    stacked = torch.stack(weights, dim=1).view(n, len(weights), -1)
    return torch.bmm(colors.transpose(1, 2), stacked).view(n, 3, t, size, size)


class DancerDataset(ProceduralVideoDataset):
    """A full-body figure moving in one of four styles, for as many frames as asked (see the module docstring).

    Beyond the base class: :meth:`iter_frames` renders one long video in chunks of frames, and
    :meth:`clips` cuts an item into REncGAN3's half-overlapping clips.
    """

    name: ClassVar[str] = "dancer"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    class_names: ClassVar[tuple[str, ...]] = STYLES
    default_clips: ClassVar[dict[str, int]] = {"train": 2_000, "test": 400}
    joint_names: ClassVar[tuple[str, ...]] = JOINT_NAMES
    keypoint_names: ClassVar[tuple[str, ...]] = KEYPOINT_NAMES
    layer_names: ClassVar[tuple[str, ...]] = LAYERS

    # ----------------------------------------------------------------- factors
    def sample_factors(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        g = generator

        def uniform(lo: float, hi: float, *shape: int) -> Tensor:
            return lo + (hi - lo) * torch.rand(n, *shape, generator=g)

        def pick(table: Tensor, jitter: float) -> Tensor:
            rows = table[torch.randint(len(table), (n,), generator=g)]
            return (rows + jitter * (torch.rand(n, 3, generator=g) - 0.5)).clamp(0.0, 1.0)

        wall_hue = uniform(0, 1)
        wall = _hsv_to_rgb(wall_hue, uniform(0.05, 0.3), uniform(0.72, 0.95))
        shirt_hue = (wall_hue + uniform(0.2, 0.8)) % 1.0                 # never the wall's hue
        factors = {
            "label": torch.randint(len(STYLES), (n,), generator=g),
            "tempo": uniform(0.75, 1.25),
            "energy": uniform(0.8, 1.2),
            "height": uniform(1.4, 1.6),
            "build": uniform(0.85, 1.25),
            "shoulders": uniform(0.9, 1.12),
            "head_size": uniform(0.9, 1.12),
            "skin": pick(SKIN_TONES, 0.06),
            "hair": pick(HAIR_COLORS, 0.08),
            "shirt": _hsv_to_rgb(shirt_hue, uniform(0.5, 0.9), uniform(0.55, 0.95)),
            "trousers": pick(TROUSER_COLORS, 0.08),
            "shoes": pick(TROUSER_COLORS[:3], 0.05),
            "wall": wall,
            "floor": wall * uniform(0.55, 0.8).unsqueeze(1),
        }
        factors["motion_seed"] = torch.tensor([derive_seed(self.name, self.seed, self.split, "motion", i)
                                               for i in range(n)], dtype=torch.long)
        return factors

    def _layer_colors(self, factors: dict[str, Tensor]) -> Tensor:
        """Colours ``(n, G, 3)`` of the layers in :data:`LAYERS` order."""
        sleeves = factors["shirt"] * 0.82
        shadow = factors["floor"] * 0.45
        return torch.stack([factors["skin"], sleeves, factors["hair"], factors["skin"], factors["shirt"],
                            factors["shoes"], factors["trousers"], shadow, factors["wall"], factors["floor"]], 1)

    # ----------------------------------------------------------------- rendering
    def _process(self, factors: dict[str, Tensor]) -> PoseProcess:
        return PoseProcess(factors["motion_seed"], factors["label"], factors["tempo"], factors["energy"])

    def _draw(self, pose: Tensor, factors: dict[str, Tensor], out: Tensor) -> Tensor:
        """Place and draw ``pose`` ``(n, t, J)`` into ``out`` ``(n, 3, t, H, W)``; returns the keypoints."""
        dims = body_dimensions(factors)
        keypoints, pose = forward_kinematics(pose, dims)
        colors = self._layer_colors(factors)
        n, t = pose.shape[:2]
        chunk = max(1, PIXEL_CHUNK // self.size ** 2)             # frames per call
        t_step = min(t, chunk)
        n_step = max(1, chunk // t_step)
        for n0 in range(0, n, n_step):
            part = slice(n0, n0 + n_step)
            part_dims = {key: v[part] for key, v in dims.items()}
            for t0 in range(0, t, t_step):
                frames = slice(t0, t0 + t_step)
                out[part, :, frames] = draw_figures(keypoints[part, frames], pose[part, frames], part_dims,
                                                    colors[part], self.size)
        return keypoints

    def render_factors(self, factors: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        n, t, s = factors["label"].shape[0], self.frames, self.size
        pose = self._process(factors).advance(t)
        video = torch.empty(n, 3, t, s, s)
        keypoints = self._draw(pose, factors, video)
        return video.clamp_(0.0, 1.0).mul_(2.0).sub_(1.0), {"pose": pose, "keypoints": keypoints}

    def motion(self, indices, frames: int | None = None) -> dict[str, Tensor]:
        """The ``pose`` ``(N, T, J)`` and ``keypoints`` ``(N, T, K, 2)`` of items, without drawing.

        The same values as the render extras of :meth:`batch` (for ``frames`` frames, default
        ``self.frames``), at a fraction of the cost — for analysing long motions.
        """
        frames = self.frames if frames is None else frames
        check_int("frames", frames, minimum=1)
        factors = self.factors_of(indices)
        pose = self._process(factors).advance(frames)
        keypoints, pose = forward_kinematics(pose, body_dimensions(factors))
        return {"pose": pose, "keypoints": keypoints}

    def iter_frames(self, index: int, frames: int | None = None, chunk: int = 256) -> Iterator[Tensor]:
        """Render item ``index`` as consecutive chunks ``(C, t, H, W)`` in [-1, 1] (``t <= chunk``).

        ``frames`` (default ``self.frames``) may be far longer than would fit in memory at once:
        the pose process carries on from chunk to chunk, so concatenating the chunks gives the
        video :meth:`render` makes for ``frames`` frames (equal up to float rounding). Always
        renders, even when the dataset has a cache.
        """
        frames = self.frames if frames is None else frames
        check_int("frames", frames, minimum=1)
        check_int("chunk", chunk, minimum=1)
        factors = self.factors_of([index])
        process = self._process(factors)
        for start in range(0, frames, chunk):
            t = min(chunk, frames - start)
            pose = process.advance(t)
            video = torch.empty(1, 3, t, self.size, self.size)
            self._draw(pose, factors, video)
            yield video[0].clamp_(0.0, 1.0).mul_(2.0).sub_(1.0)

    def clips(self, index: int, clip_len: int = 16, overlap: int | None = None) -> Tensor:
        """The half-overlapping clips ``(K, C, clip_len, H, W)`` of item ``index`` (REncGAN3 Fig. 1).

        Clip ``k`` starts at frame ``k * (clip_len - overlap)``; ``overlap`` defaults to
        ``clip_len // 2``, so frame ``clip_len // 2`` of clip ``k`` is frame 0 of clip ``k + 1``
        (the shared reference frame). Raises ``ValueError`` if ``overlap >= clip_len`` or the video
        is shorter than one clip.
        """
        clip_starts(self.frames, clip_len, overlap)      # validate before rendering
        return cut_clips(self.batch([index])["video"][0], clip_len, overlap)


# ----------------------------------------------------------------- measuring "never repeats"
def _standardise(pose: Tensor) -> Tensor:
    """``(T, J)`` with every column shifted and scaled to mean 0, std 1 (constant columns dropped)."""
    std = pose.std(0)
    keep = std > 1e-6
    return (pose[:, keep] - pose[:, keep].mean(0)) / std[keep]


def autocorrelation(pose: Tensor, lag: int) -> Tensor:
    """Autocorrelation of each pose column ``(J,)`` at ``lag`` frames, for one video ``(T, J)``.

    Near 1 for lags short compared to a movement, near 0 once the motion has forgotten its past;
    a periodic motion would come back to 1 at its period.
    """
    check_int("lag", lag, 1, pose.shape[0] - 1)
    centred = pose - pose.mean(0)
    var = centred.pow(2).mean(0).clamp_min(1e-12)
    return (centred[lag:] * centred[:-lag]).mean(0) / var


def closest_repeat(pose: Tensor, window: int = 64, stride: int = 8) -> tuple[float, float]:
    """How close one video's motion ever comes to repeating itself.

    Cuts the standardised pose ``(T, J)`` into windows of ``window`` frames (every ``stride``
    frames) and returns ``(closest, step)``: the smallest RMS distance between two windows that do
    not overlap, and the RMS frame-to-frame change — the scale of "the same motion, one frame
    off". A looping animation has ``closest`` near 0; a motion that never repeats keeps it several
    times above ``step``.
    """
    z = _standardise(pose)
    check_int("window", window, 2, z.shape[0] // 2)
    check_int("stride", stride, 1)
    windows = z.unfold(0, window, stride).reshape(-1, z.shape[1] * window)
    distance = torch.cdist(windows, windows) / math.sqrt(windows.shape[1])
    k = torch.arange(windows.shape[0])
    apart = (k[:, None] - k[None, :]).abs() * stride >= window
    step = (z[1:] - z[:-1]).pow(2).mean().sqrt()
    return float(distance[apart].min()), float(step)

