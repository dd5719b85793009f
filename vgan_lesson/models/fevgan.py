"""FEV-GAN (Bouzid & Ballihi, 2022): a facial-expression video from one neutral face and a label.

The whole model in one file, nanoGPT style: a config dataclass, the frozen identity encoder, then
the model. Fig. 1 of the paper, with the lesson-scale shapes (32 px, 16 frames)::

    I (B, 3, 32, 32) ──► E_Id  frozen, pretrained ──► F_Id (B, 64, 4, 4)  ─┐
    neutral face     └─► E_s   trainable         ──► F_s  (B, 32, 4, 4)  ─┼─ concat ─► G_dec ─► Ŷ (B, 3, 16, 32, 32)
    L (B,) expression ──one-hot, broadcast────────► (B, 6, 4, 4)        ─┘   3D transposed convs
    (Y or Ŷ, L) ──► D: 3D convs, the label as 6 constant maps after the first conv ──► real/fake logit

Training (Algorithm 1), on every batch of real clips ``Y`` with labels ``L``; the input ``I`` is the
clip's first frame (the clips start neutral):

1. ``F_Id = E_Id(I)``, ``F_s = E_s(I)``, ``Ŷ = G_dec(F_Id, F_s, L)`` (lines 5–7);
2. **D** (lines 8–11; Eq. 3): ``L_D = BCE(D(Y, L), 1) + BCE(D(Ŷ, L), 0)``
   (:func:`vgan_lesson.losses.d_loss`);
3. **G = E_s + G_dec** (lines 12–15; Eq. 1): ``L_G = L_adv + λ1·L_rec + λ2·L_id`` with the
   non-saturating ``L_adv = BCE(D(Ŷ, L), 1)`` (:func:`vgan_lesson.losses.g_adv_loss`, Eq. 3), the L1
   reconstruction ``L_rec = ||Y - Ŷ||_1`` (:func:`vgan_lesson.losses.l1_reconstruction`, Eq. 4) and
   the identity loss ``L_id = Σ_i ||F(I) - F^i(Ŷ)||_1`` on ``id_frames = 4`` frames
   (:func:`vgan_lesson.losses.identity_l1`, Eq. 5), ``F`` being E_Id's identity embedding.

E_Id is never trained (Algorithm 1, line 1: "non-learnable pre-trained VGG-FACE parameters"): its
weights have ``requires_grad=False``, it has no optimizer, and it stays in eval mode (its batch-norm
statistics frozen) even while the rest of the model trains. Gradients of L_id still flow *through*
it into Ŷ. The paper's E_Id is VGG-Face; the package's stand-in is the architecture of its own
identity evaluator (:class:`vgan_lesson.evaluators.Evaluator`, kind ``"identity"``) trained to tell
the 96 training identities of ``faces`` apart (:func:`pretrain_identity_encoder`) — with **another
seed and width** than the evaluator that measures ACD / ACD-I, so the metric does not grade the
model with the very features it was trained to match. :meth:`FEVGAN.load_identity_encoder` loads
those weights, or a real VGG-Face state dict into a network you build, from a local file.

Where the paper is silent or inconsistent, our choices:

* **Eq. 3** writes ``E[1 - log D(G(I; L); L)]`` and Algorithm 1 line 10 ``(1 - log(1 - E_recon))``:
  both read as the usual cross-entropy; the generator uses the non-saturating form, as the whole
  package does (``losses.py``).
* **λ1, λ2** are in Eq. 1 but not in Algorithm 1, and their values are not given ("due to the large
  difference we found between the three losses values"): ``lambda_rec`` and ``lambda_id``, see
  :class:`FEVGANConfig`.
* **The identity reference.** Eq. 5 compares the generated frames with the *input image*; Algorithm 1
  line 13 with the *real video* ``F_vgg(Y_i)``. ``id_reference="input"`` (default) is Eq. 5,
  ``"video"`` Algorithm 1 (the same frames of the real clip).
* **Which 4 frames** L_id sees: evenly spaced, first and last included (:func:`identity_frames`).
* **G's adversarial term** is computed with the *updated* D (D(Ŷ, L) is re-run after step 2, as
  in :class:`vgan_lesson.models.EncGAN3`); Algorithm 1 reuses line 9's value, which PyTorch cannot
  back-propagate once D's weights have changed in place.
* **F_Id and F_s are feature maps** (Sec. 3.1: "1024 feature maps of 14×14", "512 feature maps of
  14×14"); ours are 4×4 maps: E_s is the package's :class:`SpatialEncoder`, F_Id the last conv maps of
  E_Id (any other size is average-pooled to 4×4). L_id uses E_Id's L2-normalised identity
  embedding, the vector a face recogniser compares.
* **No skip connections** from E_s to G_dec: the paper has none (ImaGINator, its baseline, has).
* **D** is the package's :class:`vgan_lesson.models.VideoDiscriminator` with ``label_mode="input"``
  (the label as constant maps after the first conv, as ImaGINator): spectral norm instead of the
  paper's batch norm. All weights start from N(0, 0.02) (DCGAN) instead of the paper's N(0, 0.01).
* **Ablations (Table 3).** "w/o E_s" drops E_s; "w/o E_Id" drops F_Id from the decoder's input.
  The paper trains both "with the same [...] losses", so L_id — which needs the identity network —
  stays: in "w/o E_Id" the frozen network is only the loss network of Eq. 5.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import check_choice, check_images, check_int, check_tensor, check_video
from ..data.faces import EXPRESSIONS, FacesDataset
from ..io import safe_load
from ..losses import d_loss, g_adv_loss, identity_l1, l1_reconstruction
from ..training import Trainable, evaluating, frozen
from .config import SCALES, ScaledConfig
from .blocks import VideoDecoder, _levels_for, count_parameters
from .discriminators import VideoDiscriminator, one_hot_labels
from .encoders import SpatialEncoder

if TYPE_CHECKING:  # vgan_lesson.evaluators imports the models package: import it where it is used
    from ..evaluators import Evaluator, EvaluatorConfig

Tensor = torch.Tensor

ID_REFERENCES = ("input", "video")

#: The seed of the package's E_Id pretraining; the identity *evaluator* (ACD, ACD-I) uses seed 0.
IDENTITY_ENCODER_SEED = 1
#: Where the pretrained E_Id lives, relative to :func:`vgan_lesson.pretrained.checkpoint_dir`.
IDENTITY_ENCODER_FILE = "identity_encoders/faces_identity.pt"
#: The shipped identity evaluator that measures ACD / ACD-I (E_Id must not be this network).
MEASURING_EVALUATOR_FILE = "evaluators/faces_identity.pt"
#: The decoder starts from feature maps of this side.
BOTTLENECK = 4


# --------------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------------

@dataclass
class FEVGANConfig(ScaledConfig):
    """Every knob of FEV-GAN. Build one with :meth:`lesson` or :meth:`paper`.

    Data: ``size`` (frame side, 4·2^k >= 16), ``frames`` (32 in the paper, any number >= 2 here),
    ``channels``, ``num_classes`` (6 basic expressions).
    Widths: ``enc_width`` (first conv of E_s; its 4×4 output has ``enc_width·min(2^(L-1), 8)`` maps),
    ``g_width`` (last hidden layer of G_dec; it doubles towards the bottleneck, at most 8×),
    ``d_width`` (first conv of D), ``id_width`` and ``id_dim`` (E_Id: the identity-evaluator
    architecture with this first-conv width and this embedding size; the *measuring* evaluator has
    width 24, ours 16 at lesson scale, so they are different networks).
    Ablations (Table 3): ``use_spatial_encoder`` (False: "w/o E_s"), ``use_identity_encoder``
    (False: "w/o E_Id"; the identity network stays as L_id's loss network).
    Losses (Eq. 1): ``lambda_rec`` (λ1, on the per-pixel mean L1 of Eq. 4), ``lambda_id`` (λ2, on the
    per-feature mean L1 of Eq. 5), ``id_frames`` (4 in the paper), ``id_reference`` (``"input"``:
    Eq. 5, the input image; ``"video"``: Algorithm 1 line 13, the real clip's frames). The paper gives
    no values for λ1, λ2 ("due to the large difference we found between the three losses values").
    Ours: λ1 = 100, pix2pix's and ImaGINator's weight of a per-pixel L1 against a GAN loss; λ2 = 100
    too, because both are per-element mean L1s: with the lesson E_Id, L_id starts near 0.14 (the
    distance between two *different* identities is about 0.13, between two frames of one identity
    0.016) and L_rec near 0.6, so L_id starts at about a quarter of the pixel term (λ2 = 10 would make
    it 2 % of the generator's loss). Not tuned beyond that: a lesson exercise.
    Optimisation: ``lr``, ``betas`` (Adam for D and for G = E_s + G_dec; the paper: 2e-5, β1 = 0.5).
    Other: ``spectral_norm`` (every conv of D).
    """

    size: int = 64
    frames: int = 32
    channels: int = 3
    num_classes: int = 6
    enc_width: int = 64
    g_width: int = 64
    d_width: int = 64
    id_width: int = 64
    id_dim: int = 128
    use_spatial_encoder: bool = True
    use_identity_encoder: bool = True
    lambda_rec: float = 100.0
    lambda_id: float = 100.0
    id_frames: int = 4
    id_reference: str = "input"
    lr: float = 2e-5
    betas: tuple[float, float] = (0.5, 0.999)
    spectral_norm: bool = True

    def __post_init__(self) -> None:
        self._check_fields(counts=("size", "frames", "channels", "num_classes", "enc_width", "g_width", "d_width",
                                   "id_width", "id_dim", "id_frames"),
                           flags=("use_spatial_encoder", "use_identity_encoder", "spectral_norm"),
                           amounts=("lr", "lambda_rec", "lambda_id"))
        if self.size < 16:
            raise ValueError(f"size must be at least 16 (the faces data starts at 16 px), got {self.size}")
        _levels_for(self.size)  # 4·2^k, with a clear error otherwise
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        check_int("frames", self.frames, minimum=2)
        if self.id_frames > self.frames:
            raise ValueError(f"id_frames ({self.id_frames}) cannot exceed frames ({self.frames})")
        if not (self.use_spatial_encoder or self.use_identity_encoder):
            raise ValueError("FEV-GAN needs at least one encoder (use_spatial_encoder or use_identity_encoder): "
                             "without both, the decoder would never see the input face")
        check_choice("id_reference", self.id_reference, ID_REFERENCES)

    @property
    def name(self) -> str:
        """``"FEV-GAN"``, ``"FEV-GAN w/o E_s"`` or ``"FEV-GAN w/o E_Id"`` (Table 3's rows)."""
        if not self.use_spatial_encoder:
            return "FEV-GAN w/o E_s"
        return "FEV-GAN" if self.use_identity_encoder else "FEV-GAN w/o E_Id"

    def identity_config(self) -> EvaluatorConfig:
        """The built-in E_Id's architecture: the identity evaluator's, at ``size`` with ``id_width`` and
        ``id_dim`` (what :func:`pretrain_identity_encoder` trains)."""
        from ..evaluators import EvaluatorConfig

        return EvaluatorConfig(dataset="faces", kind="identity", size=self.size, frames=self.frames,
                               width=self.id_width, feature_dim=self.id_dim)

    @classmethod
    def lesson(cls, **overrides: Any) -> "FEVGANConfig":
        """Lesson scale: 16 frames of 32×32; E_s width 8 (32 maps of 4×4), G_dec widths 32-16-8, D width 16,
        E_Id width 16 with a 64-d embedding (64 maps of 4×4); Adam 2e-4 (the paper's 2e-5 learns too slowly
        for a two-minute CPU run), β = (0.5, 0.999)."""
        return cls(**{**dict(size=32, frames=16, enc_width=8, g_width=8, d_width=16, id_width=16, id_dim=64,
                             lr=2e-4), **overrides})

    @classmethod
    def paper(cls, size: int = 64, **overrides: Any) -> "FEVGANConfig":
        """Paper scale (Sec. 3.1, 4.2): 32 frames of 64×64, E_s with 512 maps (width 64), G_dec 512-256-128-64
        (VGAN's widths), a five-layer D of width 64, Adam 2e-5, β1 = 0.5. The built-in E_Id (width 64: 256
        maps, 128-d embedding) stands in for VGG-Face; with real faces load a real one
        (:meth:`FEVGAN.load_identity_encoder`)."""
        return cls(**{**dict(size=size, frames=32, enc_width=64, g_width=64, d_width=64, id_width=64, id_dim=128,
                             lr=2e-5, betas=(0.5, 0.999)), **overrides})


def ablation_configs(scale: str = "lesson", **overrides: Any) -> dict[str, FEVGANConfig]:
    """The three trained variants of FEV-GAN Table 3, by name: ``"FEV-GAN"``, ``"FEV-GAN w/o E_s"``,
    ``"FEV-GAN w/o E_Id"`` (same data, losses and steps; only the decoder's input changes)."""
    variants = {"FEV-GAN": {}, "FEV-GAN w/o E_s": dict(use_spatial_encoder=False),
                "FEV-GAN w/o E_Id": dict(use_identity_encoder=False)}
    return {name: FEVGANConfig.for_scale(scale, **{**overrides, **flags}) for name, flags in variants.items()}


def identity_frames(frames: int, count: int = 4) -> Tensor:
    """The frame indices L_id sees (Eq. 5; Sec. 3.2: "we use L_id on 4 frames of the video instead of 32"):
    ``count`` evenly spaced frames, the first (neutral) and the last (apex) included. 16 frames → 0, 5, 10, 15."""
    check_int("frames", frames, minimum=1)
    check_int("count", count, minimum=1, maximum=frames)
    if count == 1:
        return torch.zeros(1, dtype=torch.long)
    return torch.linspace(0, frames - 1, count).round().long()


def fevgan_generator_loss(adversarial: Tensor, reconstruction: Tensor, identity: Tensor, lambda_rec: float,
                          lambda_id: float) -> Tensor:
    """Eq. 1, the generator's side: ``L_adv + λ1·L_rec + λ2·L_id`` (Eq. 3, 4, 5)."""
    return adversarial + lambda_rec * reconstruction + lambda_id * identity


# --------------------------------------------------------------------------------------------------
# the identity encoder E_Id
# --------------------------------------------------------------------------------------------------

class IdentityFeatures(NamedTuple):
    """What E_Id gives for a batch of faces."""

    maps: Tensor       # (B, C_id, 4, 4): F_Id, the decoder's input
    embedding: Tensor  # (B, D), L2-normalised: the identity features of Eq. 5


class IdentityEncoder(nn.Module):
    """E_Id: a face-recognition network wrapped to give :class:`IdentityFeatures` for faces in [-1, 1].

    ``network`` is either the package's :class:`vgan_lesson.evaluators.Evaluator` of kind
    ``"identity"`` — F_Id is its last conv maps, the embedding its L2-normalised feature vector — or
    any ``nn.Module`` taking ``(B, 3, input_size, input_size)`` images in [-1, 1] (e.g. the conv part
    of a VGG-Face, wrapped to take [-1, 1] input): if it returns maps ``(B, C, h, w)`` they are F_Id
    (average-pooled to 4×4) and, flattened, the embedding; a vector ``(B, D)`` is both (broadcast to
    4×4). One-channel faces are repeated to three channels, other sizes resized (antialiased).

    The wrapper does not freeze anything; :class:`FEVGAN` does.
    """

    def __init__(self, network: nn.Module, size: int, input_size: int | None = None) -> None:
        super().__init__()
        if not isinstance(network, nn.Module):
            raise TypeError(f"the identity network must be a torch.nn.Module, got {type(network).__name__}")
        self.network = network
        self.size = size
        self.input_size = size if input_size is None else check_int("input_size", input_size, minimum=1)
        first = next(network.parameters(), None)
        with evaluating(network), torch.no_grad():   # one dummy face tells the sizes of F_Id and of the embedding
            probe = self(torch.zeros(1, 3, size, size, device=first.device if first is not None else None))
        self.out_channels, self.embedding_dim = probe.maps.shape[1], probe.embedding.shape[1]

    def _prepare(self, images: Tensor) -> Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        if images.shape[-1] != self.input_size or images.shape[-2] != self.input_size:
            images = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",
                                   antialias=True, align_corners=False)
        return images

    def forward(self, images: Tensor) -> IdentityFeatures:
        """Faces ``(B, C, H, W)`` in [-1, 1] → :class:`IdentityFeatures`: maps ``(B, C_id, 4, 4)`` and the
        embedding ``(B, D)``."""
        from ..evaluators import Evaluator

        x = self._prepare(images)
        if isinstance(self.network, Evaluator):
            h = self.network.body(x)
            flat = h.flatten(2)   # the evaluator's pooling: mean and max over space, then its feature layer
            embedding = self.network.features_layer(torch.cat([flat.mean(-1), flat.amax(-1)], dim=1))
        else:
            h = self.network(x)
            if not isinstance(h, Tensor) or h.ndim not in (2, 4) or h.shape[0] != x.shape[0]:
                raise ValueError(f"the identity network must return maps (B, C, h, w) or vectors (B, D) for "
                                 f"{x.shape[0]} faces, got {getattr(h, 'shape', type(h).__name__)}")
            embedding = h.flatten(1)
            if h.ndim == 2:
                h = h[:, :, None, None]
        maps = h if h.shape[-2:] == (BOTTLENECK, BOTTLENECK) else F.adaptive_avg_pool2d(h, BOTTLENECK)
        return IdentityFeatures(maps, F.normalize(embedding.float(), dim=1))

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, maps={self.out_channels}×{BOTTLENECK}×{BOTTLENECK}, " \
               f"embedding={self.embedding_dim}"


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------

class Encoded(NamedTuple):
    """The two encoders' outputs for a batch of input faces (``None`` for an ablated encoder)."""

    identity: Tensor | None  # F_Id (B, C_id, 4, 4)
    spatial: Tensor | None   # F_s  (B, C_s, 4, 4)


class FEVGAN(Trainable):
    """FEV-GAN: frozen E_Id + trainable E_s + 3D transposed-conv decoder G_dec + conditional 3D discriminator D.

    Sub-networks: ``identity_encoder`` (E_Id, an :class:`IdentityEncoder`; frozen, always in eval mode),
    ``spatial_encoder`` (E_s, a :class:`SpatialEncoder`; ``None`` for "w/o E_s"), ``decoder`` (G_dec, a
    :class:`VideoDecoder` fed ``[F_Id, F_s, one-hot L]``), ``video_discriminator`` (D, label-conditioned).
    Optimizers: ``"D"`` and ``"G"`` (E_s and G_dec: Algorithm 1's "G"). E_Id has none.

    ``identity_network``: build the model around your own face-recognition network instead of the
    built-in E_Id (then load its weights with :meth:`load_identity_encoder`); ``identity_input_size``:
    the image size that network expects (faces are resized to it).

    >>> model = FEVGAN(FEVGANConfig.lesson(size=16, frames=8, enc_width=2, g_width=2, d_width=2, id_width=2))
    >>> faces = torch.zeros(2, 3, 16, 16)
    >>> model.generate(faces, torch.tensor([0, 3])).shape
    torch.Size([2, 3, 8, 16, 16])
    """

    def __init__(self, config: FEVGANConfig | None = None, identity_network: nn.Module | None = None,
                 identity_input_size: int | None = None) -> None:
        super().__init__()
        config = FEVGANConfig.lesson() if config is None else config
        if not isinstance(config, FEVGANConfig):
            raise TypeError(f"config must be an FEVGANConfig, got {type(config).__name__}")
        self.config = c = config
        from ..evaluators import Evaluator

        # ---- E_Id: pretrained and frozen (Algorithm 1, line 1)
        network = Evaluator(c.identity_config()) if identity_network is None else identity_network
        self.identity_encoder = IdentityEncoder(network, c.size, identity_input_size)
        self._freeze_identity_encoder()
        # ---- E_s: randomly initialised, trainable (line 2)
        self.spatial_encoder = SpatialEncoder(c.size, c.channels, c.enc_width) if c.use_spatial_encoder else None
        # ---- G_dec: [F_Id, F_s, L] -> clip
        in_channels = c.num_classes
        in_channels += self.identity_encoder.out_channels if c.use_identity_encoder else 0
        in_channels += self.spatial_encoder.out_channels if c.use_spatial_encoder else 0
        self.decoder = VideoDecoder(in_channels, c.channels, c.size, c.frames, c.g_width, start_size=BOTTLENECK)
        # ---- D: 3D convs, label-aware
        self.video_discriminator = VideoDiscriminator(c.size, c.frames, c.channels, c.d_width,
                                                      num_classes=c.num_classes, label_mode="input",
                                                      spectral_norm=c.spectral_norm)
        adam = dict(lr=c.lr, betas=c.betas)
        generator_params = [*self.decoder.parameters()]
        if self.spatial_encoder is not None:
            generator_params = [*self.spatial_encoder.parameters(), *generator_params]
        self._optimizers = {"D": torch.optim.Adam(self.video_discriminator.parameters(), **adam),
                            "G": torch.optim.Adam(generator_params, **adam)}
        self._sample_inputs: tuple[Tensor, Tensor] | None = None

    # ----------------------------------------------------------------- E_Id stays frozen
    def _freeze_identity_encoder(self) -> None:
        self.identity_encoder.requires_grad_(False)
        self.identity_encoder.eval()

    def train(self, mode: bool = True) -> "FEVGAN":
        """``nn.Module.train``, except that E_Id stays in eval mode (its batch-norm statistics are pretrained)."""
        super().train(mode)
        self.identity_encoder.eval()
        return self

    def load_identity_encoder(self, weights: str | os.PathLike | Mapping[str, Any], network: nn.Module | None = None,
                              *, input_size: int | None = None, allow_evaluator: bool = False) -> "FEVGAN":
        """Load pretrained E_Id weights (Algorithm 1, line 1) and keep them frozen; returns the model.

        ``weights``: a file (loaded with ``weights_only=True``; checked against a manifest beside it if
        it has an entry there) or an in-memory dict: a plain state dict, or ``{"config", "state_dict"}``
        as written by :func:`pretrain_identity_encoder` / :func:`vgan_lesson.evaluators.train_evaluator`
        (whose architecture is then checked against this model's, field by field).
        ``network``: ``None`` loads into the current E_Id. A module (e.g. a VGG-Face you built, taking
        ``input_size`` px images in [-1, 1]) receives the weights and becomes E_Id; its F_Id must have
        as many channels as the decoder was built for (else build the model with
        ``FEVGAN(config, identity_network=network)``).
        ``allow_evaluator``: the weights of the shipped identity *evaluator* (the one that measures ACD /
        ACD-I) are refused unless this is True — training with the measuring network is a metric trap.
        """
        from ..evaluators import Evaluator

        payload, where = self._read_weights(weights)
        state, config = payload, None
        if isinstance(payload, Mapping) and "state_dict" in payload:
            state, config = payload["state_dict"], payload.get("config")
        if not isinstance(state, Mapping) or not state or not all(isinstance(v, Tensor) for v in state.values()):
            raise ValueError(f"{where} holds no state dict (a dict of parameter name -> tensor); "
                             f"got {type(state).__name__}")
        target = self.identity_encoder.network if network is None else network
        if not isinstance(target, nn.Module):
            raise TypeError(f"network must be a torch.nn.Module, got {type(target).__name__}")
        if config is not None and isinstance(target, Evaluator):
            mine = dataclasses.asdict(target.config)
            diffs = [f"{k}: expected {mine[k]!r}, found {config.get(k)!r}" for k in
                     ("dataset", "kind", "size", "width", "feature_dim") if config.get(k) != mine[k]]
            if diffs:
                raise ValueError(f"{where} is an identity network of another architecture than this model's E_Id ("
                                 + "; ".join(diffs) + "): set id_width / id_dim / size to match, or pretrain one "
                                 "with vgan_lesson.models.fevgan.pretrain_identity_encoder")
        if not allow_evaluator and _is_measuring_evaluator(state):
            raise ValueError(f"{where} holds the weights of the shipped identity evaluator "
                             f"({MEASURING_EVALUATOR_FILE}), the network that measures ACD and ACD-I: training "
                             "E_Id with it would grade the model with the very features it was trained to match. "
                             "Use the separately trained E_Id (pretrain_identity_encoder), or pass "
                             "allow_evaluator=True to demonstrate the trap")
        mine = target.state_dict()     # checked before loading, so a mismatch leaves E_Id as it was
        problems = [f"{what} {names[:5]}{' ...' if len(names) > 5 else ''}" for what, names in (
            ("missing", sorted(set(mine) - set(state))), ("unexpected", sorted(set(state) - set(mine))),
            ("of another shape", sorted(k for k in mine if k in state and state[k].shape != mine[k].shape)))
            if names]
        if problems:
            raise ValueError(f"the weights in {where} do not fit {type(target).__name__}: " + "; ".join(problems))
        target.load_state_dict(state)
        if network is not None:
            wrapped = IdentityEncoder(network, self.config.size, input_size)
            wrapped.to(next(self.decoder.parameters()).device)
            expected = self.identity_encoder.out_channels
            if self.config.use_identity_encoder and wrapped.out_channels != expected:
                raise ValueError(f"this identity network gives F_Id with {wrapped.out_channels} channels, the decoder "
                                 f"was built for {expected}: build the model as FEVGAN(config, "
                                 f"identity_network=network) and load the weights into it")
            self.identity_encoder = wrapped
        self._freeze_identity_encoder()
        return self

    @staticmethod
    def _read_weights(weights) -> tuple[Any, str]:
        if isinstance(weights, (str, os.PathLike)):
            from ..pretrained import verify

            path = Path(weights)
            payload = safe_load(path, "identity encoder weights")
            verify(path)
            return payload, str(path)
        if isinstance(weights, Mapping):
            return weights, "the given state dict"
        raise TypeError(f"weights must be a file path or a state dict, got {type(weights).__name__}")

    # ----------------------------------------------------------------- inputs
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def _check_image(self, image: Any, name: str = "image") -> Tensor:
        c = self.config
        return check_images(image, name, c.channels, c.size, "faces",
                            "its first frame, video[:, :, 0] (animate_all takes a single face)")

    def one_hot(self, label: Any, batch: int) -> Tensor:
        """Expression labels → one-hot ``(batch, K)`` on the model's device: an int (the same class for the
        whole batch), a sequence or an int tensor ``(batch,)`` of classes in [0, K), or a float ``(batch, K)``."""
        k = self.config.num_classes
        names = f" ({', '.join(EXPRESSIONS)})" if k == len(EXPRESSIONS) else ""
        if isinstance(label, bool):
            raise TypeError(f"label must be an expression class in [0, {k - 1}]{names}, got {label!r}")
        if isinstance(label, int):
            label = torch.full((batch,), label, dtype=torch.long)
        elif isinstance(label, (list, tuple)):
            label = torch.as_tensor(label)
        if not isinstance(label, Tensor):
            raise TypeError(f"label must be an int, a sequence or a tensor of expression classes, "
                            f"got {type(label).__name__}")
        if label.ndim == 0 and not label.is_floating_point():
            label = label.expand(batch)
        if not label.is_floating_point() and label.numel() and (int(label.min()) < 0 or int(label.max()) >= k):
            bad = sorted({int(v) for v in label.reshape(-1) if not 0 <= int(v) < k})
            raise ValueError(f"label must be an expression class in [0, {k - 1}]{names}, got {bad}")
        device = next(self.decoder.parameters()).device
        return one_hot_labels(label, k, batch).to(device)

    # ----------------------------------------------------------------- the generator G
    def encode(self, image: Tensor) -> Encoded:
        """The two encoders (Algorithm 1, lines 5–6): faces ``(B, C, H, W)`` → :class:`Encoded` ``(F_Id, F_s)``."""
        image = self._check_image(image)
        f_id = self.identity_encoder(image).maps if self.config.use_identity_encoder else None
        f_s = self.spatial_encoder(image) if self.spatial_encoder is not None else None
        return Encoded(f_id, f_s)

    def decode(self, encoded: Encoded, one_hot: Tensor) -> Tensor:
        """G_dec (line 7): ``[F_Id, F_s, L]`` concatenated along the channels (the label broadcast to 4×4
        constant maps) → clips ``(B, C, T, H, W)`` in [-1, 1]."""
        parts = [f for f in encoded if f is not None]
        label_maps = one_hot[:, :, None, None].expand(-1, -1, BOTTLENECK, BOTTLENECK).to(parts[0].dtype)
        return self.decoder(torch.cat([*parts, label_maps], dim=1))

    def generate(self, image: Tensor, label: Any) -> Tensor:
        """G(I, L): neutral faces ``(B, C, H, W)`` in [-1, 1] and expression labels (class indices ``(B,)``,
        one int for all, or one-hot ``(B, K)``) → clips ``(B, C, T, H, W)`` in [-1, 1]."""
        image = self._check_image(image)
        return self.decode(self.encode(image), self.one_hot(label, image.shape[0]))

    @torch.no_grad()
    def animate_all(self, image: Tensor) -> Tensor:
        """One face through every expression (Fig. 2, 3, 7): a face ``(C, H, W)`` or ``(1, C, H, W)`` →
        ``(K, C, T, H, W)``, row ``k`` showing class ``k`` (:data:`vgan_lesson.data.faces.EXPRESSIONS`).
        Runs in eval mode (restored afterwards), without gradients."""
        if isinstance(image, Tensor) and image.ndim == 4:
            if image.shape[0] != 1:
                raise ValueError(f"animate_all takes one face (C, H, W) or (1, C, H, W), got {tuple(image.shape)}; "
                                 f"use generate for a batch")
            image = image[0]
        if not isinstance(image, Tensor) or image.ndim != 3:
            raise ValueError(f"animate_all takes one face (C, H, W) or (1, C, H, W), "
                             f"got {getattr(image, 'shape', type(image).__name__)}")
        k = self.config.num_classes
        with evaluating(self):
            return self.generate(image.unsqueeze(0).expand(k, -1, -1, -1), torch.arange(k))

    def identity_features(self, video: Tensor) -> Tensor:
        """E_Id's identity embedding of every frame of clips ``(B, C, T, H, W)`` → ``(B, T, D)`` (L2-normalised)."""
        b, ch, t, h, w = video.shape
        frames = video.transpose(1, 2).reshape(b * t, ch, h, w)
        return self.identity_encoder(frames).embedding.view(b, t, -1)

    # ----------------------------------------------------------------- the sample grid
    def set_sample_inputs(self, images: Tensor, labels: Any) -> None:
        """Fix the faces and labels :meth:`sample` animates (e.g. neutral frames of a real dataset)."""
        images = self._check_image(images, "sample images")
        self._sample_inputs = (images.detach().cpu(), self.one_hot(labels, images.shape[0]).argmax(1).cpu())

    def sample_inputs(self, n: int) -> tuple[Tensor, Tensor]:
        """The ``n`` neutral faces and labels :meth:`sample` uses: those of :meth:`set_sample_inputs`
        (cycled), else held-out identities of ``faces`` (test split, never trained on) rendered at this
        model's size, each through the expressions in class order: identity ``j // K``, label ``j % K``."""
        check_int("n", n, minimum=1)
        if self._sample_inputs is not None:
            images, labels = self._sample_inputs
            index = torch.arange(n) % images.shape[0]
            return images[index], labels[index]
        c = self.config
        return FacesDataset.neutral_faces_through_classes(n, c.size, c.channels, c.num_classes)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` clips for the training loop's sample grid: :meth:`sample_inputs` animated. Deterministic
        (``generator`` is unused: FEV-GAN has no noise input), so successive grids are comparable."""
        images, labels = self.sample_inputs(n)
        return self.generate(images.to(next(self.decoder.parameters()).device), labels)

    # ----------------------------------------------------------------- training (Algorithm 1)
    def _check_batch(self, batch: Any) -> tuple[Tensor, Tensor]:
        if not isinstance(batch, Mapping) or "video" not in batch or "label" not in batch:
            keys = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
            raise ValueError(f"FEV-GAN trains on labelled clips: a batch needs 'video' (N, C, T, H, W) and 'label' "
                             f"(N,) expression classes, got {keys} (make_dataset('faces', size=..., frames=...) "
                             f"gives both)")
        c = self.config
        video = check_video(batch["video"], "batch['video']", batched=True)
        if video.shape[1:] != (c.channels, c.frames, c.size, c.size):
            raise ValueError(f"batch['video'] must be (N, {c.channels}, {c.frames}, {c.size}, {c.size}) for this "
                             f"model, got {tuple(video.shape)}")
        return video, self.one_hot(batch["label"], video.shape[0])

    def identity_loss(self, video_hat: Tensor, reference: Tensor) -> Tensor:
        """Eq. 5 on ``id_frames`` evenly spaced frames of ``video_hat`` (:func:`identity_frames`), against
        ``reference``: E_Id's embedding ``(B, D)`` of the input image, or ``(B, K, D)`` of the real frames."""
        index = identity_frames(video_hat.shape[2], self.config.id_frames).to(video_hat.device)
        return identity_l1(reference, self.identity_features(video_hat[:, :, index]))

    def train_step(self, batch: dict[str, Any], step: int, generator: torch.Generator) -> dict[str, Tensor]:
        """One FEV-GAN update in Algorithm 1's order: generate (lines 5–7), D (8–11, Eq. 3), G = E_s + G_dec
        (12–15, Eq. 1 = Eq. 3 + λ1·Eq. 4 + λ2·Eq. 5). Deterministic: ``generator`` is unused."""
        c = self.config
        video, one_hot = self._check_batch(batch)
        image = video[:, :, 0]                                   # I: the neutral first frame of the clip
        # ---- lines 5-7: F_Id = E_Id(I), F_s = E_s(I), Ŷ = G_dec(F_Id, F_s, L)
        with torch.no_grad():
            id_input = self.identity_encoder(image)              # frozen: no graph needed for I
        f_s = self.spatial_encoder(image) if self.spatial_encoder is not None else None
        video_hat = self.decode(Encoded(id_input.maps if c.use_identity_encoder else None, f_s), one_hot)

        # ---- lines 8-11: D on (Y, L) and (Ŷ, L), Eq. 3
        real = self.video_discriminator(video, one_hot).float()
        fake = self.video_discriminator(video_hat.detach(), one_hot).float()
        loss_d = d_loss(real, fake)
        self.update("D", loss_d)

        # ---- lines 12-15: G = E_s + G_dec with Eq. 1, against the updated D
        with frozen(self.video_discriminator):                   # gradients flow through D, not into it
            adversarial = g_adv_loss(self.video_discriminator(video_hat, one_hot).float())
        reconstruction = l1_reconstruction(video.float(), video_hat.float())           # Eq. 4
        if c.id_reference == "input":
            reference = id_input.embedding                                             # Eq. 5: F(I)
        else:
            with torch.no_grad():                                                      # Alg. 1 line 13: F(Y)
                index = identity_frames(c.frames, c.id_frames).to(video.device)
                reference = self.identity_features(video[:, :, index])
        if c.lambda_id > 0:
            identity = self.identity_loss(video_hat, reference)
        else:
            with torch.no_grad():                                # logged, not trained on
                identity = self.identity_loss(video_hat, reference)
        loss_g = fevgan_generator_loss(adversarial, reconstruction, identity, c.lambda_rec, c.lambda_id)
        self.update("G", loss_g)
        logs = {"loss_D": loss_d, "loss_G": loss_g, "adv": adversarial, "rec": reconstruction, "id": identity,
                "D_real": torch.sigmoid(real).mean(), "D_fake": torch.sigmoid(fake).mean()}
        return {k: v.detach() for k, v in logs.items()}

    def extra_repr(self) -> str:
        c = self.config
        counts = {"E_s": count_parameters(self.spatial_encoder) if self.spatial_encoder is not None else 0,
                  "G_dec": count_parameters(self.decoder), "D": count_parameters(self.video_discriminator),
                  "E_Id (frozen)": count_parameters(self.identity_encoder, trainable_only=False)}
        sizes = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in counts.items())
        return f"{c.name}: {c.frames}×{c.size}×{c.size}, {c.num_classes} classes, parameters {sizes}"


# --------------------------------------------------------------------------------------------------
# E_Id: pretraining and the metric trap
# --------------------------------------------------------------------------------------------------

def _is_measuring_evaluator(state: Mapping[str, Tensor]) -> bool:
    """True when ``state`` holds exactly the weights of the shipped identity evaluator (if it is present)."""
    from ..pretrained import checkpoint_dir

    path = checkpoint_dir() / MEASURING_EVALUATOR_FILE
    if not path.is_file():
        return False
    try:
        shipped = safe_load(path, "identity evaluator")["state_dict"]
    except (ValueError, KeyError, TypeError):
        return False
    if set(shipped) != set(state):
        return False
    return all(state[k].shape == v.shape and torch.equal(state[k].detach().cpu(), v) for k, v in shipped.items())


def default_identity_encoder_path() -> Path:
    """Where the shipped E_Id (:func:`pretrain_identity_encoder`) lives:
    ``checkpoints/identity_encoders/faces_identity.pt``."""
    from ..pretrained import checkpoint_dir

    return checkpoint_dir() / IDENTITY_ENCODER_FILE


def pretrain_identity_encoder(out_dir: str | os.PathLike, config: FEVGANConfig | None = None, steps: int = 1500,
                              batch_size: int = 32, seed: int = IDENTITY_ENCODER_SEED, num_clips: int = 4096,
                              entry: dict | None = None) -> dict:
    """Train the package's E_Id (the stand-in for VGG-Face): the identity-evaluator architecture with
    ``config``'s ``size``, ``id_width`` and ``id_dim`` (lesson scale by default), trained by
    :func:`vgan_lesson.evaluators.train_evaluator` to tell the 96 training identities of ``faces``
    apart, with seed ``seed`` (1; the measuring evaluator uses 0 and width 24). Writes
    ``out_dir/faces_identity.pt`` and its manifest entry (held-out verification accuracy included);
    returns the entry. ``out_dir`` must not be the evaluators' folder (the file name is the same)."""
    from ..evaluators import train_evaluator
    from ..pretrained import checkpoint_dir

    config = FEVGANConfig.lesson() if config is None else config
    out_dir = Path(out_dir)
    if out_dir.resolve() == (checkpoint_dir() / "evaluators").resolve():
        raise ValueError(f"{out_dir} holds the measuring identity evaluator: E_Id goes elsewhere "
                         f"(e.g. {checkpoint_dir() / Path(IDENTITY_ENCODER_FILE).parent})")
    ident = config.identity_config()
    return train_evaluator("faces", "identity", out_dir, steps=steps, batch_size=batch_size, seed=seed,
                           num_clips=num_clips, entry=entry, size=ident.size, width=ident.width,
                           feature_dim=ident.feature_dim)


__all__ = ["FEVGAN", "FEVGANConfig", "IdentityEncoder", "IdentityFeatures", "Encoded", "ablation_configs",
           "identity_frames", "fevgan_generator_loss", "pretrain_identity_encoder", "default_identity_encoder_path",
           "IDENTITY_ENCODER_FILE", "IDENTITY_ENCODER_SEED", "SCALES"]
