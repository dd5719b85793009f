"""Long videos in the memory of one clip: REncGAN3's Markov chain (Sec. 2–4, Eq. 1), streamed to disk.

Why this module exists
----------------------
A short-term generator such as EncGAN3 makes a whole clip of ``T_c = 16`` frames at once; asking it
for 2,000 frames at once would need 125 times the activations and a generator trained on clips that
long. REncGAN3 instead makes a long video as a **chain of half-overlapping clips** (Fig. 1)::

    link 1:  frames 0 ......... 15          from prior noise
    link 2:           8 ......... 23        from the content code of link 1's frame 8 (Eq. 1)
    link 3:                    16 ......... 31
                                ...

Eq. 1 says each clip depends only on the reference frame ``x_r`` (``r = T_c / 2``) of the clip
before it, so generating link ``i + 1`` needs nothing but link ``i``: one clip is alive at a time,
whatever the length (:meth:`vgan_lesson.models.rencgan3.REncGAN3.chain` yields ``stride = 8`` new
frames per link). The paper's claim — "the same amount of GPU memory as EncGAN3" (Sec. 4) — only
holds if the *frames already made* do not pile up in memory either. :func:`generate_long` therefore
hands every link to a **streaming writer** as soon as it is made, and the file grows while memory
stays flat (``benchmarks/long_video.py`` measures it).

Writers (:func:`open_writer`, chosen by the file suffix; all share ``write(chunk)`` / ``close()`` and
work as context managers):

* ``.npy`` — the exact frames as uint8 ``(n, T, H, W, C)``: the file is created once at its full
  length with :func:`numpy.lib.format.open_memmap`, then each chunk is written into its place with
  plain file writes (a writable memmap would keep every touched page in the process's resident
  memory). :func:`read_long_video` reads back any slice of frames without loading the rest.
* ``.mp4`` — H.264 (libx264, yuv420p) through PyAV: the ``n`` videos tiled side by side (8 per row),
  padded to even width and height as yuv420p requires. Lossy: for looking, not measuring.
* ``.gif`` — through PyAV's GIF encoder, one 256-colour palette per frame (exact when a frame has at
  most 256 colours, Pillow's median cut otherwise). Pillow's own GIF writer cannot stream: it needs
  every frame at once (it compares neighbouring frames before saving), which is what this module
  avoids; :func:`vgan_lesson.viz.save_gif` is the right tool for short clips.

Every file is written under a temporary name beside its target and renamed into place on
``close()`` (as :mod:`vgan_lesson.io` does), so a crash leaves the old file or none — never a
half-written one. A **stop** (``KeyboardInterrupt``: the notebook's stop button) is different: the
frames made so far are worth keeping, so :func:`generate_long` closes the file into a valid, shorter
video (``.npy``: the written frames are copied into a new file of the written length, because the
header of an ``.npy`` fixes the length and the ``n`` videos lie one after the other).

Measurements
------------
* :func:`quality_over_length` — the paper's Fig. 3: video FID of successive non-overlapping
  16-frame clips cut from the long videos. A chain that drifts (blurs, freezes, loses the figure)
  shows a rising curve.
* :func:`long_video_seams` — are the joins between links visible? (:func:`concatenate_independent`
  builds the naive alternative, independent clips glued end to end, for comparison.)
* :func:`repetition` — does the motion loop or freeze? The paper stresses REncGAN3's movement is
  "non-repetitive" (abstract, Sec. 4, against TATS's repeated movements).
* :func:`look_change`, :func:`chain_drift`, :func:`look_kept` — does a long video keep its dancer: its
  mean colour, its codes link by link, and each ground-truth factor read back by the frame evaluator.
* :func:`peak_memory` — peak resident (and CUDA) memory of a call, for the constant-memory claim.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .checks import check_frames, check_int, check_tensor, check_video
from .data.clipfile import from_uint8, to_uint8
from .data.dancer import autocorrelation, closest_repeat
from .metrics import extract, frechet_distance, r2_score, seam_score
from .training import evaluating
from .viz import PAD_VALUE, video_tiles

Tensor = torch.Tensor

#: File suffixes :func:`open_writer` knows, with the writer class each one gets.
SUFFIXES: tuple[str, ...] = (".npy", ".mp4", ".gif")


# ================================================================================================
# streaming writers
# ================================================================================================

def _temp_beside(path: Path) -> Path:
    """An empty temporary file in ``path``'s folder (hidden name), for writing then renaming."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _publish(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the usual permissions (``0o666`` less the umask, not mkstemp's ``0o600``) and
    rename it to ``path`` in one atomic step."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def _check_fps(fps: Any) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 100 or not math.isfinite(fps):
        raise ValueError(f"fps must be a number in (0, 100], got {fps!r}")
    return float(fps)


class VideoWriter:
    """Base of the streaming writers: ``write(chunk)`` any number of times, then ``close()``.

    ``chunk`` is ``(n, C, t, H, W)`` float in [-1, 1] (any device): the next ``t`` frames of each of
    ``n`` videos; ``n``, ``C``, ``H`` and ``W`` must stay the same from chunk to chunk. ``frames``
    is the promised total length (required by ``.npy``, which reserves it up front; a cap for the
    others). The file appears under ``path`` only on :meth:`close`; :meth:`abort` throws it away.

    As a context manager the writer closes on a normal exit **and on KeyboardInterrupt** (the frames
    written so far become a valid, shorter file) and aborts on any other exception.
    """

    suffix: ClassVar[str] = ""

    def __init__(self, path: str | os.PathLike | None, frames: int | None = None, fps: float = 8,
                 scale: int = 1) -> None:
        if frames is not None:
            check_int("frames", frames, minimum=1)
        self.path = None if path is None else Path(path)
        self.frames = frames
        self.fps = _check_fps(fps)
        self.scale = check_int("scale", scale, minimum=1)
        self.frames_written = 0
        self.shape: tuple[int, int, int, int] | None = None       # (n, C, H, W) fixed by the first chunk
        self.closed = False
        self._tmp: Path | None = None

    # ------------------------------------------------------------------ the interface
    def write(self, chunk: Tensor) -> None:
        """Append ``chunk`` ``(n, C, t, H, W)`` in [-1, 1]: frames ``frames_written .. + t`` of every video."""
        if self.closed:
            raise ValueError(f"this {type(self).__name__} is closed; open a new one to write more")
        chunk = check_video(chunk, "chunk", batched=True).detach()
        n, c, t, h, w = chunk.shape
        if self.shape is None:
            self.shape = (n, c, h, w)
            self._start(n, c, h, w)
        elif (n, c, h, w) != self.shape:
            expected = "(%d, %d, t, %d, %d)" % self.shape
            raise ValueError(f"every chunk must have the shape of the first, {expected}; got {tuple(chunk.shape)}")
        if self.frames is not None and self.frames_written + t > self.frames:
            raise ValueError(f"this writer was opened for {self.frames} frames; {self.frames_written} are written "
                             f"and a chunk of {t} more came")
        if t:
            self._write(chunk)

    def close(self) -> Path | None:
        """Finish the file and rename it into place; returns its path (``None`` when no frame was
        written: then no file is made). Closing twice is harmless."""
        if self.closed:
            return self.path if self.frames_written else None
        self.closed = True
        if self.frames_written == 0:
            self._discard()
            return None
        try:
            self._finish()
            _publish(self._tmp, self.path)
        except BaseException:
            self._discard()
            raise
        return self.path

    def abort(self) -> None:
        """Throw away everything written (an old file at ``path`` is left as it was)."""
        self.closed = True
        self._discard()

    @property
    def complete(self) -> bool:
        """True when the promised ``frames`` are all written (always False without a promise)."""
        return self.frames is not None and self.frames_written == self.frames

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None or issubclass(exc_type, KeyboardInterrupt):
            self.close()
        else:
            self.abort()
        return False

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(path={str(self.path)!r}, frames_written={self.frames_written}, "
                f"frames={self.frames}, closed={self.closed})")

    # ------------------------------------------------------------------ what subclasses fill in
    def _start(self, n: int, c: int, h: int, w: int) -> None:
        raise NotImplementedError

    def _write(self, chunk: Tensor) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        """Close open handles without finishing (before deleting the temporary file)."""

    def _discard(self) -> None:
        try:
            self._release()
        finally:
            if self._tmp is not None and self._tmp.exists():
                self._tmp.unlink()


class NpyWriter(VideoWriter):
    """Exact uint8 frames ``(n, T, H, W, C)`` in a ``.npy`` file, written chunk by chunk.

    Pixel ``p`` stands for ``p / 127.5 - 1`` (the clip files' quantisation,
    :func:`vgan_lesson.data.clipfile.to_uint8`). ``frames`` (the total ``T``) is required: the file
    is created at its full size (sparse on Linux) with :func:`numpy.lib.format.open_memmap`, whose
    header fixes the shape. Closing after fewer frames copies the written ones into a new file of
    the written length (bounded memory: at most :attr:`COPY_BYTES` at a time) — video ``i``'s frames
    lie at ``i · T`` in the first file and at ``i · t`` in the second, so the file cannot simply be
    cut short.
    """

    suffix = ".npy"
    COPY_BYTES: ClassVar[int] = 64 * 2**20

    def __init__(self, path: str | os.PathLike, frames: int | None = None, fps: float = 8, scale: int = 1) -> None:
        if frames is None:
            raise ValueError("a .npy writer needs the total number of frames up front (frames=T): its header "
                             "fixes the array's shape")
        super().__init__(path, frames, fps, scale)
        self._fh = None
        self._offset = 0

    def _create(self, path: Path, length: int) -> int:
        """Create ``path`` as an ``(n, length, H, W, C)`` uint8 .npy; return the data offset."""
        n, c, h, w = self.shape
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, length, h, w, c))
        offset = int(array.offset)
        del array                                   # unmapped untouched: nothing became resident
        return offset

    def _start(self, n: int, c: int, h: int, w: int) -> None:
        self._tmp = _temp_beside(self.path)
        self._offset = self._create(self._tmp, self.frames)
        self._fh = open(self._tmp, "r+b")

    def _write(self, chunk: Tensor) -> None:
        n, c, h, w = self.shape
        t = chunk.shape[2]
        frame_bytes = h * w * c
        pixels = to_uint8(chunk).permute(0, 2, 3, 4, 1).cpu().numpy()          # (n, t, H, W, C)
        for i in range(n):
            self._fh.seek(self._offset + (i * self.frames + self.frames_written) * frame_bytes)
            self._fh.write(np.ascontiguousarray(pixels[i]).data)
        self.frames_written += t

    def _finish(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        if self.frames_written < self.frames:            # a stopped run: a new file of the written length
            self._fh.close()
            self._fh = None
            short = _temp_beside(self.path)
            try:
                self._copy_prefix(self._tmp, short)
            except BaseException:
                short.unlink(missing_ok=True)
                raise
            self._tmp.unlink()
            self._tmp = short
            return
        self._fh.close()
        self._fh = None

    def _copy_prefix(self, source: Path, target: Path) -> None:
        n, c, h, w = self.shape
        t, frame_bytes = self.frames_written, h * w * c
        offset = self._create(target, t)
        step = max(1, self.COPY_BYTES // frame_bytes)
        with open(source, "rb") as src, open(target, "r+b") as dst:
            for i in range(n):
                for t0 in range(0, t, step):
                    size = min(step, t - t0) * frame_bytes
                    src.seek(self._offset + (i * self.frames + t0) * frame_bytes)
                    dst.seek(offset + (i * t + t0) * frame_bytes)
                    dst.write(src.read(size))
            dst.flush()
            os.fsync(dst.fileno())

    def _release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class _PyAVWriter(VideoWriter):
    """Shared part of the ``.mp4`` and ``.gif`` writers: tile the ``n`` videos, encode frame by frame."""

    codec: ClassVar[str] = ""
    container_format: ClassVar[str] = ""
    even: ClassVar[bool] = False                   # yuv420p needs even width and height

    def __init__(self, path: str | os.PathLike, frames: int | None = None, fps: float = 8, scale: int = 1) -> None:
        super().__init__(path, frames, fps, scale)
        self._container = None
        self._stream = None

    def _start(self, n: int, c: int, h: int, w: int) -> None:
        import av

        self._tmp = _temp_beside(self.path)
        probe = video_tiles(torch.zeros(n, c, 1, h, w), scale=self.scale)[0]
        height, width = probe.shape[:2]
        if self.even:
            height, width = height + height % 2, width + width % 2
        self._size = (height, width)
        self._container = av.open(str(self._tmp), mode="w", format=self.container_format)
        self._stream = self._container.add_stream(self.codec, rate=Fraction(self.fps).limit_denominator(1001),
                                                  options=self._options())
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = self._pix_fmt()

    def _write(self, chunk: Tensor) -> None:
        tiles = video_tiles(chunk, scale=self.scale)                      # (t, H', W', 3) uint8
        height, width = self._size
        if tiles.shape[1:3] != (height, width):                           # odd size: pad right / bottom
            tiles = np.pad(tiles, ((0, 0), (0, height - tiles.shape[1]), (0, width - tiles.shape[2]), (0, 0)),
                           constant_values=PAD_VALUE)
        for rgb in tiles:
            for packet in self._stream.encode(self._frame(rgb)):
                self._container.mux(packet)
            self.frames_written += 1

    def _finish(self) -> None:
        for packet in self._stream.encode(None):                          # flush the encoder's delay
            self._container.mux(packet)
        self._container.close()
        self._container = None

    def _release(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:       # an unfinished stream may not close cleanly; the file is deleted anyway
                pass
            self._container = None

    def _options(self) -> dict[str, str]:
        return {}

    def _pix_fmt(self) -> str:
        raise NotImplementedError

    def _frame(self, rgb: np.ndarray):
        raise NotImplementedError


class Mp4Writer(_PyAVWriter):
    """H.264 ``.mp4`` (libx264, yuv420p, CRF 18) of the ``n`` videos tiled side by side, 8 per row
    (:func:`vgan_lesson.viz.video_tiles`), upscaled ``scale`` times; odd sizes padded to even ones."""

    suffix = ".mp4"
    codec = "libx264"
    container_format = "mp4"
    even = True

    def _options(self) -> dict[str, str]:
        return {"crf": "18"}

    def _pix_fmt(self) -> str:
        return "yuv420p"

    def _frame(self, rgb: np.ndarray):
        import av

        return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")


class GifWriter(_PyAVWriter):
    """Animated ``.gif`` streamed through PyAV's GIF encoder, one palette per frame.

    A frame with at most 256 colours (procedural data, most small videos) keeps them exactly; above
    that Pillow's median cut picks 256 (no dithering). Frame delays are stored in 1/100 s, so the
    frame rate is rounded (8 fps plays at about 7.7). Loops forever.
    """

    suffix = ".gif"
    codec = "gif"
    container_format = "gif"

    def _options(self) -> dict[str, str]:
        # FFmpeg's default gifflags (+offsetting+transdiff) store only the pixels whose palette *index*
        # changed since the last frame; with a new palette per frame an unchanged index can mean a new
        # colour, so every frame is stored whole.
        return {"gifflags": "0"}

    def _pix_fmt(self) -> str:
        return "pal8"

    def _frame(self, rgb: np.ndarray):
        import av
        from PIL import Image

        packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
        colors, index = np.unique(packed, return_inverse=True)
        if len(colors) <= 256:
            rgb_palette = np.stack([(colors >> 16) & 255, (colors >> 8) & 255, colors & 255], 1)
            index = index.reshape(rgb.shape[:2]).astype(np.uint8)
        else:
            quantised = Image.fromarray(rgb).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            rgb_palette = np.asarray(quantised.getpalette(), dtype=np.int64).reshape(-1, 3)[:256]
            index = np.asarray(quantised, dtype=np.uint8)
        palette = np.zeros((256, 4), dtype=np.uint8)                       # ARGB, as PyAV expects
        palette[:, 0] = 255
        palette[:len(rgb_palette), 1:] = rgb_palette
        return av.VideoFrame.from_ndarray((np.ascontiguousarray(index), palette), format="pal8")


class _MemoryWriter(VideoWriter):
    """Keeps the chunks in memory (``path=None`` in :func:`generate_long`): for short videos only."""

    def __init__(self, frames: int | None = None) -> None:
        super().__init__(None, frames)
        self._chunks: list[Tensor] = []

    def _start(self, n: int, c: int, h: int, w: int) -> None:
        pass

    def _write(self, chunk: Tensor) -> None:
        self._chunks.append(chunk.float().cpu())
        self.frames_written += chunk.shape[2]

    def close(self) -> None:
        self.closed = True
        return None

    @property
    def video(self) -> Tensor | None:
        return torch.cat(self._chunks, dim=2) if self._chunks else None


WRITERS: dict[str, type[VideoWriter]] = {".npy": NpyWriter, ".mp4": Mp4Writer, ".gif": GifWriter}


def _suffix(path: str | os.PathLike) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike (or None), got {type(path).__name__}")
    suffix = Path(path).suffix.lower()
    if suffix not in WRITERS:
        raise ValueError(f"unknown video file suffix {suffix or '(none)'!r} in {str(path)!r}; "
                         f"expected one of {', '.join(SUFFIXES)}")
    return suffix


def open_writer(path: str | os.PathLike, frames: int | None = None, fps: float = 8, scale: int = 1) -> VideoWriter:
    """The streaming writer for ``path``'s suffix: ``.npy`` (exact; needs ``frames``), ``.mp4`` or
    ``.gif`` (tiled, ``scale`` times upscaled, ``fps`` frames per second). Nothing is created on
    disk before the first :meth:`~VideoWriter.write`.

    >>> with open_writer("clip.gif") as w:              # doctest: +SKIP
    ...     for link in model.chain(1, 10, torch.Generator().manual_seed(0)):
    ...         w.write(link)
    """
    return WRITERS[_suffix(path)](path, frames=frames, fps=fps, scale=scale)


# ================================================================================================
# generation
# ================================================================================================

@dataclass
class LongVideoResult:
    """What :func:`generate_long` made.

    ``frames_written`` frames of each of ``n`` videos (``frames`` were asked for; fewer when
    ``interrupted``); ``seconds`` of wall time; ``frames_per_second`` = ``frames_written / seconds``
    per video (the ``n`` videos are made together, so the images per second are ``n`` times that).
    ``path`` is the file (``None`` when kept in memory, or when the run was stopped before the first
    frame); ``video`` the frames ``(n, C, frames_written, H, W)`` when ``path`` was ``None``.
    """

    path: Path | None
    frames_written: int
    interrupted: bool
    seconds: float
    frames_per_second: float
    frames: int = 0
    n: int = 1
    video: Tensor | None = field(default=None, repr=False)


def _check_model(model: Any) -> int:
    """A model that can run the chain of Eq. 1; returns its stride (new frames per link)."""
    chain = getattr(model, "chain", None)
    stride = getattr(getattr(model, "config", None), "stride", None)
    if not callable(chain) or isinstance(stride, bool) or not isinstance(stride, int):
        raise TypeError(f"model must be a REncGAN3 (a model with .chain(n, clips, generator) and config.stride), "
                        f"got {type(model).__name__}")
    return stride


@torch.no_grad()
def generate_long(model, frames: int, path: str | os.PathLike | None = None, n: int = 1, seed: int = 0,
                  fps: float = 8, progress: bool = True, start: Tensor | None = None,
                  sample: bool = False) -> LongVideoResult:
    """Generate ``n`` long videos of ``frames`` frames with REncGAN3's Markov chain (Eq. 1), streaming.

    The links of :meth:`REncGAN3.chain` (``stride`` new frames each) are drawn with a CPU
    ``torch.Generator().manual_seed(seed)`` and written one by one to ``path`` (``.npy``, ``.mp4`` or
    ``.gif``, see :func:`open_writer`); the last link is trimmed so exactly ``frames`` frames are
    written. Memory stays that of one clip whatever ``frames`` is. ``path=None`` keeps the frames in
    memory instead (``result.video``; short videos only). ``start`` ``(n, C, H, W)``: begin the chain
    from the content of these frames instead of prior noise. ``sample=True``: each link recalls a draw
    from the posterior of the previous reference frame instead of its mean (:meth:`REncGAN3.links`).

    The model runs in eval mode (restored afterwards): in train mode spectral normalisation would
    take a power-iteration step on every forward pass, so the same seed would not give the same
    frames twice. Same model, seed and ``n`` → the same frames, whatever the file type.

    Pressing stop (``KeyboardInterrupt``) ends the run early but keeps what was made: the file is
    closed into a valid, shorter video and the result says ``interrupted=True``. Any other error
    deletes the unfinished file. A ``tqdm`` bar counts frames when ``progress`` is True.
    """
    stride = _check_chain_call(model, sample, seed)
    check_int("frames", frames, minimum=1)
    check_int("n", n, minimum=1)
    fps = _check_fps(fps)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    if start is not None:
        start = check_frames(start, "start")
        config = model.config
        wanted = (n, getattr(config, "channels", start.shape[-3]), getattr(config, "size", start.shape[-2]),
                  getattr(config, "size", start.shape[-1]))
        if tuple(start.shape) != wanted:
            raise ValueError(f"start must be one frame per video, (n={n}, C, H, W) = {wanted}; "
                             f"got shape {tuple(start.shape)}")
    writer = _MemoryWriter(frames) if path is None else open_writer(path, frames=frames, fps=fps)

    chain = None
    interrupted = False
    t0 = time.perf_counter()
    with evaluating(model):          # restored afterwards, also on errors
        try:
            chain = model.chain(n, -(-frames // stride), torch.Generator().manual_seed(seed), start, sample)
            with tqdm(total=frames, unit="frame", desc="long video", disable=not progress) as bar:
                try:
                    for link in chain:
                        link = link[:, :, :frames - writer.frames_written]            # trim the last link
                        writer.write(link)
                        bar.update(link.shape[2])
                        if writer.frames_written >= frames:
                            break
                except KeyboardInterrupt:
                    interrupted = True
            written = writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            if chain is not None and hasattr(chain, "close"):
                chain.close()
    seconds = time.perf_counter() - t0
    return LongVideoResult(path=written, frames_written=writer.frames_written, interrupted=interrupted,
                           seconds=seconds, frames_per_second=writer.frames_written / max(seconds, 1e-9),
                           frames=frames, n=n, video=writer.video if path is None else None)


def _load_npy(path: str | os.PathLike) -> np.ndarray:
    """The memory-mapped uint8 ``(n, T, H, W, C)`` array of a long-video ``.npy`` (nothing read yet)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike to a .npy file, got {type(path).__name__}")
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise ValueError(f"read_long_video reads the .npy files of generate_long, got {str(path)!r}")
    if not path.is_file():
        raise FileNotFoundError(f"long video not found: {path}")
    try:
        array = np.load(path, mmap_mode="r")
    except Exception as err:
        raise ValueError(f"{path} is not a readable .npy file: {err}") from err
    if array.dtype != np.uint8 or array.ndim != 5 or array.shape[-1] not in (1, 3):
        raise ValueError(f"{path} must hold uint8 frames (n, T, H, W, C) with C in (1, 3), "
                         f"got {array.dtype} of shape {array.shape}")
    return array


def long_video_shape(path: str | os.PathLike) -> tuple[int, int, int, int, int]:
    """``(n, C, T, H, W)`` of a long-video ``.npy`` without reading its frames."""
    n, t, h, w, c = _load_npy(path).shape
    return n, c, t, h, w


def read_long_video(path: str | os.PathLike, start: int = 0, stop: int | None = None,
                    videos: int | slice | Sequence[int] | None = None) -> Tensor:
    """Frames ``start .. stop - 1`` of the videos in a ``.npy`` from :func:`generate_long`, as
    ``(n, C, t, H, W)`` float in [-1, 1]. ``videos`` picks which: all (``None``), the first ``k``
    (an int), a ``slice``, or a list of indices (in that order). The file is memory-mapped: only the
    chosen videos' slice is read."""
    array = _load_npy(path)
    count, length = array.shape[:2]
    check_int("start", start, minimum=0, maximum=length - 1)
    stop = length if stop is None else check_int("stop", stop, minimum=start + 1, maximum=length)
    if videos is None:
        rows: slice | list[int] = slice(None)
    elif isinstance(videos, slice):
        rows = slice(*videos.indices(count))
        if not range(count)[rows]:
            raise ValueError(f"videos={videos} selects none of the file's {count} videos")
    elif isinstance(videos, int) and not isinstance(videos, bool):
        rows = slice(0, check_int("videos", videos, minimum=1, maximum=count))
    elif isinstance(videos, Sequence) and not isinstance(videos, str) and len(videos) > 0:
        rows = [check_int("videos entry", i, minimum=0, maximum=count - 1) for i in videos]
    else:
        raise TypeError(f"videos must be None, a count, a slice or a non-empty list of indices into the file's "
                        f"{count} videos, got {videos!r}")
    pixels = torch.from_numpy(np.array(array[rows, start:stop]))                # copies the slice only
    del array
    return from_uint8(pixels.permute(0, 4, 1, 2, 3).contiguous())


# ================================================================================================
# measurements
# ================================================================================================

def _feature_fn(evaluator: Any) -> Callable[[Tensor], Tensor]:
    fn = getattr(evaluator, "features", evaluator)
    if not callable(fn):
        raise TypeError(f"video_evaluator must be an evaluator with .features(clips) or a callable clips -> (N, D), "
                        f"got {type(evaluator).__name__}")
    return fn


def quality_over_length(source: Tensor | str | os.PathLike, real_clips: Tensor, video_evaluator,
                        clip_len: int = 16) -> dict[str, Any]:
    """Video FID along the length of long videos: REncGAN3 Fig. 3 ("quality degradation").

    ``source`` is ``n`` long videos: a tensor ``(n, C, T, H, W)`` or the path of a ``.npy`` from
    :func:`generate_long` (read one slice at a time, so any length fits). They are cut into
    successive **non-overlapping** clips of ``clip_len`` frames (a remainder shorter than a clip is
    left out); for each position ``k`` the Fréchet distance is computed between the video-evaluator
    features of the ``n`` clips starting at frame ``k · clip_len`` and those of ``real_clips``
    ``(M, C, clip_len, H, W)`` (the paper's "video FID"; FVD with I3D features). A flat curve means
    the chain keeps its quality; a rising one, that it drifts.

    ``video_evaluator``: an evaluator with ``.features(clips)`` (e.g.
    ``load_pretrained_evaluator("dancer", "video")``) or any callable ``clips -> (N, D)``.
    A Fréchet distance needs a covariance, so ``n >= 2``; a meaningful one needs ``n`` (and ``M``) in
    the dozens, well above the feature dimension — with fewer the values are biased upwards and
    noisy (one warning says so). The paper averages three videos per curve only for display.

    Returns ``{"positions": [start frame of each clip], "fvd": [distance per position],
    "clip_len": clip_len, "videos": n}``.
    """
    check_int("clip_len", clip_len, minimum=1)
    features = _feature_fn(video_evaluator)
    real = check_video(real_clips, "real_clips", batched=True)
    if real.shape[2] != clip_len or real.shape[0] < 2:
        raise ValueError(f"real_clips must be at least 2 clips of clip_len={clip_len} frames (M, C, {clip_len}, H, W), "
                         f"got shape {tuple(real.shape)}")
    if isinstance(source, torch.Tensor):
        video = check_video(source, "source", batched=True)
        n, t = video.shape[0], video.shape[2]

        def clips(k: int) -> Tensor:
            return video[:, :, k * clip_len:(k + 1) * clip_len]
    else:
        path = source
        n, _, t, _, _ = long_video_shape(path)

        def clips(k: int) -> Tensor:
            return read_long_video(path, k * clip_len, (k + 1) * clip_len)
    if n < 2:
        raise ValueError(f"quality_over_length needs at least 2 long videos for a covariance (dozens for a "
                         f"meaningful distance), got n={n}")
    if t < clip_len:
        raise ValueError(f"the long videos have {t} frames, fewer than one clip of clip_len={clip_len}")
    real_features = extract(features, real)
    dim = real_features.shape[1]
    if min(n, len(real)) <= dim:
        warnings.warn(f"only {n} long videos and {len(real)} real clips for {dim}-d features: every covariance is "
                      "singular and the distances are biased upwards; use dozens of videos (more than the "
                      "feature dimension) for numbers worth comparing", stacklevel=2)
    positions, fvd = [], []
    for k in range(t // clip_len):
        fake_features = extract(features, clips(k))
        with warnings.catch_warnings():                # said once above, not once per position
            warnings.simplefilter("ignore")
            fvd.append(frechet_distance(fake_features, real_features))
        positions.append(k * clip_len)
    return {"positions": positions, "fvd": fvd, "clip_len": clip_len, "videos": n}


def long_video_seams(videos: Tensor, stride: int, features: Tensor | None = None) -> dict[str, float]:
    """Are the joins between chain links visible? :func:`vgan_lesson.metrics.seam_score` with a
    boundary at every multiple of ``stride`` — frame ``k · stride`` is where link ``k + 1`` of
    Eq. 1 starts (``model.config.stride``, 8 for clips of 16).

    ``videos`` ``(N, C, T, H, W)``; ``features`` optional per-frame features ``(N, T, D)`` (e.g. the
    frame evaluator's), measured instead of pixels. Returns ``seam`` (mean change across a join),
    ``within`` (mean change elsewhere), ``ratio = seam / within`` — about 1 when the joins cannot be
    seen, well above 1 for clips glued end to end (:func:`concatenate_independent`) — and ``seams``,
    ``stride``.
    """
    videos = check_video(videos, "videos", batched=True)
    check_int("stride", stride, minimum=2)
    t = videos.shape[2]
    if t <= stride:
        raise ValueError(f"videos of {t} frames have no join for stride={stride}; need more than {stride} frames")
    return {**seam_score(videos, range(stride, t, stride), features), "stride": stride}


def _look_from_colours(colours: Tensor) -> dict[str, Any]:
    """The look-change figures from mean colours ``(n, K, C)``: ``n`` videos, ``K`` stretches of each."""
    colours = colours.double()
    n = colours.shape[0]
    drift = (colours - colours[:, :1]).norm(dim=2).mean(0)                 # (K,): stretch k against stretch 1
    first = colours[:, 0]
    between = float(torch.cdist(first, first).sum()) / (n * (n - 1))        # pairs of different videos
    if between <= 0:
        raise ValueError("every video starts with the same mean colour: there is no distance between videos "
                         "to compare the change along a video with")
    return {"drift": [float(d) for d in drift], "between": between, "ratio": float(drift[-1]) / between}


def look_change(videos: Tensor, window: int) -> dict[str, Any]:
    """Does a long video keep its look? The mean colour of each stretch of ``window`` frames of
    ``videos`` ``(N, C, T, H, W)``, compared with the video's own first stretch.

    A real dancer keeps their shirt, trousers and background for the whole video: along a real long
    video the mean colour hardly moves, while two different videos differ by a lot. Returns
    ``drift`` (per stretch: the mean distance of its colour from the first stretch's colour, over the
    videos), ``between`` (the mean distance between the first stretches of two *different* videos)
    and ``ratio = drift[-1] / between``: near 0 for a video that keeps its look, about 1 for
    independent clips glued together (:func:`concatenate_independent`: every stretch is a new look),
    and above 1 when the videos travel further from where they began than two videos are apart (for
    example when they all end on one look that is unlike their starts). ``window`` =
    ``model.config.stride`` makes each stretch one link of Eq. 1. Needs at least two videos and two
    stretches; colours are averaged over all pixels, so pose and motion hardly count and clothing and
    background do.
    """
    videos = check_video(videos, "videos", batched=True)
    check_int("window", window, minimum=1)
    n, c, t = videos.shape[:3]
    if n < 2:
        raise ValueError(f"look_change compares videos with each other: need at least 2 videos, got {n}")
    k = t // window
    if k < 2:
        raise ValueError(f"videos of {t} frames hold fewer than two stretches of window={window} frames")
    stretches = videos[:, :, :k * window].reshape(n, c, k, window, *videos.shape[3:])
    return {**_look_from_colours(stretches.float().mean(dim=(3, 4, 5)).transpose(1, 2)), "window": window}


def _check_chain_call(model: Any, sample: Any, seed: Any) -> int:
    """What every run of the chain checks first: a model that runs Eq. 1, ``sample`` a bool and ``seed``
    an int >= 0. Returns the model's stride."""
    stride = _check_model(model)
    if not isinstance(sample, bool):
        raise TypeError(f"sample must be True or False, got {sample!r}")
    check_int("seed", seed, minimum=0)
    return stride


@torch.no_grad()
def chain_drift(model, links: int = 16, n: int = 32, seed: int = 0, sample: bool = False) -> dict[str, Any]:
    """Does the chain of Eq. 1 stay where it started, or drift? ``n`` chains of ``links`` links
    (:meth:`REncGAN3.links`, eval mode, ``torch.Generator().manual_seed(seed)``; ``sample``: recall
    posterior draws instead of means), measured per link:

    * ``code_norm``: the mean length of the content code the link was made from. Link 1's is prior
      noise, about ``prior_norm = sqrt(content_dim)``; later ones are posterior means (or draws) of
      generated reference frames. A chain that keeps growing is leaving the region G was trained on.
    * ``brightness``: the mean pixel value of the link's clips, in [-1, 1].
    * ``spread``: how different the ``n`` videos are, the std across videos of the link's first frame,
      averaged over pixels. It falls towards 0 when every video converges to the same look.
    * ``motion``: the mean absolute change between consecutive frames.
    * ``look``: how far each link's mean colour has moved from link 1's, averaged over the chains
      (:func:`look_change`'s ``drift``, with each link's whole clip as one stretch).

    Also ``growth``: the last link's code norm over the first's (about 1 for a chain that stays put),
    and ``look_ratio``: the last link's ``look`` over the mean colour distance between two chains' first
    links (near 0: every video keeps its look; about 1: no better than independent clips; above 1:
    the chains travel further than two chains are apart, e.g. all to the same few looks).
    """
    _check_chain_call(model, sample, seed)
    check_int("links", links, minimum=2)
    check_int("n", n, minimum=2)
    out: dict[str, Any] = {"code_norm": [], "brightness": [], "spread": [], "motion": []}
    colours = []
    with evaluating(model):
        for z_x, clip in model.links(n, links, torch.Generator().manual_seed(seed), sample=sample):
            colours.append(clip.float().mean(dim=(2, 3, 4)))                 # (n, C): each video's mean colour
            out["code_norm"].append(float(z_x.float().norm(dim=1).mean()))
            out["brightness"].append(float(clip.mean()))
            out["spread"].append(float(clip[:, :, 0].flatten(1).std(0).mean()))
            out["motion"].append(float((clip[:, :, 1:] - clip[:, :, :-1]).abs().mean()))
    out["prior_norm"] = float(model.config.content_dim) ** 0.5
    out["growth"] = out["code_norm"][-1] / out["code_norm"][0]
    look = _look_from_colours(torch.stack(colours, 1))
    out["look"], out["look_ratio"] = look["drift"], look["ratio"]
    return out


@torch.no_grad()
def look_kept(model, videos: Tensor, factors: dict[str, Tensor], frame_evaluator, links: int = 8, seed: int = 0,
              sample: bool = False, batch_size: int = 64) -> dict[str, Any]:
    """Which part of the look does the chain keep, and which goes first? Factor by factor, against the
    ground truth.

    ``n`` chains (:meth:`REncGAN3.links`) start from the first frames of the real ``videos``
    ``(n, C, T, H, W)``: link 1 is made from the posterior mean of the real frame (one round trip,
    encoder then generator), link ``i + 1`` from link ``i``'s generated reference frame (Eq. 1). The
    frame evaluator's regression heads (``dancer``: the shirt, trouser and wall colours, the height and
    build) read each factor from every clip, averaged over its frames, and the read values are scored
    with :func:`vgan_lesson.metrics.r2_score` against the true ``factors[name]`` of the video the chain
    started from. ``real`` is the same score on the real ``videos`` (the ceiling: how well the
    evaluator reads real frames); a link near it still shows the dancer it began with; near 0 or
    below, it shows some dancer, but no longer this one. Where link 1 already falls short, the round
    trip itself loses that factor; where the fall comes later, the chain forgets it link by link.

    Returns ``targets`` (the factor names), ``real`` ``{name: R²}`` and ``links`` ``{name: [R² of link
    1, 2, ...]}``. Eval mode for both networks, ``torch.Generator().manual_seed(seed)`` for the motion
    noise (``sample``: recall posterior draws instead of means, as :func:`chain_drift`).
    """
    _check_chain_call(model, sample, seed)
    check_int("links", links, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    videos = check_video(videos, "videos", batched=True)
    n = videos.shape[0]
    if n < 2:
        raise ValueError(f"look_kept scores a factor across videos: need at least 2 videos, got {n}")
    specs = getattr(getattr(frame_evaluator, "config", None), "targets", None)
    if not isinstance(specs, dict) or getattr(frame_evaluator.config, "kind", None) != "frame":
        raise TypeError(f"frame_evaluator must be a frame Evaluator (vgan_lesson.evaluators), got "
                        f"{type(frame_evaluator).__name__}")
    targets = [name for name, spec in specs.items() if isinstance(spec, list)]      # the regression heads
    if not targets:
        raise ValueError(f"look_kept needs a frame evaluator that regresses factors (the dancer one: shirt, "
                         f"trousers, wall, ...); this one only classifies {sorted(specs)}")
    missing = [name for name in targets if name not in factors]
    if missing:
        raise ValueError(f"factors must hold the evaluator's regressed factors {targets}; missing {missing}")
    truth = {name: torch.as_tensor(factors[name]).float().reshape(len(factors[name]), -1) for name in targets}
    wrong = {name: tuple(t.shape) for name, t in truth.items() if t.shape[0] != n}
    if wrong:
        raise ValueError(f"factors must have one row per video ({n}), got shapes {wrong}")
    ev_device = next(frame_evaluator.parameters()).device

    def scores(clips: Tensor) -> dict[str, float]:
        read = {name: [] for name in targets}
        for i in range(0, n, batch_size):
            out = frame_evaluator.logits(clips[i:i + batch_size].to(ev_device))
            for name in targets:
                read[name].append(out[name].float().mean(1).cpu())          # (b, T, K) -> mean over frames
        return {name: r2_score(torch.cat(read[name]), truth[name]) for name in targets}

    per_link: dict[str, list[float]] = {name: [] for name in targets}
    device = next(model.parameters()).device
    with evaluating(model), evaluating(frame_evaluator):
        real = scores(videos)
        start = videos[:, :, 0].to(device)
        for _, clip in model.links(n, links, torch.Generator().manual_seed(seed), start=start, sample=sample):
            for name, value in scores(clip).items():
                per_link[name].append(value)
    return {"targets": targets, "real": real, "links": per_link}


def concatenate_independent(clips: Tensor, stride: int) -> Tensor:
    """The naive long video: the first ``stride`` frames of independently generated clips, glued.

    ``clips`` ``(K, C, T_c, H, W)`` → one video ``(1, C, K · stride, H, W)``, or ``(n, K, C, T_c, H, W)``
    → ``n`` videos ``(n, C, K · stride, H, W)``. With the same ``stride`` as the chain, it has the
    same joins as a REncGAN3 video, but nothing links one clip to the next: content and motion jump
    at every join (:func:`long_video_seams` sees it). This is "why not just concatenate".
    """
    check_int("stride", stride, minimum=1)
    if isinstance(clips, torch.Tensor) and clips.ndim == 6:
        n, k = clips.shape[:2]
        check_video(clips.flatten(0, 1), "clips", batched=True)
    else:
        clips = check_video(clips, "clips (K, C, T_c, H, W) or (n, K, C, T_c, H, W)", batched=True)
        clips = clips.unsqueeze(0)
        n, k = clips.shape[:2]
    if clips.shape[3] < stride:
        raise ValueError(f"clips of {clips.shape[3]} frames cannot give stride={stride} frames each")
    c, h, w = clips.shape[2], clips.shape[4], clips.shape[5]
    return clips[:, :, :, :stride].permute(0, 2, 1, 3, 4, 5).reshape(n, c, k * stride, h, w)


def repetition(features: Tensor, window: int = 32, stride: int = 4) -> dict[str, Any]:
    """How soon does the motion repeat itself? For one long video's per-frame features ``(T, D)``
    (e.g. ``frame_evaluator.features(video)[0]``, or a pose), or a single signal ``(T,)``.

    Two views (REncGAN3 claims "consistent movement, which is non-repetitive", abstract and Sec. 4,
    against TATS's repeated movements):

    * :func:`vgan_lesson.data.dancer.closest_repeat` — the smallest RMS distance ``closest`` between
      two non-overlapping windows of ``window`` frames (taken every ``stride`` frames) of the
      standardised features, against ``step``, the RMS change from one frame to the next.
      ``ratio = closest / step``: near 0 when some stretch of the video comes back (a loop), several
      when it never does (the dancer's real pose, a random walk).
    * the autocorrelation (:func:`vgan_lesson.data.dancer.autocorrelation`, averaged over the
      non-constant feature columns) at lags from ``window`` to ``T // 2``: ``lag`` is the lag of its
      highest local peak (``None`` if it has none there), ``peak`` that peak's height. A loop of
      period ``P`` peaks near 1 at ``lag = P``; a non-repeating motion only has low bumps.

    A **frozen** video (features constant over time) has ``step = 0``: it is reported as
    ``frozen=True`` with ``closest = step = ratio = 0`` and no lag — the extreme of repeating.
    Needs ``T >= 2 · window`` (two windows that do not overlap).
    """
    f = check_tensor("features", features, (1, 2), "(T, D) or (T,)")
    f = f.detach().double().cpu()
    if f.ndim == 1:
        f = f.unsqueeze(1)
    t = f.shape[0]
    check_int("window", window, minimum=2)
    check_int("stride", stride, minimum=1)
    if t < 2 * window:
        raise ValueError(f"repetition needs at least 2 * window = {2 * window} frames (two windows that do not "
                         f"overlap), got T={t}")
    if not torch.isfinite(f).all():
        raise ValueError("features contain NaN or inf")
    moving = f.std(0) > 1e-6
    if not moving.any():
        return {"closest": 0.0, "step": 0.0, "ratio": 0.0, "lag": None, "peak": None, "frozen": True}
    closest, step = closest_repeat(f, window, stride)
    moving_f = f[:, moving]
    lags = range(window - 1, min(t // 2 + 1, t - 1) + 1)
    ac = {lag: float(autocorrelation(moving_f, lag).mean()) for lag in lags}
    best_lag, best = None, -math.inf
    for lag in range(window, min(t // 2, t - 2) + 1):
        if ac[lag] >= ac[lag - 1] and ac[lag] > ac[lag + 1] and ac[lag] > best:
            best_lag, best = lag, ac[lag]
    return {"closest": closest, "step": step, "ratio": closest / step if step > 0 else 0.0, "lag": best_lag,
            "peak": best if best_lag is not None else None, "frozen": False}


# ------------------------------------------------------------------------------------------------ memory
def _status_kib(key: str) -> int | None:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``), or None off Linux."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(re.findall(r"\d+", line)[0])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (``VmHWM``) of this process; False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_memory(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """Call ``fn(*args, **kwargs)``; return its result and the peak memory during the call.

    Resident memory (MiB): on Linux the kernel's high-water mark ``VmHWM`` of this process, reset
    just before the call (``/proc/self/clear_refs``), so ``rss_peak_mib`` is the peak *during* the
    call (including what was resident before it, ``rss_before_mib``). Where the reset is refused the
    peak is the process's lifetime peak, and elsewhere ``ru_maxrss`` is used — both meaningful only
    in a **fresh process** running nothing else (``benchmarks/long_video.py`` runs every length in
    its own subprocess). ``rss_method`` says which was used. Not ``ru_maxrss`` on Linux: a child
    started by ``subprocess`` can inherit its parent's peak there (the kernel carries the high-water
    mark across ``vfork`` + ``exec``), so a small child of a big parent would report the parent's.

    CUDA: ``cuda_peak_mib`` is ``torch.cuda.max_memory_allocated`` over the call (``None`` when CUDA
    was not used) — the "GPU memory" of REncGAN3 Sec. 4.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    reset = _reset_peak_rss()
    before = _status_kib("VmRSS")
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    result = fn(*args, **kwargs)
    peak = _status_kib("VmHWM")
    if peak is not None:
        method = "VmHWM, reset before the call" if reset else "VmHWM, since the process started"
    else:
        import resource
        import sys

        raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = raw // 1024 if sys.platform == "darwin" else raw                  # bytes on macOS, KiB on Linux
        method = "ru_maxrss, since the process started"
    cuda_peak = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
        cuda_peak = torch.cuda.max_memory_allocated() / 2**20
    return result, {"rss_before_mib": None if before is None else before / 1024, "rss_peak_mib": peak / 1024,
                    "rss_method": method, "cuda_peak_mib": cuda_peak}


__all__ = [
    "SUFFIXES", "VideoWriter", "NpyWriter", "Mp4Writer", "GifWriter", "open_writer", "LongVideoResult",
    "generate_long", "read_long_video", "long_video_shape", "quality_over_length", "long_video_seams", "look_change",
    "concatenate_independent", "chain_drift", "repetition", "peak_memory",
]
