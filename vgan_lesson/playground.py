"""The latent playground of lesson 04: pick, swap, interpolate and add EncGAN3's content and motion codes.

EncGAN3 Fig. 3 shows what a trained encoder makes possible: the same content code with the motion
codes of different videos (Fig. 3-a), and the **sum** of two videos' codes (Fig. 3-b). Here every
encoded clip (its posterior means ``mu_x``, ``mu_v``) and a few prior-noise draws become *sources*;
a video is generated from

    z_x = (1 - a) · z_x[content]  +  a · z_x[content_b]          (mode "interpolate")
    z_v = (1 - b) · z_v[motion]   +  b · z_v[motion_b]

or, in mode ``"add"``, from ``z_x[content] + a · z_x[content_b]`` and ``z_v[motion] + b · z_v[motion_b]``
(Fig. 3-b is ``a = b = 1``). :meth:`LatentPlayground.widget` puts the same choices on ipywidgets
controls with the video updating live; every method also works headless (papermill).
"""
from __future__ import annotations

from typing import Sequence

import torch

from .checks import check_choice, check_video

Tensor = torch.Tensor

PLAY_MODES = ("interpolate", "add")


class LatentPlayground:
    """Codes of ``videos`` (encoded by ``model``) plus ``noise`` prior draws, ready to recombine.

    ``names`` labels the clips (e.g. ``"circle · walk"``); noise sources are called ``"noise k"``.
    """

    def __init__(self, model, videos: Tensor, names: Sequence[str] | None = None, noise: int = 2, seed: int = 0):
        if not getattr(model.config, "use_encoder", False):
            raise ValueError("the playground needs a model with an encoder (EncGAN3), got "
                             f"{getattr(model.config, 'name', type(model).__name__)}")
        videos = check_video(videos, "videos", batched=True)
        if names is not None and len(names) != len(videos):
            raise ValueError(f"names must label every clip: {len(videos)} clips, {len(names)} names")
        self.model = model.eval()
        self.device = next(model.parameters()).device
        with torch.no_grad():
            post = model.encode(videos.to(self.device))
            z_x, z_v = model.prior(noise, torch.Generator().manual_seed(seed)) if noise else (None, None)
        self.videos = videos
        self.z_x = post.mu_x if not noise else torch.cat([post.mu_x, z_x.to(self.device)])
        self.z_v = post.mu_v if not noise else torch.cat([post.mu_v, z_v.to(self.device)])
        clip_names = list(names) if names is not None else [f"clip {i}" for i in range(len(videos))]
        self.names = clip_names + [f"noise {k}" for k in range(noise)]

    def index(self, source: int | str) -> int:
        """A source by position or by name."""
        if isinstance(source, str):
            check_choice("source", source, self.names)
            return self.names.index(source)
        if isinstance(source, bool) or not isinstance(source, int) or not 0 <= source < len(self.names):
            raise ValueError(f"source must be a name or an index in [0, {len(self.names)}), got {source!r}")
        return source

    def codes(self, content: int | str, motion: int | str, content_b: int | str | None = None,
              motion_b: int | str | None = None, a: float = 0.0, b: float = 0.0,
              mode: str = "interpolate") -> tuple[Tensor, Tensor]:
        """The codes ``(z_x (1, D), z_v (1, M, T'))`` for one choice of the controls (module docstring)."""
        check_choice("mode", mode, PLAY_MODES)

        def mix(table: Tensor, first, second, w: float) -> Tensor:
            one = table[self.index(first)]
            if second is None or w == 0:
                return one.unsqueeze(0)
            two = table[self.index(second)]
            return (one + w * two if mode == "add" else (1 - w) * one + w * two).unsqueeze(0)

        return mix(self.z_x, content, content_b, float(a)), mix(self.z_v, motion, motion_b, float(b))

    @torch.no_grad()
    def render(self, content: int | str, motion: int | str, content_b: int | str | None = None,
               motion_b: int | str | None = None, a: float = 0.0, b: float = 0.0, mode: str = "interpolate") -> Tensor:
        """The generated clip ``(1, C, T, H, W)`` for one choice of the controls."""
        return self.model.generate(*self.codes(content, motion, content_b, motion_b, a, b, mode)).float().cpu()

    @torch.no_grad()
    def swap_grid(self, sources: Sequence[int | str]) -> Tensor:
        """Every content with every motion: clip ``i * k + j`` has the content of ``sources[i]`` and the
        motion of ``sources[j]`` (the diagonal is each source's own reconstruction)."""
        idx = [self.index(s) for s in sources]
        k = len(idx)
        z_x = self.z_x[idx].repeat_interleave(k, dim=0)
        z_v = self.z_v[idx].repeat(k, 1, 1)
        return self.model.generate(z_x, z_v).float().cpu()

    @torch.no_grad()
    def interpolation(self, first: int | str, second: int | str, steps: int = 5, which: str = "content") -> Tensor:
        """``steps`` clips from ``first`` to ``second``, moving only the content (or only the motion) code;
        the other code stays ``first``'s."""
        check_choice("which", which, ("content", "motion"))
        ws = torch.linspace(0, 1, steps).tolist()
        clips = [self.render(first, first, content_b=second if which == "content" else None,
                             motion_b=second if which == "motion" else None,
                             a=w if which == "content" else 0.0, b=w if which == "motion" else 0.0) for w in ws]
        return torch.cat(clips)

    def widget(self, fps: float = 8, scale: int | None = None):
        """ipywidgets controls (content, second content, a; motion, second motion, b; mode) above the
        generated video, which is redrawn whenever a control changes.

        The video is an ``ipywidgets.Image`` holding the GIF (no ``Output`` widget: capturing display
        output inside an Output widget can stall headless execution under nbclient/papermill).
        """
        import ipywidgets as w

        from .viz import gif_bytes

        size = int(self.videos.shape[-1])
        scale = max(1, 128 // size) if scale is None else scale
        opts = list(self.names)
        content = w.Dropdown(options=opts, value=opts[0], description="content")
        content_b = w.Dropdown(options=opts, value=opts[min(1, len(opts) - 1)], description="content B")
        a = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, description="a (content)")
        motion = w.Dropdown(options=opts, value=opts[0], description="motion")
        motion_b = w.Dropdown(options=opts, value=opts[min(1, len(opts) - 1)], description="motion B")
        b = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, description="b (motion)")
        mode = w.ToggleButtons(options=list(PLAY_MODES), value="interpolate", description="mode")
        image = w.Image(format="gif")

        def redraw(*_):
            clip = self.render(content.value, motion.value, content_b.value, motion_b.value, a.value, b.value,
                               mode.value)
            image.value = gif_bytes(clip, fps=fps, scale=scale)

        for control in (content, content_b, a, motion, motion_b, b, mode):
            control.observe(redraw, names="value")
        redraw()
        return w.VBox([w.HBox([content, content_b, a]), w.HBox([motion, motion_b, b]), mode, image])
