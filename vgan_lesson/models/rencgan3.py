"""REncGAN3 (Yang & Bors): EncGAN3 with a **recall** mechanism that chains short clips into long videos.

The whole idea in one picture (REncGAN3 Fig. 1)::

    long video  ──cut──►  clip 1: frames 0 ......... 15
                          clip 2:          8 ......... 23          clips of T_c = 16 frames,
                          clip 3:                   16 ......... 31  overlapping by r = T_c / 2 = 8

    frame r = 8 of clip i is frame 0 of clip i + 1: the **reference frame** they share.

Generation is a Markov chain over clips (Eq. 1): the first clip comes from prior noise; every later
clip is generated from the content code of the previous clip's reference frame (the content encoder
reads it, exactly as it reads the first frame of a real clip) and fresh motion noise. Each step needs
one clip in memory, so a video of any length costs the memory of one clip (:meth:`REncGAN3.chain`).

Training (Sec. 3) takes windows of ``N_C`` overlapping clips of one long video and updates

1. **D** with Eq. 4 (D_I, a random frame) and Eq. 5 (D_V, the clip) — real clips against the
   reconstructions and prior samples, as in EncGAN3;
2. **Enc and G together** with L_EncG (Eq. 2): the reference-frame term ``||x_r - x̂_r||``, every
   frame rebuilt around the reference by Eq. 3 (:func:`vgan_lesson.data.recall_reconstruct`), the two
   KL terms and the adversarial terms of the reconstructions and prior samples — one loss, one
   backward, both optimizers stepped. Clip ``i + 1`` is reconstructed from the content code of clip
   ``i``'s *generated* reference frame (``recall_generated=True``): the chain of Eq. 1 is what is
   trained, gradients flowing through the link.

The prior samples are chains too (``chain_prior=True``; the paper does not say how its prior samples
are drawn, and this is our reading of Eq. 1): each window's ``N_C`` fake clips are made as at
generation time, link 1 from prior noise and link ``i + 1`` from the recalled code of link ``i``'s
generated reference frame and fresh motion noise (:meth:`REncGAN3.prior_chain`). D judges late links
as well as first ones; the recalled codes carry Eq. 2's KL term like the encoded ones; and each
link's first frame is held to the reference frame it was recalled from (Eq. 2's reference term, the
generated reference being the target). Without this the generation-time chain is never trained: the
reconstruction chain always starts from a real frame and uses encoded motion. Trained that way, the
first shipped dancer model drifted (content codes growing over 16 links from about 7 to 21 against
the prior's 11, the frames brightening), and every chain converged to one look within a few links.
Chained prior samples alone did not prevent that convergence; the shipped model also has a larger KL
weight (its recipe), so that prior noise, where every chain starts, decodes to varied dancers. Its
codes stay bounded and its long videos are more varied, but most chains still settle on a few looks
(lesson 05 measures it with :func:`vgan_lesson.longvideo.chain_drift`).

``joint=False`` is the paper's **REncGAN3 (Enc_G)** comparison: the same data and chain, but Enc and
G trained separately with EncGAN3's Eq. 1–4 (:meth:`EncGAN3.train_step` on the window's clips).

The G3 generator makes whole clips, so its reference frame is ``x̂_r`` and its difference maps are
``v̂_j = x̂_j - x̂_{j-1}``; Eq. 3 rebuilds the clip from them exactly. Where the reference frame
matters is the link: it is what the next clip is conditioned on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch

from ..checks import check_int, check_video
from ..data.clips import clip_starts, cut_clips
from ..data.diffmaps import difference_maps, recall_reconstruct
from ..losses import g_adv_loss, kl_standard_normal, pixel_error, reparameterize, video_reconstruction
from .encgan3 import EncGAN3, EncGAN3Config

Tensor = torch.Tensor


@dataclass
class REncGAN3Config(EncGAN3Config):
    """EncGAN3's config plus the recall knobs.

    ``overlap``: frames shared by neighbouring clips (``None``: ``frames // 2``, the paper's
    ``r = T_c / 2``); the reference frame of clip ``i`` is its frame ``frames - overlap``, frame 0 of
    clip ``i + 1``. ``clips_per_video``: ``N_C``, the clips of one training window (a window has
    ``frames + (N_C - 1) · (frames - overlap)`` frames: 24 for two clips of 16). ``joint``: L_EncG
    (Eq. 2, REncGAN3) or EncGAN3's separate updates (REncGAN3 (Enc_G)). ``recall_generated``: the
    content of clip ``i + 1`` is encoded from clip ``i``'s generated reference frame (True) or from
    the real one. ``ref_weight`` weighs the reference-frame term of Eq. 2 against the clip term.
    ``chain_prior``: the joint step's prior samples are chains of ``N_C`` links with their own
    reference term (True) or independent clips (False).
    """

    overlap: int | None = None
    clips_per_video: int = 2
    joint: bool = True
    recall_generated: bool = True
    ref_weight: float = 1.0
    chain_prior: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.frames, int) and self.frames % 2:
            raise ValueError(f"the clip length T_c must be even (reference frame r = T_c / 2), got frames={self.frames}")
        super().__post_init__()
        if not self.use_encoder:
            raise ValueError("REncGAN3 needs its encoder (the recall link is the content encoder); "
                             "use EncGAN3Config(use_encoder=False) for G3AN")
        if self.overlap is None:
            self.overlap = self.frames // 2
        check_int("overlap", self.overlap, minimum=1)
        if self.overlap >= self.frames:
            raise ValueError(f"overlap must be smaller than the clip (frames={self.frames}), got overlap={self.overlap}")
        self._check_fields(counts=("clips_per_video",), flags=("joint", "recall_generated", "chain_prior"), amounts=("ref_weight",))

    @property
    def stride(self) -> int:
        """Frames between the starts of neighbouring clips, ``frames - overlap`` (8 for 16 / 8)."""
        return self.frames - self.overlap

    @property
    def reference_index(self) -> int:
        """``r``: the frame of a clip that is frame 0 of the next clip (``stride``; ``T_c / 2`` by default)."""
        return self.stride

    @property
    def window(self) -> int:
        """Frames of one training window: ``frames + (clips_per_video - 1) · stride``."""
        return self.frames + (self.clips_per_video - 1) * self.stride

    @property
    def name(self) -> str:
        return "REncGAN3" if self.joint else "REncGAN3 (Enc_G)"


class REncGAN3(EncGAN3):
    """REncGAN3: EncGAN3's networks (shared, not copied) trained with the recall loss, generating by a chain.

    Optimizers as EncGAN3: ``"D"``, ``"Enc"``, ``"G"``; with ``joint=True`` Enc and G are stepped on
    the one loss L_EncG. Batches hold windows ``(B, C, config.window, H, W)`` of long videos
    (``make_dataset("dancer", frames=config.window)``), or single clips when ``clips_per_video=1``.

    >>> model = REncGAN3(REncGAN3Config.lesson(size=16, d_width=4, enc_width=4))
    >>> frames = torch.cat(list(model.chain(1, 3, torch.Generator().manual_seed(0))), dim=2)
    >>> tuple(frames.shape)      # three links of 8 new frames each
    (1, 3, 24, 16, 16)
    """

    def __init__(self, config: REncGAN3Config | None = None) -> None:
        config = REncGAN3Config.lesson() if config is None else config
        if not isinstance(config, REncGAN3Config):
            raise TypeError(f"config must be a REncGAN3Config, got {type(config).__name__}")
        super().__init__(config)

    # ----------------------------------------------------------------- the recall link
    def clips_of(self, windows: Tensor) -> Tensor:
        """Cut windows ``(B, C, T_w, H, W)`` into their overlapping clips ``(B, N_C, C, T_c, H, W)`` (Fig. 1)."""
        c = self.config
        windows = check_video(windows, "windows", batched=True)
        starts = clip_starts(windows.shape[2], c.frames, c.overlap)
        if len(starts) != c.clips_per_video or windows.shape[2] != c.window:
            raise ValueError(f"expected windows of {c.window} frames ({c.clips_per_video} clips of {c.frames} "
                             f"overlapping by {c.overlap}), got {windows.shape[2]} frames in {tuple(windows.shape)}")
        return cut_clips(windows, c.frames, c.overlap)

    def recall(self, reference: Tensor) -> tuple[Tensor, Tensor]:
        """The link of Eq. 1: a reference frame ``(B, C, H, W)`` → the posterior ``(mu_x, logvar_x)`` of the
        next clip's content code (the content encoder reads it as that clip's first frame)."""
        return self.content_encoder(reference)

    def split_clip(self, clip: Tensor) -> tuple[Tensor, Tensor]:
        """A clip as REncGAN3 reads it: its reference frame ``x_r`` ``(B, C, H, W)`` and its difference maps
        ``(B, C, T-1, H, W)``; :func:`vgan_lesson.data.recall_reconstruct` (Eq. 3) inverts it."""
        return clip[:, :, self.config.reference_index], difference_maps(clip)

    def prior_chain(self, n: int, links: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """Eq. 1 for training: ``n`` chains of ``links`` clips from prior noise, with gradients through
        every link. Returns the clips ``(n · links, C, T, H, W)`` in window-major order (as
        :meth:`clips_of` flattens real windows), the mean KL of the recalled content codes, and the
        mean **link error** ``|x̃_{i+1,0} - x̃_{i,r}|`` (squared with ``rec_norm="l2"``): how far each link's
        first frame lands from the reference frame it was recalled from (Eq. 2's reference term for a chain
        with no real video to copy; the reference is the target, detached). Both are zero for one link.
        Unlike :meth:`chain`, the recalled code is a reparameterised sample."""
        c = self.config
        z_x = self.randn(n, c.content_dim, generator=generator)
        clips, kls, errors = [], [], []
        for i in range(links):
            clip = self.generate(z_x, self.randn(n, c.motion_dim, c.motion_length, generator=generator))
            if clips:
                target = clips[-1][:, :, c.reference_index].detach()
                errors.append(pixel_error(clip[:, :, 0].float(), target.float(), c.rec_norm).mean())
            clips.append(clip)
            if i + 1 < links:
                mu_x, logvar_x = self.recall(clip[:, :, c.reference_index])
                kls.append(kl_standard_normal(mu_x.float(), logvar_x.float()))
                z_x = reparameterize(mu_x, logvar_x, generator)
        zero = clips[0].new_zeros((), dtype=torch.float32)
        kl = sum(kls) / len(kls) if kls else zero
        link = sum(errors) / len(errors) if errors else zero
        return torch.stack(clips, 1).flatten(0, 1), kl, link

    # ----------------------------------------------------------------- training
    def train_step(self, batch: dict[str, Any], step: int, generator: torch.Generator) -> dict[str, Tensor]:
        """One update: D (Eq. 4, 5) → Enc + G (Eq. 2), or EncGAN3's D → Enc → G with ``joint=False``."""
        c = self.config
        clips = self.clips_of(batch["video"])                       # (B, N_C, C, T, H, W)
        b, k = clips.shape[:2]
        real = clips.flatten(0, 1)                                   # (B·N_C, C, T, H, W), clip-major per window
        if not c.joint:                                              # REncGAN3 (Enc_G): EncGAN3's update
            return EncGAN3.train_step(self, {**batch, "video": real}, step, generator)

        # ---- the chain of reconstructions (Eq. 1 along each window, Eq. 3 inside each clip)
        r = c.reference_index
        content_in = clips[:, 0, :, 0]                               # clip 1 starts from the real first frame
        recons, stats = [], []
        for i in range(k):
            mu_x, logvar_x = self.recall(content_in)
            mu_v, logvar_v = self.motion_encoder(difference_maps(clips[:, i]))
            raw = self.generate(reparameterize(mu_x, logvar_x, generator), reparameterize(mu_v, logvar_v, generator))
            reference, diffs = self.split_clip(raw)
            recons.append(recall_reconstruct(reference, diffs, r))   # Eq. 3 around x̂_r
            stats.append((mu_x, logvar_x, mu_v, logvar_v))
            if i + 1 < k:
                content_in = recons[-1][:, :, r] if c.recall_generated else clips[:, i + 1, :, 0]
        x_hat = torch.stack(recons, 1).flatten(0, 1)                 # same order as `real`
        if c.chain_prior:                                            # prior noise, chained as at generation
            x_tilde, kl_recall, link_prior = self.prior_chain(b, k, generator)
        else:                                                        # G(z̃_x, z̃_v): independent prior clips
            x_tilde, kl_recall, link_prior = self.sample(b * k, generator), None, None

        # ---- 1. D: Eq. 4 (D_I) and Eq. 5 (D_V)
        logs = self._update_discriminators(real, [x_hat, x_tilde], generator)

        # ---- 2. Enc + G: L_EncG (Eq. 2) against the updated D, one backward for both
        adversarial = self._adversarial_logits(real, [x_hat, x_tilde], generator)
        rec = video_reconstruction(real.float(), x_hat.float(), reference=r, reference_weight=c.ref_weight,
                                   norm=c.rec_norm)
        kl_x = sum(kl_standard_normal(s[0].float(), s[1].float()) for s in stats) / k
        kl_v = sum(kl_standard_normal(s[2].float(), s[3].float()) for s in stats) / k
        adv = g_adv_loss(*adversarial)
        kl = kl_x + kl_v + (kl_recall if kl_recall is not None else 0.0)
        held = rec + (c.ref_weight * link_prior if link_prior is not None else 0.0)   # + the prior chain's links
        loss = adv + c.rec_weight * (held + c.effective_kl_weight * kl)
        self.update(("Enc", "G"), loss)
        with torch.no_grad():   # how far each link's first frame lands from the reference it was made from
            chained = x_hat.view(b, k, *x_hat.shape[1:])
            link = (chained[:, 1:, :, :, 0] - chained[:, :-1, :, :, r]).abs().mean() if k > 1 else torch.zeros(())
        logs.update(loss_EncG=loss, adv=adv, recon=rec, kl_x=kl_x, kl_v=kl_v, link=link)
        if kl_recall is not None:
            logs.update(kl_recall=kl_recall, link_prior=link_prior)
        return {name: v.detach() for name, v in logs.items()}

    # ----------------------------------------------------------------- generation: the Markov chain
    @torch.no_grad()
    def links(self, n: int, clips: int | None, generator: torch.Generator, start: Tensor | None = None,
              sample: bool = False) -> Iterator[tuple[Tensor, Tensor]]:
        """Eq. 1 link by link: yield ``(z_x, clip)``, the content code ``(n, content_dim)`` each whole
        clip ``(n, C, T, H, W)`` was generated from (with fresh motion noise). Link 1's code is prior
        noise (or, with ``start`` ``(n, C, H, W)``, the posterior mean of those real frames); link
        ``i + 1``'s is the posterior mean of link ``i``'s reference frame, or with ``sample=True`` a
        draw from that posterior (as training recalls it). ``clips=None`` goes on forever (the caller
        stops); only one clip is alive at a time, whatever the length.
        :meth:`chain` streams the frames; :func:`vgan_lesson.longvideo.chain_drift` watches the codes.

        Why ``sample`` matters: a posterior mean lies nearer 0 than the codes it was encoded from (the
        KL term pulls it there), so a chain of means can contract, link after link, towards the one
        video G makes from the middle of the prior. A draw from the posterior puts back its spread.
        """
        if not isinstance(sample, bool):
            raise TypeError(f"sample must be True or False, got {sample!r}")
        check_int("n", n, minimum=1)
        if clips is not None:
            check_int("clips", clips, minimum=1)
        c = self.config
        device = next(self.parameters()).device
        if start is not None:
            start = check_video(start.unsqueeze(2), "start", batched=True)[:, :, 0]
            if start.shape[0] != n:
                raise ValueError(f"start must hold one frame per video: expected {n}, got {start.shape[0]}")
            z_x = self.recall(start.to(device))[0]
        else:
            z_x = self.randn(n, c.content_dim, generator=generator)
        i = 0
        while clips is None or i < clips:
            z_v = self.randn(n, c.motion_dim, c.motion_length, generator=generator)
            clip = self.generate(z_x, z_v).float()
            yield z_x, clip
            mu_x, logvar_x = self.recall(clip[:, :, c.reference_index])
            z_x = reparameterize(mu_x, logvar_x, generator) if sample else mu_x
            i += 1

    @torch.no_grad()
    def chain(self, n: int, clips: int | None, generator: torch.Generator, start: Tensor | None = None,
              sample: bool = False) -> Iterator[Tensor]:
        """Eq. 1 as a stream: yield the new frames ``(n, C, stride, H, W)`` of each link of ``n`` long videos.

        Link 1 is generated from prior noise (or, with ``start`` ``(n, C, H, W)``, from the content code
        of that real frame); link ``i + 1`` from the content code (posterior mean) of link ``i``'s
        reference frame and fresh motion noise (:meth:`links`; ``sample=True``: a draw from that
        posterior instead of its mean). Each link yields its frames
        ``0 .. stride-1``: frame ``stride`` is the reference, which the next link starts from.
        ``clips=None`` goes on forever (the caller stops); only one clip is alive at a time.
        """
        for _, clip in self.links(n, clips, generator, start, sample):
            yield clip[:, :, :self.config.stride]

    @torch.no_grad()
    def long_video(self, n: int, frames: int, generator: torch.Generator, start: Tensor | None = None,
                   sample: bool = False) -> Tensor:
        """``n`` long videos of ``frames`` frames ``(n, C, frames, H, W)`` held in memory (for short ones;
        :func:`vgan_lesson.longvideo.generate_long` streams any length to a file)."""
        check_int("frames", frames, minimum=1)
        links = -(-frames // self.config.stride)
        return torch.cat(list(self.chain(n, links, generator, start, sample)), dim=2)[:, :, :frames]

    def extra_repr(self) -> str:
        c = self.config
        return (super().extra_repr() + f"; clips of {c.frames} overlapping by {c.overlap}, {c.clips_per_video} per window")


__all__ = ["REncGAN3", "REncGAN3Config"]
