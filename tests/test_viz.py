"""vgan_lesson.viz: pixel mapping, grid arithmetic, difference-map colours, GIFs, animations, figures."""
import io
import math
import re

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from vgan_lesson import viz


def square_video(c: int = 3, t: int = 6, h: int = 12, w: int = 16) -> torch.Tensor:
    """A bright square moving two pixels right per frame on a dark background, values in [-1, 1]."""
    v = torch.full((c, t, h, w), -0.8)
    colour = torch.tensor([0.9, 0.2, -0.4][:c]).view(c, 1, 1)
    for j in range(t):
        v[:, j, 3:7, 1 + 2 * j:5 + 2 * j] = colour
    return v


# ---------------------------------------------------------------- to_uint8
def test_to_uint8_fixed_mapping():
    v = torch.tensor([-1.0, 0.0, 1.0, -0.5, 0.5]).view(1, 1, 1, 5).expand(3, 2, 1, 5)
    a = viz.to_uint8(v)
    assert a.dtype == np.uint8 and a.shape == (2, 1, 5, 3)
    assert a[0, 0, :, 0].tolist() == [0, 128, 255, 64, 191]
    # no per-batch rescaling: a video that only spans [-0.5, 0.5] stays mid-range
    low = torch.linspace(-0.5, 0.5, 16).view(1, 1, 4, 4)
    b = viz.to_uint8(low)
    assert b.min() == 64 and b.max() == 191


def test_to_uint8_matches_clip_files():
    from vgan_lesson.data.clipfile import to_uint8 as clip_to_uint8

    x = torch.rand(2, 3, 4, 5, 6) * 2 - 1
    ours = viz.to_uint8(x)                                                 # (N, T, H, W, 3)
    theirs = clip_to_uint8(x).permute(0, 2, 3, 4, 1).numpy()
    assert np.array_equal(ours, theirs)


def test_to_uint8_layouts_and_gray():
    x = torch.rand(2, 3, 4, 5, 6) * 2 - 1
    batch = viz.to_uint8(x)
    assert batch.shape == (2, 4, 5, 6, 3)
    assert np.array_equal(viz.to_uint8(x[1]), batch[1])                   # single video = one batch row
    assert batch[1, 2, 3, 4, 0] == round((float(x[1, 0, 2, 3, 4]) + 1) * 127.5)
    gray = viz.to_uint8(x[:, :1])
    assert gray.shape == (2, 4, 5, 6, 3)
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 0], gray[..., 2])
    frames = viz.to_uint8(x[:, :, 0], layout="frames")                     # (N, C, H, W)
    assert frames.shape == (2, 5, 6, 3) and np.array_equal(frames, batch[:, 0])
    assert viz.to_uint8(x[0, :, 0], layout="frames").shape == (5, 6, 3)


@pytest.mark.parametrize("bad, err, words", [
    (torch.zeros(3, 8, 8), ValueError, "shape"),                          # no time axis
    (torch.zeros(1, 1, 3, 4, 8, 8), ValueError, "shape"),                 # 6 dims
    (torch.zeros(3, 4, 8, 8, dtype=torch.uint8), TypeError, "dtype"),
    (torch.zeros(3, 4, 8, 8, dtype=torch.int64), TypeError, "dtype"),
    (torch.full((3, 4, 8, 8), 1.5), ValueError, "[-1.0, 1.0]"),
    (torch.full((3, 4, 8, 8), float("nan")), ValueError, "NaN"),
    (torch.zeros(2, 4, 8, 8), ValueError, "channels"),
    (np.zeros((3, 4, 8, 8), dtype=np.float32), TypeError, "torch.Tensor"),
])
def test_bad_video_input_is_explained(bad, err, words):
    for fn in (viz.to_uint8, viz.frame_grid, viz.gif_bytes):
        with pytest.raises(err, match=re.escape(words)):
            fn(bad)


def test_bad_arguments():
    v = square_video()
    with pytest.raises(ValueError, match="layout"):
        viz.to_uint8(v, layout="movie")
    with pytest.raises(ValueError, match="every"):
        viz.frame_grid(v, every=0)
    with pytest.raises(ValueError, match="row_labels needs 1"):
        viz.frame_grid(v, row_labels=["a", "b"])
    with pytest.raises(ValueError, match="same shape"):
        viz.frame_grid([v, v[:, :3]])
    with pytest.raises(ValueError, match="vmax"):
        viz.diff_to_uint8(torch.zeros(3, 2, 4, 4), vmax=0)
    with pytest.raises(ValueError, match=re.escape("[-2.0, 2.0]")):
        viz.diff_to_uint8(torch.full((3, 2, 4, 4), 3.0))
    with pytest.raises(ValueError, match="fps"):
        viz.gif_bytes(v, fps=0)


# ---------------------------------------------------------------- frame_grid
@pytest.mark.parametrize("n, t, h, w, padding, every, max_frames, scale", [
    (1, 6, 12, 16, 1, 1, None, 1),
    (3, 7, 8, 10, 2, 2, None, 1),
    (2, 16, 8, 8, 0, 3, 4, 2),
    (4, 5, 6, 6, 3, 1, 2, 3),
])
def test_frame_grid_size(n, t, h, w, padding, every, max_frames, scale):
    x = torch.rand(n, 3, t, h, w) * 2 - 1
    k = len(range(0, t, every)[:max_frames])
    img = viz.frame_grid(x, every=every, max_frames=max_frames, padding=padding, scale=scale)
    assert isinstance(img, Image.Image) and img.mode == "RGB"
    assert img.size == (k * w * scale + (k + 1) * padding, n * h * scale + (n + 1) * padding)


def test_frame_grid_pixels_and_padding():
    x = torch.rand(3, 3, 9, 5, 7) * 2 - 1
    pad, every = 2, 2
    grid = np.asarray(viz.frame_grid(x, every=every, padding=pad, pad_value=(10, 20, 30)))
    frames = viz.to_uint8(x)
    for i, j, y, xx in [(0, 0, 0, 0), (2, 3, 4, 6), (1, 2, 2, 3)]:
        t = j * every
        assert tuple(grid[pad + i * (5 + pad) + y, pad + j * (7 + pad) + xx]) == tuple(frames[i, t, y, xx])
    assert tuple(grid[0, 0]) == (10, 20, 30) and tuple(grid[pad + 5, pad]) == (10, 20, 30)
    # a single video is one row; a list of videos is the same as their stack
    assert np.array_equal(np.asarray(viz.frame_grid(x[1], padding=0)), np.concatenate(list(frames[1]), axis=1))
    assert np.array_equal(np.asarray(viz.frame_grid([x[0], x[1]])), np.asarray(viz.frame_grid(x[:2])))


def test_frame_grid_scale_is_nearest_neighbour():
    x = torch.rand(1, 3, 2, 4, 4) * 2 - 1
    grid = np.asarray(viz.frame_grid(x, padding=0, scale=3))
    assert np.array_equal(grid[:12, :12], viz.to_uint8(x)[0, 0].repeat(3, 0).repeat(3, 1))


def test_frame_grid_labels_add_margins():
    x = torch.rand(2, 3, 4, 8, 8) * 2 - 1
    plain = viz.frame_grid(x)
    labelled = viz.frame_grid(x, row_labels=["real", "fake"], col_labels=True)
    assert labelled.width > plain.width and labelled.height > plain.height
    # the picture itself sits unchanged in the bottom-right corner
    dx, dy = labelled.width - plain.width, labelled.height - plain.height
    assert np.array_equal(np.asarray(labelled)[dy:, dx:], np.asarray(plain))


# ---------------------------------------------------------------- difference maps
def test_diff_colours_direction():
    d = torch.tensor([0.0, 1.0, -1.0, 0.5, -0.5, 2.0]).view(1, 1, 1, 6)
    rgb = viz.diff_to_uint8(d, vmax=1.0)[0, 0]                             # (6, 3)
    zero, pos, neg, half_pos, half_neg, over = (tuple(int(c) for c in p) for p in rgb)
    assert zero == viz.DIFF_NEUTRAL
    assert pos[0] > pos[2] and neg[2] > neg[0]                              # warm vs cool
    assert sum(pos) < sum(half_pos) < sum(zero) and sum(neg) < sum(half_neg) < sum(zero)
    assert over == pos                                                      # beyond vmax saturates
    # vmax=2: the same value is paler; RGB differences are averaged over channels
    assert sum(int(c) for c in viz.diff_to_uint8(d, vmax=2.0)[0, 0, 1]) > sum(pos)
    rgb3 = viz.diff_to_uint8(torch.tensor([1.0, 0.0, -1.0]).view(3, 1, 1, 1))
    assert tuple(rgb3[0, 0, 0]) == viz.DIFF_NEUTRAL


def test_difference_grid_layout(moving_square):
    t, h, w, pad = 8, 16, 16, 1
    img = viz.difference_grid(moving_square, padding=pad, row_labels=False)
    assert img.size == (t * w + (t + 1) * pad, 2 * h + 3 * pad)
    a = np.asarray(img)
    frames = viz.to_uint8(moving_square)
    assert np.array_equal(a[pad:pad + h, pad:pad + w], frames[0])          # x_0 on top
    below = a[2 * pad + h:2 * pad + 2 * h]
    assert (below[:, pad:pad + w] == viz.DIFF_NEUTRAL).all()               # nothing under x_0
    # v_1 sits under x_1: the square moved right, so column 6 brightened (warm), column 2 darkened (cool)
    x1 = 2 * pad + w
    warm, cool = below[5, x1 + 6], below[5, x1 + 2]
    assert warm[0] > warm[2] and cool[2] > cool[0]
    assert tuple(below[0, x1]) == viz.DIFF_NEUTRAL
    batch = viz.difference_grid(torch.stack([moving_square] * 3), padding=pad, row_labels=False)
    assert batch.size == (img.width, 6 * h + 7 * pad)


def test_diff_map_image_matches_difference_maps(moving_square):
    from vgan_lesson.data.diffmaps import difference_maps

    d = difference_maps(moving_square)
    img = np.asarray(viz.diff_map_image(d, padding=0))
    assert img.shape == (16, 7 * 16, 3)
    assert np.array_equal(img[:, :16], viz.diff_to_uint8(d)[0])


# ---------------------------------------------------------------- GIFs
def test_gif_round_trip(tmp_path):
    v = square_video()
    data = viz.gif_bytes(v, fps=10, scale=2)
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF" and gif.n_frames == v.shape[1]
        assert gif.size == (2 * 16, 2 * 12)
        assert gif.info.get("loop") == 0 and gif.info.get("duration") == 100
        first = np.asarray(gif.convert("RGB"), dtype=int)
    want = viz.to_uint8(v)[0].repeat(2, 0).repeat(2, 1).astype(int)
    assert np.abs(first - want).max() <= 3
    path = viz.save_gif(v, tmp_path / "sub" / "square.gif", fps=10, scale=2)
    assert path.read_bytes() == data
    assert not [p for p in path.parent.iterdir() if p.name != "square.gif"]  # no temp files left
    assert path.stat().st_mode & 0o044                                      # readable by others, not mkstemp's 0600


def test_gif_tiles_a_batch():
    x = torch.stack([square_video(), square_video().flip(-1), square_video().flip(-2)])
    tiles = viz.video_tiles(x, ncols=2, padding=1, scale=1)
    assert tiles.shape == (6, 2 * 12 + 1, 2 * 16 + 1, 3)
    assert np.array_equal(tiles[:, 13:, 17:], np.full((6, 12, 16, 3), viz.PAD_VALUE, np.uint8))  # empty cell
    with Image.open(io.BytesIO(viz.gif_bytes(x, padding=1))) as gif:
        assert gif.size == (3 * 16 + 2, 12) and gif.n_frames == 6


def test_show_gif_is_an_ipython_image():
    img = viz.show_gif(square_video(c=1))
    assert img.format == "gif" and img.data[:6] in (b"GIF87a", b"GIF89a")
    with Image.open(io.BytesIO(img.data)) as gif:
        assert gif.size == (128, 96)                                        # auto scale: 128 / 16 = 8


# ---------------------------------------------------------------- notebook animations and figures
def _jshtml_frames(html: str) -> int:
    return len(re.findall(r'frames\[\d+\] = "data:image/png;base64,', html))


def test_animate_jshtml():
    x = torch.stack([square_video(), square_video().flip(-1)])
    html = viz.animate(x, fps=5, scale=2, titles=["real", "fake"])
    assert isinstance(html.data, str) and "<script" in html.data
    assert _jshtml_frames(html.data) == 6
    assert len(html.data) < 500_000


def test_animate_subsamples_long_videos():
    v = square_video(t=20)
    with pytest.warns(UserWarning, match="max_frames"):
        html = viz.animate(v, scale=1, max_frames=8)
    assert _jshtml_frames(html.data) == math.ceil(20 / 3)


def test_plot_frames_and_loss_plot(tmp_path):
    x = torch.stack([square_video(), square_video().flip(-1)])
    fig = viz.plot_frames(x, every=2, show_diffs=True, row_labels=["a", "b"], title="two squares")
    assert isinstance(fig, Figure)
    assert len([ax for ax in fig.axes if ax.images]) == 2 * 3 + 2 * 2        # no map under t=0
    assert fig.axes[0].get_title() == "t=0"
    with Image.open(viz.save_png(fig, tmp_path / "frames.png")) as png:
        assert png.format == "PNG"

    history = {"D": [1.4, 1.2, 1.0, float("nan")], "G": [0.7, 0.9, 1.1], "empty": []}
    lfig = viz.loss_plot(history, smooth=2, title="losses")
    ax = lfig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["D", "G"]
    assert ax.get_xlabel() == "iteration"
    with pytest.raises(TypeError, match="history"):
        viz.loss_plot([1.0, 2.0])
    with pytest.raises(TypeError, match="'D'"):
        viz.loss_plot({"D": ["high"]})


def test_save_png_inputs(tmp_path):
    v = square_video()
    with Image.open(viz.save_png(v, tmp_path / "grid.png", padding=0)) as im:
        assert im.size == (6 * 16, 12)
    p = viz.save_png(v[:, 0], tmp_path / "frame.png", scale=2)
    with Image.open(p) as im:
        assert im.size == (32, 24)
        assert np.array_equal(np.asarray(im.convert("RGB"))[::2, ::2], viz.to_uint8(v[:, 0], layout="frames"))
    with pytest.raises(TypeError, match="save_png"):
        viz.save_png("not an image", tmp_path / "x.png")
