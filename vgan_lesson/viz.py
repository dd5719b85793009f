"""Pictures of videos: the one place where tensors become images, GIFs, animations and plots.

No lesson writes its own plotting code; every figure a student sees comes from here.

Tensor convention (DESIGN §3): one video is ``(C, T, H, W)``, a batch ``(N, C, T, H, W)``, frames
``(N, C, H, W)`` or ``(C, H, W)``; float in [-1, 1]; ``C`` is 1 (grey) or 3 (RGB). Every function
validates its input with :mod:`vgan_lesson.checks` and says what it expected and what came.

Pixel mapping: a value ``x`` becomes ``round((x + 1) / 2 * 255)``, the same quantisation as the
clip files (:func:`vgan_lesson.data.clipfile.to_uint8`), so -1 is black (0), 1 is white (255) and 0
is 128. The mapping is **fixed**: pictures are never rescaled by a batch's own min/max. Public G3AN
code saves samples that way (``(x - x.min()) / (x.max() - x.min())`` per batch), which stretches the
contrast of a washed-out generator until it looks fine and makes two checkpoints impossible to
compare by eye. Here a grey-looking sample *is* grey.

Difference maps ``v_j = x_j - x_{j-1}`` (EncGAN3 Sec. 3.1) lie in [-2, 2] and are shown with a fixed
diverging colour map (:data:`DIFF_CMAP`): 0 is near-white (no change), positive values (the pixel got
brighter) are warm reds, negative values (it got darker) cool blues; RGB differences are averaged
over the channels first.

Everything is headless: figures are built with :class:`matplotlib.figure.Figure` directly, never
through ``pyplot``, so nothing needs a display, nothing is drawn twice in a notebook, and no
``plt.show()`` is ever called. In a notebook, leave a returned figure as the last expression of a
cell (or ``display`` it); animations come back as ``IPython.display.HTML`` / ``Image`` objects.

Functions
---------
conversion   :func:`to_uint8`, :func:`diff_to_uint8`
still images :func:`frame_grid`, :func:`diff_map_image`, :func:`difference_grid`, :func:`save_png`
moving       :func:`gif_bytes`, :func:`save_gif`, :func:`show_gif`, :func:`animate`, :func:`show_video`
figures      :func:`plot_frames`, :func:`loss_plot`
widgets      :func:`choice_widget`
"""
from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence, Union

import numpy as np
import torch
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from .checks import check_choice, check_frames, check_int, check_tensor, check_video
from .io import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover - imported lazily at run time
    from IPython.display import HTML
    from IPython.display import Image as IPyImage
    from matplotlib.axes import Axes

Tensor = torch.Tensor
VideoLike = Union[Tensor, Sequence[Tensor]]
Color = Union[int, tuple[int, int, int]]

#: Default colour (uint8 grey level) of the gaps between tiles: mid grey separates dark frames,
#: bright frames and near-white difference maps alike.
PAD_VALUE: int = 128

#: The diverging colour map for difference maps (ColorBrewer RdBu, 7 classes): anchor positions in
#: [-1, 1] (multiples of ``vmax``) and their RGB colours. Position 0 (no change) is near-white.
DIFF_ANCHORS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (-1.0, (33, 102, 172)),
    (-2 / 3, (103, 169, 207)),
    (-1 / 3, (209, 229, 240)),
    (0.0, (247, 247, 247)),
    (1 / 3, (253, 219, 199)),
    (2 / 3, (239, 138, 98)),
    (1.0, (178, 24, 43)),
)
#: The colour shown for "no change" (a difference of exactly 0).
DIFF_NEUTRAL: tuple[int, int, int] = DIFF_ANCHORS[3][1]
#: The same map as a matplotlib colormap, for colour bars (use ``vmin=-vmax, vmax=vmax``).
DIFF_CMAP = LinearSegmentedColormap.from_list(
    "vgan_diff", [((p + 1) / 2, tuple(c / 255 for c in rgb)) for p, rgb in DIFF_ANCHORS])

#: Above this many frames :func:`animate` subsamples time (with a warning) to keep notebooks small.
MAX_ANIMATION_FRAMES: int = 64


# --------------------------------------------------------------------------------------------------
# validation and conversion
# --------------------------------------------------------------------------------------------------

def _as_video_batch(videos: VideoLike, name: str = "videos") -> tuple[Tensor, bool]:
    """Validate a video, a batch or a list of equally shaped videos; return ``((N, C, T, H, W), single)``.

    The result is a detached float32 CPU tensor clamped to [-1, 1] (``check_video`` allows 1e-4 of
    slack for float rounding). ``single`` is True when one ``(C, T, H, W)`` video came in.
    """
    if isinstance(videos, (list, tuple)):
        if not videos:
            raise ValueError(f"{name} is an empty list; expected (C, T, H, W) videos")
        items = [check_video(v, f"{name}[{i}]", batched=False) for i, v in enumerate(videos)]
        shapes = {tuple(v.shape) for v in items}
        if len(shapes) != 1:
            raise ValueError(f"{name}: all videos in a list must have the same shape (C, T, H, W), "
                             f"got {sorted(shapes)}")
        x, single = torch.stack([v.detach().float().cpu() for v in items]), False
    else:
        x = check_video(videos, name)
        single = x.ndim == 4
        x = x.detach().to("cpu", torch.float32)
        if single:
            x = x.unsqueeze(0)
    if x.shape[2] == 0:
        raise ValueError(f"{name} has no frames (T = 0), shape {tuple(x.shape)}")
    return x.clamp(-1.0, 1.0), single


def _quantise(x: Tensor) -> np.ndarray:
    """Float in [-1, 1] -> uint8 by ``round((x + 1) * 127.5)``; never a per-batch rescale."""
    return ((x + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def _channels_last_rgb(a: np.ndarray) -> np.ndarray:
    """``(..., C, H, W)`` uint8 with C in {1, 3} -> ``(..., H, W, 3)`` (grey is repeated)."""
    a = np.moveaxis(a, -3, -1)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return np.ascontiguousarray(a)


def to_uint8(x: Tensor, layout: str = "video") -> np.ndarray:
    """Convert videos or frames in [-1, 1] to uint8 RGB arrays, channels last.

    ``layout="video"``: ``(C, T, H, W)`` -> ``(T, H, W, 3)`` and ``(N, C, T, H, W)`` -> ``(N, T, H, W, 3)``.
    ``layout="frames"``: ``(C, H, W)`` -> ``(H, W, 3)`` and ``(N, C, H, W)`` -> ``(N, H, W, 3)``.
    (A 4-d tensor is ambiguous — one video or a frame batch — hence the explicit ``layout``.)

    The mapping is fixed, ``round((x + 1) / 2 * 255)``: -1 -> 0, 0 -> 128, 1 -> 255, identical to
    the clip files. It is deliberately *not* ``(x - min) / (max - min)`` per batch (the G3AN sample
    saver's habit), which hides a washed-out or saturated generator. Grey (C = 1) becomes 3 equal
    channels.
    """
    check_choice("layout", layout, ("video", "frames"))
    if layout == "video":
        x = check_video(x, "video")
        # (..., C, T, H, W) -> (..., T, C, H, W) so the channel axis sits before H, W
        a = _quantise(x.detach().to("cpu", torch.float32).clamp(-1, 1).transpose(-4, -3))
    else:
        x = check_frames(x, "frames")
        a = _quantise(x.detach().to("cpu", torch.float32).clamp(-1, 1))
    return _channels_last_rgb(a)


def _check_diffs(diffs: Tensor, name: str = "diffs") -> Tensor:
    """Difference maps ``(C, T, H, W)`` / ``(N, C, T, H, W)``, float, values in [-2, 2], C in {1, 3}."""
    diffs = check_tensor(name, diffs, (4, 5), "(C, T-1, H, W) or (N, C, T-1, H, W)", value_range=(-2.0, 2.0))
    if diffs.shape[-4] not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (axis C), got shape {tuple(diffs.shape)}")
    return diffs


def diff_to_uint8(diffs: Tensor, vmax: float = 1.0) -> np.ndarray:
    """Colour signed difference maps with the fixed diverging map :data:`DIFF_CMAP`.

    ``diffs`` is ``(C, T, H, W)`` or ``(N, C, T, H, W)`` with values in [-2, 2] (for example from
    :func:`vgan_lesson.data.diffmaps.difference_maps`); RGB differences are averaged over channels.
    A value ``v`` is placed at ``v / vmax`` on the map (clipped to [-1, 1]): 0 -> :data:`DIFF_NEUTRAL`
    (near-white), ``+vmax`` -> dark red (brighter than the previous frame), ``-vmax`` -> dark blue
    (darker). ``vmax`` is a fixed number, never the data's own maximum, so colours mean the same
    thing in every picture. The default 1 keeps typical object motion clearly coloured (a change of
    more than half the black-to-white range saturates); ``vmax=2`` covers every possible value.

    Returns uint8 ``(T, H, W, 3)`` or ``(N, T, H, W, 3)``.
    """
    diffs = _check_diffs(diffs)
    if not (isinstance(vmax, (int, float)) and not isinstance(vmax, bool) and 0 < vmax <= 2 and math.isfinite(vmax)):
        raise ValueError(f"vmax must be a number in (0, 2], got {vmax!r}")
    v = diffs.detach().to("cpu", torch.float32).mean(dim=-4).numpy()        # (..., T, H, W)
    pos = np.clip(v / vmax, -1.0, 1.0)
    xs = np.array([p for p, _ in DIFF_ANCHORS])
    rgb = np.stack([np.interp(pos, xs, [c[k] for _, c in DIFF_ANCHORS]) for k in range(3)], axis=-1)
    return np.rint(rgb).astype(np.uint8)


# --------------------------------------------------------------------------------------------------
# still images
# --------------------------------------------------------------------------------------------------

def frame_indices(num_frames: int, every: int = 1, max_frames: int | None = None) -> list[int]:
    """The frames a grid shows: ``0, every, 2*every, ...`` below ``num_frames``, at most ``max_frames``."""
    check_int("every", every, minimum=1)
    if max_frames is not None:
        check_int("max_frames", max_frames, minimum=1)
    return list(range(0, num_frames, every))[:max_frames]


def _rgb(color: Color, name: str = "pad_value") -> tuple[int, int, int]:
    """A uint8 grey level or RGB triple as an RGB triple."""
    if isinstance(color, (int, np.integer)) and not isinstance(color, bool):
        color = (int(color),) * 3
    if not (isinstance(color, (tuple, list)) and len(color) == 3
            and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)):
        raise ValueError(f"{name} must be a grey level 0-255 or an (r, g, b) triple of 0-255 ints, got {color!r}")
    return tuple(int(c) for c in color)  # type: ignore[return-value]


def _upscale(a: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour integer upscaling of ``(..., H, W, 3)`` arrays."""
    check_int("scale", scale, minimum=1)
    if scale == 1:
        return a
    return a.repeat(scale, axis=-3).repeat(scale, axis=-2)


def _tile(cells: np.ndarray, padding: int, pad_value: Color, border: bool) -> np.ndarray:
    """Lay out ``cells`` ``(R, K, h, w, 3)`` as an R x K mosaic separated by ``padding`` pixels.

    With ``border`` the padding also runs round the outside (size ``K*w + (K+1)*padding``),
    otherwise only between cells (``K*w + (K-1)*padding``).
    """
    check_int("padding", padding, minimum=0)
    rows, cols, h, w, _ = cells.shape
    edge = padding if border else 0
    out = np.empty((rows * h + (rows - 1) * padding + 2 * edge, cols * w + (cols - 1) * padding + 2 * edge, 3),
                   dtype=np.uint8)
    out[...] = _rgb(pad_value)
    for r in range(rows):
        for c in range(cols):
            y, x = edge + r * (h + padding), edge + c * (w + padding)
            out[y:y + h, x:x + w] = cells[r, c]
    return out


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font at ``size`` pixels (the bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # old Pillow or no FreeType
        return ImageFont.load_default()


def _label(grid: np.ndarray, row_labels: Sequence[str] | None, col_labels: Sequence[str] | None,
           row_starts: Sequence[int], row_height: int, col_starts: Sequence[int], col_width: int,
           pad_value: Color) -> Image.Image:
    """Add a left margin with ``row_labels`` and a top margin with ``col_labels`` to ``grid``."""
    img = Image.fromarray(grid)
    if not row_labels and not col_labels:
        return img
    font = _font(11)
    probe = ImageDraw.Draw(img)

    def size(text: str) -> tuple[int, int]:
        box = probe.textbbox((0, 0), text, font=font, anchor="lt")
        return box[2] - box[0], box[3] - box[1]

    left = (max(size(s)[0] for s in row_labels) + 8) if row_labels else 0
    top = (max(size(s)[1] for s in col_labels) + 8) if col_labels else 0
    bg = _rgb(pad_value)
    ink = (0, 0, 0) if sum(bg) > 3 * 110 else (255, 255, 255)
    out = Image.new("RGB", (img.width + left, img.height + top), bg)
    out.paste(img, (left, top))
    draw = ImageDraw.Draw(out)
    for text, y in zip(row_labels or (), row_starts):
        w, h = size(text)
        draw.text((left - w - 4, top + y + (row_height - h) // 2), text, fill=ink, font=font, anchor="lt")
    for text, x in zip(col_labels or (), col_starts):
        w, h = size(text)
        draw.text((left + x + (col_width - w) // 2, 3), text, fill=ink, font=font, anchor="lt")
    return out


def _check_labels(labels: Sequence[str] | None, count: int, name: str) -> list[str] | None:
    if labels is None:
        return None
    labels = [str(s) for s in labels]
    if len(labels) != count:
        raise ValueError(f"{name} needs {count} labels, got {len(labels)}")
    return labels


def _col_labels(col_labels: Sequence[str] | bool | None, idx: Sequence[int]) -> list[str] | None:
    if col_labels is True:
        return [f"t={t}" for t in idx]
    if col_labels is False or col_labels is None:
        return None
    return _check_labels(col_labels, len(idx), "col_labels")


def _filmstrip(rows: np.ndarray, idx: Sequence[int], padding: int, pad_value: Color, scale: int,
               row_labels: Sequence[str] | None, col_labels: Sequence[str] | bool | None) -> Image.Image:
    """Shared body of the grid functions: ``rows`` is uint8 ``(R, T, H, W, 3)``."""
    cells = _upscale(rows[:, list(idx)], scale)
    grid = _tile(cells, padding, pad_value, border=True)
    r, k, h, w, _ = cells.shape
    return _label(grid, _check_labels(row_labels, r, "row_labels"), _col_labels(col_labels, idx),
                  [padding + i * (h + padding) for i in range(r)], h,
                  [padding + j * (w + padding) for j in range(k)], w, pad_value)


def frame_grid(videos: VideoLike, every: int = 1, max_frames: int | None = None, padding: int = 1,
               pad_value: Color = PAD_VALUE, scale: int = 1, row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | bool | None = None) -> Image.Image:
    """The classic "video as a filmstrip" picture: one row per video, one column per shown frame.

    ``videos`` is one video ``(C, T, H, W)``, a batch ``(N, C, T, H, W)`` or a list of equally shaped
    videos. Frames ``0, every, 2*every, ...`` are shown, at most ``max_frames`` of them; each is
    upscaled ``scale`` times (nearest neighbour). ``padding`` pixels of ``pad_value`` (grey level or
    RGB) separate the cells and frame the whole grid, so without labels the image is exactly::

        width  = K * W * scale + (K + 1) * padding      (K = number of shown frames)
        height = N * H * scale + (N + 1) * padding

    ``row_labels`` (one per video) add a left margin, ``col_labels`` (one per shown frame, or
    ``True`` for ``t=0, t=2, ...``) a top margin. Pixels use the fixed mapping of :func:`to_uint8`.
    """
    x, _ = _as_video_batch(videos)
    idx = frame_indices(x.shape[2], every, max_frames)
    return _filmstrip(to_uint8(x), idx, padding, pad_value, scale, row_labels, col_labels)


def diff_map_image(diffs: Tensor, vmax: float = 1.0, every: int = 1, max_frames: int | None = None,
                   padding: int = 1, pad_value: Color = PAD_VALUE, scale: int = 1,
                   row_labels: Sequence[str] | None = None,
                   col_labels: Sequence[str] | bool | None = None) -> Image.Image:
    """A filmstrip of signed difference maps ``(C, T-1, H, W)`` / ``(N, C, T-1, H, W)`` in [-2, 2].

    Colours as in :func:`diff_to_uint8` (0 near-white, positive red, negative blue, fixed ``vmax``);
    layout and size arithmetic as in :func:`frame_grid`. Column ``j`` of the strip is ``diffs[:, j]``.
    """
    colours = diff_to_uint8(diffs, vmax)
    if colours.ndim == 4:
        colours = colours[None]
    idx = frame_indices(colours.shape[1], every, max_frames)
    return _filmstrip(colours, idx, padding, pad_value, scale, row_labels, col_labels)


def _difference_rows(x: Tensor, vmax: float) -> np.ndarray:
    """uint8 ``(2N, T, H, W, 3)``: each video's frames, then beneath them its difference maps.

    ``v_j = x_j - x_{j-1}`` sits under ``x_j``; the cell under ``x_0`` (which has no predecessor)
    is filled with the neutral colour.
    """
    from .data.diffmaps import difference_maps  # lazy: the data package is large and optional here

    n, _, t, h, w = x.shape
    frames = to_uint8(x)                                                   # (N, T, H, W, 3)
    maps = np.empty_like(frames)
    maps[:, 0] = DIFF_NEUTRAL
    if t > 1:
        maps[:, 1:] = diff_to_uint8(difference_maps(x), vmax)
    return np.stack([frames, maps], axis=1).reshape(2 * n, t, h, w, 3)


def difference_grid(videos: VideoLike, vmax: float = 1.0, every: int = 1, max_frames: int | None = None,
                    padding: int = 1, pad_value: Color = PAD_VALUE, scale: int = 1,
                    row_labels: Sequence[str] | bool | None = True,
                    col_labels: Sequence[str] | bool | None = None) -> Image.Image:
    """Frames on top, their difference maps ``v_j = x_j - x_{j-1}`` (EncGAN3 Sec. 3.1) beneath.

    For each video two rows: the frames ``x_j`` and, under each ``x_j``, ``v_j`` coloured as in
    :func:`diff_to_uint8` (under ``x_0`` a blank neutral cell, since ``v_0`` does not exist). With
    ``every > 1`` the maps shown are still between *consecutive* frames, as the motion encoder sees
    them. The maps are computed by :func:`vgan_lesson.data.diffmaps.difference_maps`.

    ``row_labels=True`` labels the rows ``x`` / ``v`` (``x[i]`` / ``v[i]`` for a batch); a list gives
    one label per row (``2N``). Size arithmetic as in :func:`frame_grid` with ``2N`` rows.
    """
    x, single = _as_video_batch(videos)
    rows = _difference_rows(x, vmax)
    if row_labels is True:
        row_labels = ["x", "v"] if single else [s for i in range(x.shape[0]) for s in (f"x[{i}]", f"v[{i}]")]
    elif row_labels is False:
        row_labels = None
    idx = frame_indices(x.shape[2], every, max_frames)
    return _filmstrip(rows, idx, padding, pad_value, scale, row_labels, col_labels)


def save_png(image: Image.Image | np.ndarray | Tensor | Figure, path: str | os.PathLike, scale: int = 1,
             **grid_kwargs) -> Path:
    """Save a picture as PNG, atomically (temporary file + rename); return the path.

    ``image`` may be a PIL image, a uint8 array ``(H, W)`` / ``(H, W, 3)``, a frame tensor
    ``(C, H, W)`` in [-1, 1], a video or batch tensor (saved as :func:`frame_grid`, to which
    ``grid_kwargs`` go), or a matplotlib ``Figure``. ``scale`` upscales (nearest neighbour) anything
    but a figure.
    """
    check_int("scale", scale, minimum=1)
    if isinstance(image, Figure):
        buf = io.BytesIO()
        image.savefig(buf, format="png")
        return atomic_write_bytes(buf.getvalue(), path)
    if isinstance(image, Tensor):
        if image.ndim == 3:
            image = Image.fromarray(to_uint8(image, layout="frames"))
        else:
            image = frame_grid(image, **grid_kwargs)
    elif isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
            raise ValueError(f"a numpy image must be uint8 (H, W) or (H, W, 1|3|4), "
                             f"got {image.dtype} array of shape {image.shape}")
        image = Image.fromarray(image.squeeze(-1) if image.ndim == 3 and image.shape[2] == 1 else image)
    elif not isinstance(image, Image.Image):
        raise TypeError(f"save_png expects a PIL image, uint8 array, tensor or Figure, got {type(image).__name__}")
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return atomic_write_bytes(buf.getvalue(), path)


# --------------------------------------------------------------------------------------------------
# moving pictures
# --------------------------------------------------------------------------------------------------

def _auto_scale(h: int, w: int, target: int = 128) -> int:
    """An integer upscaling that makes a ``h x w`` video about ``target`` pixels across."""
    return max(1, round(target / max(h, w)))


def _default_ncols(n: int) -> int:
    return min(n, 8)


def video_tiles(videos: VideoLike, ncols: int | None = None, padding: int = 1, pad_value: Color = PAD_VALUE,
                scale: int = 1) -> np.ndarray:
    """The frames of a grid of videos playing together: uint8 ``(T, H', W', 3)``.

    Videos are tiled left to right, ``ncols`` per row (default ``min(N, 8)``), upscaled ``scale``
    times, separated (not surrounded) by ``padding`` pixels; a single video is just upscaled, so
    ``H' = rows * H * scale + (rows - 1) * padding`` and likewise ``W'``. Empty cells of the last row
    are filled with ``pad_value``.
    """
    x, _ = _as_video_batch(videos)
    n, _, t, h, w = x.shape
    ncols = _default_ncols(n) if ncols is None else check_int("ncols", ncols, minimum=1)
    nrows = math.ceil(n / ncols)
    frames = _upscale(to_uint8(x), scale)                                  # (N, T, h, w, 3)
    cells = np.empty((nrows * ncols,) + frames.shape[1:], dtype=np.uint8)
    cells[...] = _rgb(pad_value)
    cells[:n] = frames
    cells = cells.reshape((nrows, ncols) + frames.shape[1:])
    return np.stack([_tile(cells[:, :, j], padding, pad_value, border=False) for j in range(t)])


def gif_bytes(videos: VideoLike, fps: float = 8, scale: int = 1, loop: int = 0, ncols: int | None = None,
              padding: int = 1, pad_value: Color = PAD_VALUE) -> bytes:
    """Encode a video (or a batch, tiled by :func:`video_tiles`) as an animated GIF; return its bytes.

    ``fps`` frames per second (GIF stores delays in 1/100 s, so the delay is rounded to 10 ms);
    ``scale`` integer nearest-neighbour upscaling, so 32x32 videos are visible; ``loop=0`` repeats
    forever, ``loop=k`` plays ``k`` extra times. Colours are quantised to a 256-colour palette per
    frame (exact for the few colours of procedural data, close for generated samples). Pillow merges
    identical consecutive frames into one longer frame: playback is the same, the frame count less.
    """
    if not (isinstance(fps, (int, float)) and not isinstance(fps, bool) and 0 < fps <= 100):
        raise ValueError(f"fps must be a number in (0, 100], got {fps!r}")
    check_int("loop", loop, minimum=0)
    frames = video_tiles(videos, ncols=ncols, padding=padding, pad_value=pad_value, scale=scale)
    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(10, int(round(1000 / fps / 10)) * 10), loop=loop, optimize=False, disposal=1)
    return buf.getvalue()


def save_gif(videos: VideoLike, path: str | os.PathLike, fps: float = 8, scale: int = 1, loop: int = 0,
             ncols: int | None = None, padding: int = 1, pad_value: Color = PAD_VALUE) -> Path:
    """Write :func:`gif_bytes` to ``path`` atomically (temporary file + rename); return the path."""
    data = gif_bytes(videos, fps=fps, scale=scale, loop=loop, ncols=ncols, padding=padding, pad_value=pad_value)
    return atomic_write_bytes(data, path)


def show_gif(videos: VideoLike, fps: float = 8, scale: int | None = None, ncols: int | None = None,
             padding: int = 1) -> "IPyImage":
    """An ``IPython.display.Image`` holding the GIF of :func:`gif_bytes` — the light way to play
    videos in a notebook (a few kB, no JavaScript). ``scale=None`` picks about 128 px per video."""
    from IPython.display import Image as IPyImage

    x, _ = _as_video_batch(videos)
    scale = _auto_scale(x.shape[3], x.shape[4]) if scale is None else scale
    return IPyImage(data=gif_bytes(x, fps=fps, scale=scale, ncols=ncols, padding=padding), format="gif")


def animate(videos: VideoLike, fps: float = 8, scale: int | None = None, titles: Sequence[str] | None = None,
            ncols: int | None = None, max_frames: int | None = MAX_ANIMATION_FRAMES,
            embed_limit_mb: float = 20.0) -> "HTML":
    """A play/pause/step animation for notebooks: ``IPython.display.HTML`` from ``FuncAnimation.to_jshtml``.

    One panel per video (``ncols`` per row, default ``min(N, 8)``), an optional title above each
    (``titles``, one per video) and the frame index on top. ``scale`` is screen pixels per video
    pixel (``None``: about 128 px per video). The HTML embeds one PNG per frame, so above
    ``max_frames`` frames time is subsampled evenly (with a warning) and matplotlib stops embedding
    beyond ``embed_limit_mb`` megabytes. The figure is built without ``pyplot``, so it is never
    also drawn as a static picture.
    """
    from IPython.display import HTML
    from matplotlib import rc_context
    from matplotlib.animation import FuncAnimation

    if not (isinstance(fps, (int, float)) and not isinstance(fps, bool) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    x, _ = _as_video_batch(videos)
    n, _, t, h, w = x.shape
    titles = _check_labels(titles, n, "titles")
    scale = _auto_scale(h, w) if scale is None else check_int("scale", scale, minimum=1)
    ncols = _default_ncols(n) if ncols is None else check_int("ncols", ncols, minimum=1)
    nrows = math.ceil(n / ncols)
    step = 1
    if max_frames is not None and t > check_int("max_frames", max_frames, minimum=1):
        step = math.ceil(t / max_frames)
        warnings.warn(f"animate: {t} frames is more than max_frames={max_frames}; showing every {step}th frame "
                      f"(pass max_frames=None to keep all)", stacklevel=2)
    idx = list(range(0, t, step))
    frames = to_uint8(x)                                                   # (N, T, H, W, 3)

    dpi, gap, head = 100, 6, 20
    title_px = 16 if titles else 0
    tw, th = w * scale, h * scale
    fig_w = ncols * tw + (ncols + 1) * gap
    fig_h = head + nrows * (title_px + th + gap)
    fig = Figure(figsize=(fig_w / dpi, fig_h / dpi), dpi=dpi, facecolor="white")
    images = []
    for i in range(n):
        r, c = divmod(i, ncols)
        left = gap + c * (tw + gap)
        top = head + r * (title_px + th + gap) + title_px
        ax = fig.add_axes((left / fig_w, 1 - (top + th) / fig_h, tw / fig_w, th / fig_h))
        ax.set_axis_off()
        images.append(ax.imshow(frames[i, 0], interpolation="nearest"))
        if titles:
            ax.set_title(titles[i], fontsize=8, pad=2)
    counter = fig.text(0.5, 1 - 3 / fig_h, "", ha="center", va="top", fontsize=8)

    def draw(k: int):
        for i, im in enumerate(images):
            im.set_data(frames[i, idx[k]])
        counter.set_text(f"t = {idx[k]} / {t - 1}")
        return images + [counter]

    anim = FuncAnimation(fig, draw, frames=len(idx), interval=1000 / fps, blit=False)
    with rc_context({"animation.embed_limit": embed_limit_mb}):
        html = anim.to_jshtml(fps=fps, default_mode="loop")
    return HTML(html)


def show_video(videos: VideoLike, kind: str = "gif", fps: float = 8, scale: int | None = None,
               titles: Sequence[str] | None = None, ncols: int | None = None):
    """Play videos in a notebook: ``kind="gif"`` -> :func:`show_gif` (light), ``"html"`` -> :func:`animate`
    (controls and per-video titles)."""
    check_choice("kind", kind, ("gif", "html"))
    if kind == "gif":
        return show_gif(videos, fps=fps, scale=scale, ncols=ncols)
    return animate(videos, fps=fps, scale=scale, titles=titles, ncols=ncols)


# --------------------------------------------------------------------------------------------------
# matplotlib figures
# --------------------------------------------------------------------------------------------------

def plot_frames(videos: VideoLike, every: int = 1, max_frames: int | None = 16,
                row_labels: Sequence[str] | None = None, show_diffs: bool = False, vmax: float = 1.0,
                cell_inches: float = 0.9, title: str | None = None) -> Figure:
    """A matplotlib figure of frames: rows = videos, columns = frames ``t = 0, every, ...`` (titled).

    With ``show_diffs`` each video's row is followed by a row of its difference maps ``v_j`` (under
    ``x_j``; nothing under ``x_0``) and a colour bar explains the diverging colours (fixed range
    ``[-vmax, vmax]``). Returns the ``Figure`` (no ``pyplot``: display it as a cell's last value).
    """
    x, _ = _as_video_batch(videos)
    n, _, t, _, _ = x.shape
    row_labels = _check_labels(row_labels, n, "row_labels")
    idx = frame_indices(t, every, max_frames)
    frames = to_uint8(x)
    if show_diffs:
        rows = _difference_rows(x, vmax)
        kinds = ["x", "v"] * n
        suffix = [f"[{i}]" if n > 1 and not row_labels else "" for i in range(n)]
        names = [s for i in range(n) for s in (row_labels[i] if row_labels else f"x{suffix[i]}", f"v{suffix[i]}")]
    else:
        rows, kinds = frames, ["x"] * n
        names = row_labels or ([f"x[{i}]" for i in range(n)] if n > 1 else ["x"])
    r, k = rows.shape[0], len(idx)
    extra_w = 0.6 if show_diffs else 0.0
    fig = Figure(figsize=(0.5 + k * cell_inches + extra_w, 0.35 + r * cell_inches + (0.3 if title else 0)),
                 layout="constrained")
    axes = fig.subplots(r, k, squeeze=False)
    for i in range(r):
        for j, tt in enumerate(idx):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            blank = kinds[i] == "v" and tt == 0
            if not blank:
                ax.imshow(rows[i, tt], interpolation="nearest")
            else:
                for side in ax.spines.values():
                    side.set_visible(False)
            if i == 0:
                ax.set_title(f"t={tt}", fontsize=8)
            if j == 0:
                ax.set_ylabel(names[i], fontsize=8, rotation=0, ha="right", va="center")
    if show_diffs:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        bar = fig.colorbar(ScalarMappable(Normalize(-vmax, vmax), DIFF_CMAP), ax=axes, shrink=0.8, aspect=30,
                           extend="both" if vmax < 2 else "neither")
        bar.set_label(r"$v_j = x_j - x_{j-1}$", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def loss_plot(history: Mapping[str, Sequence[float]], smooth: int = 0, title: str | None = None,
              log_y: bool = False, ax: "Axes | None" = None, xlabel: str = "iteration",
              ylabel: str = "loss") -> Figure:
    """Plot training curves: one line per entry of ``history`` (name -> one value per iteration).

    Any named series works (e.g. joint angles over frames): set ``xlabel`` and ``ylabel``.

    ``smooth > 1`` draws a trailing moving average over that many points on top of the faint raw
    curve. Non-finite values (a diverging loss) leave a gap and are marked with a red ``x`` on the
    axis. Draws into ``ax`` when given (the training loop's live view reuses its axes), else into a
    new ``Figure``; returns the figure.
    """
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a dict of name -> list of floats, got {type(history).__name__}")
    check_int("smooth", smooth, minimum=0)
    if ax is None:
        fig = Figure(figsize=(6.0, 3.2), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
        ax.clear()
    for i, (name, values) in enumerate(history.items()):
        try:
            y = np.asarray([float(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"history[{name!r}] must be a sequence of numbers: {err}") from None
        if y.size == 0:
            continue
        colour = f"C{i % 10}"
        steps = np.arange(y.size)
        if smooth > 1:
            ax.plot(steps, y, color=colour, alpha=0.3, lw=0.8)
            finite = np.where(np.isfinite(y), y, 0.0)
            counts = np.convolve(np.isfinite(y).astype(float), np.ones(smooth), "full")[: y.size]
            sums = np.convolve(finite, np.ones(smooth), "full")[: y.size]
            with np.errstate(invalid="ignore", divide="ignore"):
                ax.plot(steps, sums / counts, color=colour, lw=1.5, label=str(name))
        else:
            ax.plot(steps, y, color=colour, lw=1.2, label=str(name))
        bad = ~np.isfinite(y)
        if bad.any():
            ax.plot(steps[bad], np.zeros(bad.sum()), "x", color="red", transform=ax.get_xaxis_transform(),
                    clip_on=False)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------
# widgets
# --------------------------------------------------------------------------------------------------

def choice_widget(render, choices: Mapping[str, Sequence], value: Mapping[str, object] | None = None,
                  fps: float = 8, scale: int | None = None, ncols: int | None = None):
    """ipywidgets dropdowns above a GIF of ``render(**selected)``, redrawn whenever a choice changes.

    ``choices`` maps each keyword of ``render`` to its options: plain values, or ``(label, value)``
    pairs (the label is shown, the value passed); ``value`` sets the first selection (default: the
    first option of each). ``render`` returns a video ``(C, T, H, W)`` or a batch, tiled ``ncols`` per
    row (:func:`gif_bytes`; ``scale=None``: about 128 px per video). Returns an ``ipywidgets.VBox``:
    the dropdowns, then the ``ipywidgets.Image`` holding the GIF. Headless runs (papermill) get the
    first GIF drawn; the same ``render(**value)`` call is the path without widgets. (No ``Output``
    widget: capturing display output inside one can stall headless execution, see
    :meth:`vgan_lesson.playground.LatentPlayground.widget`.)
    """
    import ipywidgets as w

    if not isinstance(choices, Mapping) or not choices:
        raise ValueError("choices must map each keyword of render to a non-empty list of options")
    value = dict(value or {})
    unknown = sorted(set(value) - set(choices))
    if unknown:
        raise ValueError(f"value names {unknown}, which are not among the choices {sorted(choices)}")
    controls = {}
    for name, options in choices.items():
        options = list(options)
        if not options:
            raise ValueError(f"choices[{name!r}] is empty")
        values = [o[1] if isinstance(o, tuple) and len(o) == 2 else o for o in options]
        first = value.get(name, values[0])
        if first not in values:
            raise ValueError(f"value[{name!r}] = {first!r} is not one of the options {values}")
        controls[name] = w.Dropdown(options=options, value=first, description=name)
    image = w.Image(format="gif")

    def redraw(*_):
        videos, _ = _as_video_batch(render(**{name: c.value for name, c in controls.items()}))
        size = _auto_scale(videos.shape[3], videos.shape[4]) if scale is None else scale
        image.value = gif_bytes(videos, fps=fps, scale=size, ncols=ncols)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox(list(controls.values())), image])


__all__ = [
    "PAD_VALUE", "DIFF_ANCHORS", "DIFF_NEUTRAL", "DIFF_CMAP", "MAX_ANIMATION_FRAMES",
    "to_uint8", "diff_to_uint8", "frame_indices", "frame_grid", "diff_map_image", "difference_grid",
    "save_png", "video_tiles", "gif_bytes", "save_gif", "show_gif", "animate", "show_video",
    "plot_frames", "loss_plot", "choice_widget",
]


# --------------------------------------------------------------------------------------------------
# notebook display of bare figures
# --------------------------------------------------------------------------------------------------

def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of a matplotlib figure (works without pyplot or any display)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _register_notebook_display() -> None:
    """Teach a running IPython kernel to show a bare :class:`Figure` as a PNG.

    IPython's matplotlib formatter is installed only once ``pyplot`` is imported; this module never
    imports it, so without this hook a returned figure would show as ``<Figure size ...>``.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the package's dependencies
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


_register_notebook_display()
